//! Lambda on the dead-letter queue: a delivery whose message crashed the deliver function
//! repeatedly is recorded as failed, `dead-lettered`.

use aws_lambda_events::event::sqs::SqsEvent;
use lambda_runtime::{Error, LambdaEvent, run, service_fn};
use shared::delivery::record_dead_letters;
use shared::{aws, telemetry};

#[tokio::main]
async fn main() -> Result<(), Error> {
    telemetry::init();
    let store = aws::dynamo_store(&aws::sdk_config().await)?;
    run(service_fn(|event: LambdaEvent<SqsEvent>| async {
        Ok::<_, Error>(record_dead_letters(&store, event.payload).await)
    }))
    .await
}
