//! Lambda for GET /api/event-types: the event catalog, the defaults with the operator's types.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::serve_api!(shared::api::list_event_types)
}
