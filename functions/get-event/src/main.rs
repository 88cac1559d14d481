//! Lambda for GET /api/managing-entity/{entityId}/event/{eventId}: the event as published and
//! every delivery it planned, with its status.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::aws::serve_api(shared::api::Function::GetEvent).await
}
