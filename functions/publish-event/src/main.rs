//! Lambda for POST /api/managing-entity/{entityId}/event: fans an event out through SQS.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::aws::serve_api(shared::api::Function::PublishEvent).await
}
