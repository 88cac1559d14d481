//! Lambda for POST /api/managing-entity/{entityId}/webhook: creates a webhook subscription.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::aws::serve_api(shared::api::Function::CreateWebhook).await
}
