//! The dead-letter queues' consumer: a delivery whose message crashed the deliver function
//! `MAX_RECEIVES` times (or whose timer could not reach the queue for a day) still ends in a
//! record, `failed` with the error `dead-lettered`, so that every planned delivery ends in one
//! (docs/contract.md section 6); so does every unstarted delivery of a dead-lettered fan-out page.
//! A FIFO delivery's message is sent back once recorded: the webhook's later messages may wait
//! behind it (`super::fifo`), and, finished, it lets them go.

use std::time::Duration;

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent, SqsMessage};
use futures::future::join_all;

use crate::error::Error;
use crate::model::{DeliveryMessage, DeliveryStatus, FanOutPage, QueueMessage, RecoveryPage};
use crate::publish::page_targets;
use crate::queue::DeliveryEnqueue;
use crate::store::{DeliveryGet, DeliveryRecord, DeliveryStats, EventGet, Recorded, Tally};

/// The error of a delivery recorded from the dead-letter queue.
pub(crate) const DEAD_LETTERED: &str = "dead-lettered";

/// Lambda's SQS handler on the dead-letter queues: records each message's delivery as failed
/// unless it has finished, and keeps on the queue (as batch item failures) the messages it
/// could not record, so that they are tried again and the queue's alarm sees them. `queue` is
/// the standard delivery queue.
pub async fn record_dead_letters<S>(store: &S, queue: &dyn DeliveryEnqueue, event: SqsEvent) -> SqsBatchResponse
where
    S: DeliveryGet + DeliveryRecord + DeliveryStats + EventGet + ?Sized,
{
    let tally = Tally::new(store);
    let outcomes = join_all(event.records.iter().map(|record| record_one(store, queue, &tally, record))).await;
    tally.flush().await;
    let mut response = SqsBatchResponse::default();
    for (record, outcome) in event.records.iter().zip(outcomes) {
        if let Err(err) = outcome {
            let id = record.message_id.clone().unwrap_or_default();
            tracing::error!(message_id = %id, error = %crate::error::chain(&err), "dead letter not recorded");
            response.add_failure(id);
        }
    }
    response
}

#[tracing::instrument(skip_all, fields(message_id = record.message_id.as_deref().unwrap_or("")))]
async fn record_one<S>(
    store: &S,
    queue: &dyn DeliveryEnqueue,
    tally: &Tally<'_, S>,
    record: &SqsMessage,
) -> Result<(), Error>
where
    S: DeliveryGet + DeliveryRecord + DeliveryStats + EventGet + ?Sized,
{
    let body = record.body.as_deref().unwrap_or_default();
    let message = QueueMessage::from_body(body)?;
    match message {
        QueueMessage::Delivery(message) => {
            record_failed(store, tally, &message).await?;
            if message.fifo {
                queue.enqueue(&[DeliveryMessage { deferrals: 0, ..message }.into()], Duration::ZERO).await?;
            }
            Ok(())
        }
        QueueMessage::FanOut { fan_out } => record_page(store, tally, &fan_out).await,
        QueueMessage::Recovery { recovery } => {
            // The deliveries it did not reach keep their status, and the ones it resent say so.
            let RecoveryPage { webhook_id, after, .. } = recovery;
            tracing::error!(%webhook_id, ?after, "a recovery page was dead-lettered: the rest of its window was not resent");
            Ok(())
        }
    }
}

