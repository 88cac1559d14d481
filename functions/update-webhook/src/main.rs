//! Lambda for PUT and PATCH /api/managing-entity/{entityId}/webhook/{webhookId}, version-guarded.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::aws::serve_api(shared::api::Function::UpdateWebhook).await
}
