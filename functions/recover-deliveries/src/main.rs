//! Lambda for POST .../webhook/{webhookId}/recover: every delivery of a window in the given statuses sent again, oldest first.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::aws::serve_api(shared::api::Function::RecoverDeliveries).await
}
