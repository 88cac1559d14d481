//! Lambda for GET /api/managing-entity/{entityId}/webhook/{webhookId}/deliveries: the attempt log.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::aws::serve_api(shared::api::Function::ListDeliveries).await
}
