//! Lambda on the delivery queues (standard and FIFO): signed POSTs, each wait a delayed message
//! (EventBridge Scheduler past SQS's 15 minutes), partial batch failures.

use aws_lambda_events::event::sqs::SqsEvent;
use lambda_runtime::{Error, LambdaEvent, run, service_fn};
use shared::delivery::{Deliverer, DeliverySettings};
use shared::publish::Notices;
use shared::queue::Routed;
use shared::runtime::{RandomIds, SystemClock};
use shared::{aws, telemetry};

#[tokio::main]
async fn main() -> Result<(), Error> {
    telemetry::init();
    let settings = DeliverySettings::from_env()?;
    let sender = settings.sender()?;
    let config = aws::sdk_config().await;
    let (store, (unordered, fifo)) = (aws::dynamo_store(&config)?, aws::sqs_queues(&config)?);
    let timer = aws::scheduler_timer(&config)?;
    let queues = Routed { unordered: &unordered, fifo: &fifo };
    let notices = Notices { store: &store, queue: &queues, ids: &RandomIds, resend_delay: settings.resend_delay };
    let (clock, ids, settings) = (&SystemClock, &RandomIds, &settings);
    let deliverer =
        Deliverer { store: &store, queues, timer: &timer, sender: &sender, clock, ids, notices: &notices, settings };
    run(service_fn(|event: LambdaEvent<SqsEvent>| async {
        Ok::<_, Error>(deliverer.deliver_batch(event.payload).await)
    }))
    .await
}
