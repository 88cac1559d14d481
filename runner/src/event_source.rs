//! What Lambda's SQS event source mapping does for the deliver function: receive batches of
//! up to 10, invoke the function with the SQS event, delete every message it did not report
//! in `batchItemFailures`. Failed ones come back when their visibility ends.

use std::sync::Arc;
use std::time::Duration;

use shared::delivery::Deliverer;
use shared::queue::{Received, lambda_event};
use shared::runtime::SystemClock;
use tokio::sync::Semaphore;

use crate::App;

const BATCH_SIZE: usize = 10;
const WAIT: Duration = Duration::from_secs(1);
/// Batches handled at once, as several concurrent Lambda invocations would.
const CONCURRENT_BATCHES: usize = 4;

/// Polls the app's queue until the process ends.
pub async fn run(app: Arc<App>) {
    let slots = Arc::new(Semaphore::new(CONCURRENT_BATCHES));
    loop {
        let Ok(slot) = slots.clone().acquire_owned().await else { return };
        let received = match app.queue.receive(BATCH_SIZE, WAIT).await {
            Ok(received) => received,
            Err(err) => {
                tracing::warn!(error = %shared::error::chain(&err), "could not receive from the delivery queue");
                tokio::time::sleep(WAIT).await;
                continue;
            }
        };
        if received.is_empty() {
            continue;
        }
        let app = app.clone();
        tokio::spawn(async move {
            invoke(&app, received).await;
            drop(slot);
        });
    }
}

async fn invoke(app: &App, received: Vec<Received>) {
    let event = match lambda_event(&received) {
        Ok(event) => event,
        Err(err) => {
            tracing::error!(error = %err, "could not build the SQS event");
            return;
        }
    };
    let deliverer = Deliverer {
        store: app.store.as_ref(),
        queue: app.queue.as_ref(),
        sender: app.sender.as_ref(),
        clock: &SystemClock,
        schedule: &app.delivery.schedule,
    };
    let response = deliverer.deliver_batch(event).await;
    let failed: Vec<&str> = response.batch_item_failures.iter().map(|f| f.item_identifier.as_str()).collect();
    let done: Vec<String> =
        received.into_iter().filter(|m| !failed.contains(&m.message_id.as_str())).map(|m| m.receipt_handle).collect();
    if let Err(err) = app.queue.delete(&done).await {
        // Undeleted messages are delivered again: at least once, never lost.
        tracing::warn!(error = %shared::error::chain(&err), "could not delete handled messages");
    }
}
