//! Lambda for POST /api/managing-entity/{entityId}/webhook/{webhookId}/test: one signed attempt.

use lambda_http::{Error, run, service_fn};
use shared::{api, aws, delivery::DeliverySettings, runtime::Context, telemetry};

#[tokio::main]
async fn main() -> Result<(), Error> {
    telemetry::init();
    let ctx = Context::from_env()?;
    let sender = DeliverySettings::from_env()?.sender()?;
    let store = aws::dynamo_store(&aws::sdk_config().await)?;
    run(service_fn(|request| async {
        Ok::<_, Error>(
            api::limited(&ctx, &store, request, |request| api::test_webhook(&ctx, &store, &sender, request)).await,
        )
    }))
    .await
}
