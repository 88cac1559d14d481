//! Lambda for POST /api/managing-entity/{entityId}/event: fans an event out through SQS.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::serve_api!(shared::api::publish_event, queue)
}
