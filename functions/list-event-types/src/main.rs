//! Lambda for GET /api/event-types: the event catalog.

use lambda_http::{Error, run, service_fn};
use shared::{api, runtime::Context, telemetry};

#[tokio::main]
async fn main() -> Result<(), Error> {
    telemetry::init();
    let ctx = Context::from_env()?;
    run(service_fn(|request| async { Ok::<_, Error>(api::list_event_types(&ctx, request).await) })).await
}
