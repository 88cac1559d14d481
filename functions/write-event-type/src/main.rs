//! Lambda for PUT and DELETE /api/event-types/{name}: the operator creates, replaces and
//! archives event types (scope `event-types:write`).

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::aws::serve_api(shared::api::Function::WriteEventType).await
}
