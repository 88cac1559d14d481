//! What Lambda's SQS event source mappings do: receive batches of up to 10, invoke the
//! function with the SQS event, delete every message it did not report in
//! `batchItemFailures`. Failed ones come back when their visibility ends. A mapping feeds the
//! deliver function from each delivery queue (standard and FIFO), one the dead-letter recorder
//! from each DLQ.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use shared::delivery::{Deliverer, record_dead_letters};
use shared::publish::Notices;
use shared::queue::{QueueConsumer, Received, lambda_event};
use shared::runtime::{RandomIds, SystemClock};
use tokio::sync::Semaphore;

use crate::App;

const BATCH_SIZE: usize = 10;
const WAIT: Duration = Duration::from_secs(1);
/// Batches handled at once, as several concurrent Lambda invocations would.
const CONCURRENT_BATCHES: usize = 4;

/// Feeds both functions from both delivery queues until the process ends. The FIFO queue is
/// read a message at a time, as its trigger's `BatchSize: 1` in `template.yaml`: one of a
/// webhook's deliveries in flight at a time.
pub async fn run(app: Arc<App>) {
    let queues = [(app.queue.clone(), BATCH_SIZE, app.batch_window), (app.fifo_queue.clone(), 1, Duration::ZERO)];
    for ((deliveries, dead_letters), batch, window) in queues {
        if let Some(dead_letters) = dead_letters {
            let recorder = app.clone();
            tokio::spawn(poll(dead_letters, BATCH_SIZE, Duration::ZERO, move |event| {
                let app = recorder.clone();
                async move { record_dead_letters(app.store.as_ref(), event).await }
            }));
        }
        let app = app.clone();
        tokio::spawn(poll(deliveries, batch, window, move |event| {
            let app = app.clone();
            async move {
                let store = app.store.as_ref();
                let queues = app.queues();
                let notices =
                    Notices { store, queue: &queues, ids: &RandomIds, resend_delay: app.delivery.resend_delay };
                let deliverer = Deliverer {
                    store,
                    queue: queues.unordered,
                    fifo_queue: queues.fifo,
                    sender: app.sender.as_ref(),
                    clock: &SystemClock,
                    notices: &notices,
                    settings: &app.delivery,
                };
                deliverer.deliver_batch(event).await
            }
        }));
    }
    std::future::pending::<()>().await;
}

/// Polls `queue`, handing each batch of up to `batch` to `function`, until the process ends; a
/// batch short of it waits up to `window` for more (one more receive), as the batching window
/// does.
async fn poll<Q, F, Fut>(queue: Arc<Q>, batch: usize, window: Duration, function: F)
where
    Q: QueueConsumer + ?Sized + 'static,
    F: Fn(SqsEvent) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = SqsBatchResponse> + Send + 'static,
{
    let (slots, function) = (Arc::new(Semaphore::new(CONCURRENT_BATCHES)), Arc::new(function));
    loop {
        let Ok(slot) = slots.clone().acquire_owned().await else { return };
        let received = match receive_batch(queue.as_ref(), batch, window).await {
            Ok(received) => received,
            Err(err) => {
                tracing::warn!(error = %shared::error::chain(&err), "could not receive from a queue");
                tokio::time::sleep(WAIT).await;
                continue;
            }
        };
        if received.is_empty() {
            continue;
        }
        let (queue, function) = (queue.clone(), function.clone());
        tokio::spawn(async move {
            invoke(queue.as_ref(), function.as_ref(), received).await;
            drop(slot);
        });
    }
}

async fn receive_batch<Q: QueueConsumer + ?Sized>(
    queue: &Q,
    batch: usize,
    window: Duration,
) -> Result<Vec<Received>, shared::Error> {
    let mut received = queue.receive(batch, WAIT).await?;
    if !received.is_empty() && received.len() < batch && !window.is_zero() {
        received.extend(queue.receive(batch - received.len(), window).await?);
    }
    Ok(received)
}

async fn invoke<Q, F, Fut>(queue: &Q, function: &F, received: Vec<Received>)
where
    Q: QueueConsumer + ?Sized,
    F: Fn(SqsEvent) -> Fut,
    Fut: Future<Output = SqsBatchResponse>,
{
    let event = match lambda_event(&received) {
        Ok(event) => event,
        Err(err) => {
            tracing::error!(error = %err, "could not build the SQS event");
            return;
        }
    };
    let response = function(event).await;
    let failed: Vec<&str> = response.batch_item_failures.iter().map(|f| f.item_identifier.as_str()).collect();
    let done: Vec<String> =
        received.into_iter().filter(|m| !failed.contains(&m.message_id.as_str())).map(|m| m.receipt_handle).collect();
    if let Err(err) = queue.delete(&done).await {
        // Undeleted messages are delivered again: at least once, never lost.
        tracing::warn!(error = %shared::error::chain(&err), "could not delete handled messages");
    }
}
