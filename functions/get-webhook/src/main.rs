//! Lambda for GET /api/managing-entity/{entityId}/webhook/{webhookId}.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::aws::serve_api(|deps, request| shared::api::get_webhook(&deps.ctx, &deps.store, request)).await
}
