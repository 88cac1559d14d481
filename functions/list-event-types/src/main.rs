//! Lambda for GET /api/event-types: the event catalog, the defaults with the operator's types.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::aws::serve_api(shared::api::Function::ListEventTypes).await
}
