//! Lambda on the delivery queues (standard and FIFO): signed POSTs, each wait a delayed message
//! (EventBridge Scheduler past SQS's 15 minutes), partial batch failures.

use aws_lambda_events::event::sqs::SqsEvent;
use lambda_runtime::{Error, LambdaEvent, run, service_fn};
use shared::{aws, metrics, telemetry};

#[tokio::main]
async fn main() -> Result<(), Error> {
    telemetry::init();
    let config = aws::sdk_config().await;
    let (deps, timer) = (aws::deps(&config)?, aws::scheduler_timer(&config)?);
    let deliverer = deps.deliverer(&timer)?;
    run(service_fn(|event: LambdaEvent<SqsEvent>| async {
        Ok::<_, Error>(metrics::flushed(deliverer.deliver_batch(event.payload)).await)
    }))
    .await
}
