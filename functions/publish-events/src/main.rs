//! Lambda for POST /api/managing-entity/{entityId}/events: publishes a batch of up to 100 events.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::aws::serve_api(shared::api::Function::PublishEvents).await
}
