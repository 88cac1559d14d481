//! Lambda for GET /api/event-types: the event catalog, the defaults with the operator's types.

use lambda_http::{Error, run, service_fn};
use shared::{api, aws, runtime::Context, telemetry};

#[tokio::main]
async fn main() -> Result<(), Error> {
    telemetry::init();
    let ctx = Context::from_env()?;
    let store = aws::dynamo_store(&aws::sdk_config().await)?;
    run(service_fn(|request| async {
        Ok::<_, Error>(
            api::limited(&ctx, &store, request, |request| api::list_event_types(&ctx, &store, request)).await,
        )
    }))
    .await
}
