//! Lambda for GET /api/managing-entity/{entityId}/refused-events: the entity's events the
//! ingest queue refused, with why.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::aws::serve_api(shared::api::Function::ListRefusedEvents).await
}
