//! Lambda for DELETE /api/managing-entity/{entityId}/webhook/{webhookId}.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::aws::serve_api(shared::api::Function::DeleteWebhook).await
}
