//! Lambda for GET /api/managing-entity/{entityId}/webhook: lists webhooks a page at a time.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::aws::serve_api(shared::api::Function::ListWebhooks).await
}
