//! Lambda for GET .../webhook/{webhookId}/stats: counts, success rate, latency and an hourly
//! series of the webhook's deliveries.

use lambda_http::{Error, run, service_fn};
use shared::{api, aws, runtime::Context, telemetry};

#[tokio::main]
async fn main() -> Result<(), Error> {
    telemetry::init();
    let ctx = Context::from_env()?;
    let store = aws::dynamo_store(&aws::sdk_config().await)?;
    run(service_fn(|request| async {
        Ok::<_, Error>(api::limited(&ctx, &store, request, |request| api::webhook_stats(&ctx, &store, request)).await)
    }))
    .await
}
