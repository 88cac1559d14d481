//! Lambda on the ingest queue: platform backends publish by sending events to it, each taken as
//! the publish route takes one; a refused one is recorded and kept on the ingest dead-letter
//! queue with why.

use aws_lambda_events::event::sqs::SqsEvent;
use lambda_runtime::{Error, LambdaEvent, run, service_fn};
use shared::ingest::{IngestQueues, ingest_batch};
use shared::{aws, metrics, telemetry};

#[tokio::main]
async fn main() -> Result<(), Error> {
    telemetry::init();
    let config = aws::sdk_config().await;
    let (deps, (ingest, refused)) = (aws::deps(&config)?, aws::ingest_queues(&config)?);
    let queues = IngestQueues { ingest: &ingest, refused: &refused, deliveries: deps.queues() };
    run(service_fn(|event: LambdaEvent<SqsEvent>| async {
        Ok::<_, Error>(metrics::flushed(ingest_batch(&deps.ctx, deps.store.as_ref(), &queues, event.payload)).await)
    }))
    .await
}
