//! Lambda for POST /api/managing-entity/{entityId}/event: fans an event out through SQS.

use lambda_http::{Error, run, service_fn};
use shared::queue::Routed;
use shared::{api, aws, runtime::Context, telemetry};

#[tokio::main]
async fn main() -> Result<(), Error> {
    telemetry::init();
    let ctx = Context::from_env()?;
    let config = aws::sdk_config().await;
    let (store, (unordered, fifo)) = (aws::dynamo_store(&config)?, aws::sqs_queues(&config)?);
    let queue = Routed { unordered: &unordered, fifo: &fifo };
    run(service_fn(|request| async {
        Ok::<_, Error>(
            api::limited(&ctx, &store, request, |request| api::publish_event(&ctx, &store, &queue, request)).await,
        )
    }))
    .await
}
