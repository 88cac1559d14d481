//! What Lambda's SQS event source mappings do: receive batches of up to 10, invoke the
//! function with the SQS event, delete every message it did not report in
//! `batchItemFailures`. Failed ones come back when their visibility ends. A mapping feeds the
//! deliver function from each delivery queue (standard and FIFO), one the dead-letter recorder
//! from each DLQ, one the ingest function from the ingest queue.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use shared::delivery::record_dead_letters;
use shared::ingest::{IngestQueues, ingest_batch};
use shared::queue::{QueueConsumer, Received, lambda_event};

use crate::App;

const BATCH_SIZE: usize = 10;
const WAIT: Duration = Duration::from_secs(1);

/// How a trigger reads its queue: batches of up to `batch`, a batch short of it waiting up to
/// `window` for more, each receive waiting up to `wait` for a first message.
#[derive(Clone, Copy)]
struct Polling {
    batch: usize,
    window: Duration,
    wait: Duration,
}

/// The dead-letter queues'.
const DEAD_LETTERS: Polling = Polling { batch: BATCH_SIZE, window: Duration::ZERO, wait: WAIT };
/// The ingest queue's, as its trigger in `template.yaml`.
const INGEST: Polling = Polling { batch: BATCH_SIZE, window: Duration::ZERO, wait: WAIT };
/// The FIFO queue's: a message at a time, as its trigger's `BatchSize: 1` in `template.yaml`.
const FIFO: Polling = Polling { batch: 1, window: Duration::ZERO, wait: WAIT };
/// Pollers per queue, as Lambda runs several: each receives a batch, hands it to the function
/// and waits for the answer before it receives again, so they are also the batches handled at
/// once. With several receives waiting, a message on a quiet queue waits for the first of them.
const POLLERS: u32 = 4;
/// Between one poller's first receive and the next one's. Against SQS, a waiting receive
/// answers as a message arrives; the SQS emulator looks at its queue every 100 ms while a
/// receive waits, and pollers a quarter of that apart find a message up to four times sooner
/// (they start so; handling batches moves them about, which on average still spreads them).
const STAGGER: Duration = Duration::from_millis(25);

/// Feeds the deliver function and the dead-letter recorder from both delivery queues, and the
/// ingest function from the ingest queue, until the process ends.
pub async fn run(app: Arc<App>) {
    let standard = Polling { batch: BATCH_SIZE, window: app.batch_window, wait: WAIT };
    let queues = [(app.queue.clone(), standard), (app.fifo_queue.clone(), FIFO)];
    for ((deliveries, dead_letters), polling) in queues {
        if let Some(dead_letters) = dead_letters {
            let recorder = app.clone();
            poll(dead_letters, DEAD_LETTERS, move |event| {
                let app = recorder.clone();
                async move { record_dead_letters(app.deps.store.as_ref(), app.deps.unordered.as_ref(), event).await }
            });
        }
        let app = app.clone();
        poll(deliveries, polling, move |event| {
            let app = app.clone();
            async move {
                match app.deps.deliverer(app.timer.as_ref()) {
                    Ok(deliverer) => deliverer.deliver_batch(event).await,
                    // Made when the app starts, so not seen: every message comes back.
                    Err(err) => {
                        tracing::error!(error = %shared::error::chain(&err), "no deliverer");
                        every_message_failed(&event)
                    }
                }
            }
        });
    }
    let ingest = app.ingest.clone();
    poll(ingest.queue.clone(), INGEST, move |event| {
        let (app, ingest) = (app.clone(), ingest.clone());
        async move {
            let queues = IngestQueues {
                ingest: ingest.queue.as_ref(),
                refused: ingest.dead_letters.as_ref(),
                deliveries: app.deps.queues(),
            };
            ingest_batch(&app.deps.ctx, app.deps.store.as_ref(), &queues, event).await
        }
    });
    std::future::pending::<()>().await;
}

/// The answer that keeps every message of `event` on its queue.
fn every_message_failed(event: &SqsEvent) -> SqsBatchResponse {
    let mut response = SqsBatchResponse::default();
    for record in &event.records {
        response.add_failure(record.message_id.clone().unwrap_or_default());
    }
    response
}

/// Starts `POLLERS` pollers of `queue`, polling as `polling` says and handing each batch to
/// `function` until the process ends.
fn poll<Q, F, Fut>(queue: Arc<Q>, polling: Polling, function: F)
where
    Q: QueueConsumer + ?Sized + 'static,
    F: Fn(SqsEvent) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = SqsBatchResponse> + Send + 'static,
{
    let function = Arc::new(function);
    for n in 0..POLLERS {
        let (queue, function) = (queue.clone(), function.clone());
        tokio::spawn(async move {
            tokio::time::sleep(STAGGER * n).await;
            loop {
                match receive_batch(queue.as_ref(), polling).await {
                    Ok(received) if received.is_empty() => {}
                    Ok(received) => invoke(queue.as_ref(), function.as_ref(), received).await,
                    Err(err) => {
                        tracing::warn!(error = %shared::error::chain(&err), "could not receive from a queue");
                        tokio::time::sleep(WAIT).await;
                    }
                }
            }
        });
    }
}

/// A batch short of `polling.batch` waits up to its window for more (one more receive), as the
/// batching window does.
async fn receive_batch<Q: QueueConsumer + ?Sized>(queue: &Q, polling: Polling) -> Result<Vec<Received>, shared::Error> {
    let mut received = queue.receive(polling.batch, polling.wait).await?;
    if !received.is_empty() && received.len() < polling.batch && !polling.window.is_zero() {
        received.extend(queue.receive(polling.batch - received.len(), polling.window).await?);
    }
    Ok(received)
}

async fn invoke<Q, F, Fut>(queue: &Q, function: &F, received: Vec<Received>)
where
    Q: QueueConsumer + ?Sized,
    F: Fn(SqsEvent) -> Fut,
    Fut: Future<Output = SqsBatchResponse>,
{
    let response = function(lambda_event(&received, &queue.arn())).await;
    let failed: Vec<&str> = response.batch_item_failures.iter().map(|f| f.item_identifier.as_str()).collect();
    let done: Vec<String> =
        received.into_iter().filter(|m| !failed.contains(&m.message_id.as_str())).map(|m| m.receipt_handle).collect();
    if let Err(err) = queue.delete(&done).await {
        // Undeleted messages are delivered again: at least once, never lost.
        tracing::warn!(error = %shared::error::chain(&err), "could not delete handled messages");
    }
}