/// Records `message`'s delivery as failed, dead-lettered, unless it has finished.
async fn record_failed<S>(store: &S, tally: &Tally<'_, S>, message: &DeliveryMessage) -> Result<(), Error>
where
    S: DeliveryGet + DeliveryRecord + DeliveryStats + ?Sized,
{
    let (webhook_id, delivery_id) = (message.webhook_id, message.delivery_id);
    let state = store.delivery_state(webhook_id, delivery_id).await?;
    if let Some(state) = state.filter(|s| s.status != DeliveryStatus::Pending) {
        tracing::info!(%webhook_id, %delivery_id, status = ?state.status, "dead letter of a finished delivery");
        return Ok(());
    }
    let mut step = message.step(state.map_or(1, |s| s.step + 1), DeliveryStatus::Failed);
    step.plan = message.plan;
    step.error = Some(DEAD_LETTERED.into());
    match tally.record(&step).await? {
        Recorded::Written => {
            tracing::warn!(%webhook_id, %delivery_id, step = step.step, "delivery dead-lettered: recorded as failed");
            Ok(())
        }
        // A late deliver invocation recorded a step meanwhile: read again on the next receive.
        Recorded::Stale => Err(Error::unavailable("the delivery moved on while its dead letter was recorded")),
    }
}

/// Records every delivery of the page that has not started as failed, dead-lettered.
async fn record_page<S>(store: &S, tally: &Tally<'_, S>, page: &FanOutPage) -> Result<(), Error>
where
    S: DeliveryGet + DeliveryRecord + DeliveryStats + EventGet + ?Sized,
{
    let Some(messages) = page_targets(store, page).await? else { return Ok(()) };
    for message in &messages {
        record_failed(store, tally, message).await?;
    }
    tracing::warn!(event_id = %page.event_id, page = page.page, deliveries = messages.len(), "a fan-out page was dead-lettered");
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;
    use crate::model::{Attempt, Timestamp};
    use crate::store::{DeliveryList, MemoryStore, PageRequest};

    /// The sample event, its body replaced by `body` when given, and the message it carries.
    fn dead_letter(body: Option<&str>) -> (SqsEvent, Option<DeliveryMessage>) {
        let mut event: Value =
            serde_json::from_str(include_str!("../../../events/record-dead-letters.json")).expect("fixture");
        if let Some(body) = body {
            event["Records"][0]["body"] = json!(body);
        }
        let message = serde_json::from_str(event["Records"][0]["body"].as_str().unwrap_or("")).ok();
        (serde_json::from_value(event).expect("lambda's SQS event"), message)
    }

    fn queue() -> crate::queue::MemoryQueue {
        crate::queue::MemoryQueue::new(std::time::Duration::from_secs(60))
    }

    async fn stored(store: &MemoryStore, message: &DeliveryMessage) -> crate::model::Delivery {
        let page = store.list_deliveries(message.webhook_id, PageRequest { limit: 1, after: None }, None).await;
        page.expect("list").items.into_iter().next().expect("a record")
    }

    #[tokio::test]
    async fn a_delivery_that_never_recorded_a_step_ends_failed_dead_lettered() {
        let store = MemoryStore::new();
        let (event, message) = dead_letter(None);
        let message = message.expect("the sample's message");
        assert!(record_dead_letters(&store, &queue(), event).await.batch_item_failures.is_empty());
        let delivery = stored(&store, &message).await;
        assert_eq!((delivery.status, delivery.last_error.as_deref()), (DeliveryStatus::Failed, Some(DEAD_LETTERED)));
        assert!(delivery.attempts.is_empty(), "no attempt is invented");
    }

    #[tokio::test]
    async fn attempts_already_recorded_are_kept_and_a_finished_delivery_left_alone() {
        let store = MemoryStore::new();
        let (event, message) = dead_letter(None);
        let message = message.expect("the sample's message");
        let mut first = message.step(1, DeliveryStatus::Pending);
        let at = Timestamp::new(chrono::Utc::now());
        first.attempt =
            Some(Attempt { attempt: 1, at, status_code: Some(503), duration_ms: 4, error: None, response_body: None });
        store.record_step(&first).await.expect("record");
        assert!(record_dead_letters(&store, &queue(), event.clone()).await.batch_item_failures.is_empty());
        let delivery = stored(&store, &message).await;
        assert_eq!((delivery.status, delivery.attempts.len()), (DeliveryStatus::Failed, 1));
        assert_eq!(delivery.last_error.as_deref(), Some(DEAD_LETTERED));
        // The same dead letter again (SQS delivers at least once): nothing changes.
        assert!(record_dead_letters(&store, &queue(), event).await.batch_item_failures.is_empty());
        let state = store.delivery_state(message.webhook_id, message.delivery_id).await.expect("state");
        assert_eq!(state.map(|s| s.step), Some(2), "no step after the one that finished it");
    }

    #[tokio::test]
    async fn an_unreadable_dead_letter_stays_on_the_queue() {
        let store = MemoryStore::new();
        let (event, _) = dead_letter(Some("not json"));
        assert_eq!(record_dead_letters(&store, &queue(), event).await.batch_item_failures.len(), 1);
    }
}
