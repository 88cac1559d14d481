//! Lambda for PUT and DELETE /api/event-types/{name}: the operator creates, replaces and
//! archives event types (scope `event-types:write`).

use lambda_http::{Error, run, service_fn};
use shared::{api, aws, runtime::Context, telemetry};

#[tokio::main]
async fn main() -> Result<(), Error> {
    telemetry::init();
    let ctx = Context::from_env()?;
    let store = aws::dynamo_store(&aws::sdk_config().await)?;
    run(service_fn(|request| async {
        Ok::<_, Error>(
            api::limited(&ctx, &store, request, |request| api::write_event_type(&ctx, &store, request)).await,
        )
    }))
    .await
}
