//! Lambda for POST /api/managing-entity/{entityId}/webhook/{webhookId}/test: one signed attempt.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::aws::serve_api(shared::api::Function::TestWebhook).await
}
