//! Lambda for POST .../webhook/{webhookId}/secret/rotate: a new signing secret, the previous
//! one still signing for the overlap.

use lambda_http::{Error, run, service_fn};
use shared::{api, aws, runtime::Context, telemetry};

#[tokio::main]
async fn main() -> Result<(), Error> {
    telemetry::init();
    let ctx = Context::from_env()?;
    let store = aws::dynamo_store(&aws::sdk_config().await)?;
    run(service_fn(|request| async {
        Ok::<_, Error>(api::limited(&ctx, &store, request, |request| api::rotate_secret(&ctx, &store, request)).await)
    }))
    .await
}
