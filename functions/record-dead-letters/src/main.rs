//! Lambda on the dead-letter queues: a delivery whose message crashed the deliver function
//! repeatedly is recorded as failed, `dead-lettered`; a FIFO one's message goes back, to let the
//! webhook's later messages go.

use aws_lambda_events::event::sqs::SqsEvent;
use lambda_runtime::{Error, LambdaEvent, run, service_fn};
use shared::delivery::record_dead_letters;
use shared::{aws, metrics, telemetry};

#[tokio::main]
async fn main() -> Result<(), Error> {
    telemetry::init();
    let config = aws::sdk_config().await;
    let deps = aws::deps(&config)?;
    run(service_fn(|event: LambdaEvent<SqsEvent>| async {
        Ok::<_, Error>(
            metrics::flushed(record_dead_letters(deps.store.as_ref(), deps.unordered.as_ref(), event.payload)).await,
        )
    }))
    .await
}
