//! Lambda for GET /api/managing-entity/{entityId}/webhook/{webhookId}/deliveries: the attempt log.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::aws::serve_api(|deps, request| shared::api::list_deliveries(&deps.ctx, &deps.store, request)).await
}
