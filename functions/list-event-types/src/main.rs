//! Lambda for GET /api/event-types: the event catalog, the defaults with the operator's types.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::aws::serve_api(|deps, request| shared::api::list_event_types(&deps.ctx, &deps.store, request)).await
}
