//! The delivery queues. Publishing enqueues; the deliver function sends a delivery's next
//! attempt as a new message, delayed for its wait (`Timer` for waits past SQS's longest
//! delay); the consumer side is what Lambda's event source mapping does, used by the local
//! runner. `MemoryQueue` and `SqsQueue` behave alike: a received message reappears after its
//! visibility timeout unless deleted, and counts how often it was received; the standard
//! queue serves its message groups (tenants) in fair shares, the FIFO queue each group in order.

mod error;
mod memory;
mod scheduler;
mod sqs;
mod timer;

use std::collections::HashMap;
use std::time::Duration;

use async_trait::async_trait;
use aws_lambda_events::event::sqs::{SqsEvent, SqsMessage};

pub use error::QueueError;
pub use memory::{MemoryQueue, QueueDepths};
pub use scheduler::SchedulerTimer;
pub use sqs::SqsQueue;
pub use timer::{MemoryTimer, TIMER_LEAD, Timer};

use crate::model::QueueMessage;

/// SQS's longest delay of a message sent.
pub(crate) const MAX_SEND_DELAY: Duration = Duration::from_secs(900);

/// SQS's largest message, and largest `SendMessageBatch` (both 1 MiB since 2025). A publish body
/// is at most 256 KiB (docs/contract.md 7), so every message of an event the API accepts fits,
/// escaped (`message_body`) and with the message's own fields.
pub(crate) const MAX_MESSAGE_BYTES: usize = 1024 * 1024;

/// `SendMessageBatch`'s and `DeleteMessageBatch`'s limit.
pub(crate) const ENQUEUE_BATCH: usize = 10;

/// What a queue holds besides each message's body (its group and deduplication ids, request
/// framing), kept free in every batch.
const BATCH_OVERHEAD_BYTES: usize = 1024;

#[async_trait]
pub trait DeliveryEnqueue: Send + Sync {
    /// Sends `messages`, each first received once `delay` (at most `MAX_SEND_DELAY`; none on a
    /// FIFO queue) has passed.
    async fn enqueue(&self, messages: &[QueueMessage], delay: Duration) -> Result<(), QueueError>;
}

#[async_trait]
pub trait VisibilityDelay: Send + Sync {
    /// Hides a received message for `delay`, after which it is received again: what a FIFO
    /// message, which must keep its place, does while the store is unreachable.
    async fn delay_message(&self, receipt_handle: &str, delay: Duration) -> Result<(), QueueError>;
}

/// Sends a message whose body someone else wrote: a platform backend's event to the ingest
/// queue (the tests and the bench, as one would), a refused one kept on its dead-letter queue.
#[async_trait]
pub trait RawSend: Send + Sync {
    /// Sends `body` as it is, in message group `group` when given (SQS fair queues share the
    /// queue among groups), with the string message attributes `attributes`.
    async fn send_raw(&self, body: &str, group: Option<&str>, attributes: &[(&str, &str)]) -> Result<(), QueueError>;
}

/// A message as a consumer receives it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Received {
    pub message_id: String,
    pub receipt_handle: String,
    pub body: String,
    /// 1 on the first receive (SQS's `ApproximateReceiveCount`; not the attempt number).
    pub receive_count: u32,
    pub sent_at_millis: i64,
    pub group: Option<String>,
    /// Its place in its group, on a FIFO queue (SQS's `SequenceNumber`).
    pub sequence: Option<String>,
}

#[async_trait]
pub trait QueueConsumer: Send + Sync {
    /// Up to `max` visible messages, waiting up to `wait` for the first; each is then hidden
    /// for the queue's visibility timeout.
    async fn receive(&self, max: usize, wait: Duration) -> Result<Vec<Received>, QueueError>;
    async fn delete(&self, receipt_handles: &[String]) -> Result<(), QueueError>;
    /// The queue's ARN, as Lambda's SQS event names the queue a message came from.
    fn arn(&self) -> String;
    /// How many messages it holds, by state (SQS's `ApproximateNumberOf...` attributes).
    async fn depths(&self) -> Result<QueueDepths, QueueError>;
}

/// What a sender of deliveries uses of a queue.
pub trait DeliveryQueue: DeliveryEnqueue + VisibilityDelay {}

impl<T: DeliveryEnqueue + VisibilityDelay + ?Sized> DeliveryQueue for T {}

/// The two delivery queues: a FIFO webhook's messages go to the FIFO queue, grouped by
/// webhook (docs/contract.md 14), every other to the standard one, grouped by tenant.
#[derive(Clone, Copy)]
pub struct Routed<'a> {
    pub unordered: &'a dyn DeliveryQueue,
    pub fifo: &'a dyn DeliveryQueue,
}

#[async_trait]
impl DeliveryEnqueue for Routed<'_> {
    async fn enqueue(&self, messages: &[QueueMessage], delay: Duration) -> Result<(), QueueError> {
        let (fifo, unordered): (Vec<_>, Vec<_>) = messages.iter().cloned().partition(QueueMessage::fifo);
        for (queue, messages) in [(self.unordered, unordered), (self.fifo, fifo)] {
            if !messages.is_empty() {
                queue.enqueue(&messages, delay).await?;
            }
        }
        Ok(())
    }
}

/// Every queue operation: what the local runner holds.
pub trait Queue: DeliveryQueue + QueueConsumer {}

impl<T: DeliveryQueue + QueueConsumer> Queue for T {}

/// How a queue keeps its messages: the runner makes its queues with these, as `template.yaml`
/// makes the deployed ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueueConfig {
    /// How long a received message stays hidden before it is received again.
    pub visibility_timeout: Duration,
    /// Receives after which a message moves to the dead-letter queue.
    pub max_receives: u32,
    /// How long a message is kept; SQS deletes an older one without dead-lettering it.
    pub retention: Duration,
}

/// SQS's longest retention, which the delivery queues keep.
pub const MAX_RETENTION: Duration = Duration::from_secs(14 * 86_400);

/// JSON text as SQS takes it in a body or an attribute: the two characters it refuses (U+FFFE,
/// U+FFFF) escaped, which any JSON reader reads back.
pub(crate) fn sqs_json(text: String) -> String {
    if text.contains(['\u{fffe}', '\u{ffff}']) {
        text.replace('\u{fffe}', "\\ufffe").replace('\u{ffff}', "\\uffff")
    } else {
        text
    }
}

/// A message's body as SQS takes it: the two characters of JSON strings SQS refuses (U+FFFE,
/// U+FFFF) escaped, which any JSON reader reads back; refused when over `MAX_MESSAGE_BYTES`.
pub(crate) fn message_body(message: &QueueMessage) -> Result<String, QueueError> {
    let body = sqs_json(serde_json::to_string(message).map_err(QueueError::internal)?);
    if body.len() > MAX_MESSAGE_BYTES - BATCH_OVERHEAD_BYTES {
        return Err(QueueError::TooLarge { limit: MAX_MESSAGE_BYTES });
    }
    Ok(body)
}

/// The messages with their bodies, in `SendMessageBatch`es: at most `ENQUEUE_BATCH` messages
/// and `MAX_MESSAGE_BYTES` in all each, in order.
fn batches(messages: &[QueueMessage]) -> Result<Vec<Vec<(&QueueMessage, String)>>, QueueError> {
    let mut batches: Vec<Vec<(&QueueMessage, String)>> = Vec::new();
    let mut bytes = 0;
    for message in messages {
        let body = message_body(message)?;
        let fits = batches.last().is_some_and(|batch| {
            batch.len() < ENQUEUE_BATCH && bytes + body.len() + BATCH_OVERHEAD_BYTES <= MAX_MESSAGE_BYTES
        });
        if !fits {
            batches.push(Vec::new());
            bytes = 0;
        }
        bytes += body.len() + BATCH_OVERHEAD_BYTES;
        if let Some(batch) = batches.last_mut() {
            batch.push((message, body));
        }
    }
    Ok(batches)
}

/// Whether `messages` go in one `SendMessageBatch`.
pub(crate) fn fits_one_batch(messages: &[QueueMessage]) -> Result<bool, QueueError> {
    Ok(batches(messages)?.len() <= 1)
}

/// The event Lambda's SQS trigger would pass for `received` from the queue `source_arn`: the
/// record shape, attributes included. The runner's trigger and the tests hand it to the
/// deliver handler.
pub fn lambda_event(received: &[Received], source_arn: &str) -> SqsEvent {
    let now = chrono::Utc::now().timestamp_millis().to_string();
    let mut event = SqsEvent::default();
    event.records = received
        .iter()
        .map(|m| {
            let mut attributes = HashMap::from([
                ("ApproximateReceiveCount".to_string(), m.receive_count.to_string()),
                ("SentTimestamp".to_string(), m.sent_at_millis.to_string()),
                ("SenderId".to_string(), "local".to_string()),
                ("ApproximateFirstReceiveTimestamp".to_string(), now.clone()),
            ]);
            if let Some(group) = &m.group {
                attributes.insert("MessageGroupId".into(), group.clone());
            }
            if let Some(sequence) = &m.sequence {
                attributes.insert("SequenceNumber".into(), sequence.clone());
            }
            // Set field by field: the record type may gain fields (`non_exhaustive`).
            let mut record = SqsMessage::default();
            record.message_id = Some(m.message_id.clone());
            record.receipt_handle = Some(m.receipt_handle.clone());
            record.body = Some(m.body.clone());
            record.attributes = attributes;
            record.md5_of_body = Some(String::new());
            record.event_source = Some("aws:sqs".into());
            record.event_source_arn = Some(source_arn.into());
            record.aws_region = Some("local".into());
            record
        })
        .collect();
    event
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;
    use crate::model::{CarriedEvent, DeliveryMessage, EntityId, Event, EventData, Timestamp, WebhookId};

    fn carrying(data: Value) -> QueueMessage {
        let event = Event {
            id: "evt".into(),
            event_type: "booking.created".into(),
            occurred_at: Timestamp::new(chrono::Utc::now()),
            data: EventData::of(&data).expect("JSON"),
        };
        let owner = EntityId::parse("d5b8a3c2-9e6f-4a1b-8d34-7c2e1f0a5b69").expect("uuid");
        let webhook = WebhookId(uuid::Uuid::now_v7());
        DeliveryMessage::first(uuid::Uuid::now_v7(), webhook, owner, CarriedEvent::Whole(event)).into()
    }

    #[test]
    fn batches_keep_to_ten_messages_and_one_mebibyte() {
        let small: Vec<_> = (0..23).map(|_| carrying(json!({}))).collect();
        let sizes: Vec<usize> = batches(&small).expect("batches").iter().map(Vec::len).collect();
        assert_eq!(sizes, [10, 10, 3]);
        // 200 KiB each: five fit in a batch's MiB, as SQS counts a batch's bytes; 250 KiB, four.
        let big: Vec<_> = (0..10).map(|_| carrying(json!({"blob": "x".repeat(200 * 1024)}))).collect();
        assert_eq!(batches(&big).expect("batches").iter().map(Vec::len).collect::<Vec<_>>(), [5, 5]);
        let bigger: Vec<_> = (0..10).map(|_| carrying(json!({"blob": "x".repeat(250 * 1024)}))).collect();
        let batches = batches(&bigger).expect("batches");
        assert_eq!(batches.iter().map(Vec::len).collect::<Vec<_>>(), [4, 4, 2]);
        for batch in &batches {
            let bytes: usize = batch.iter().map(|(_, body)| body.len()).sum();
            assert!(bytes + batch.len() * BATCH_OVERHEAD_BYTES <= MAX_MESSAGE_BYTES, "{bytes}");
        }
    }

    #[test]
    fn characters_sqs_refuses_are_escaped_and_read_back() {
        let message = carrying(json!({"text": "a\u{fffe}b\u{ffff}c"}));
        let body = message_body(&message).expect("body");
        assert!(!body.contains(['\u{fffe}', '\u{ffff}']), "{body}");
        let back: QueueMessage = serde_json::from_str(&body).expect("JSON");
        assert_eq!(back, message);
    }

    #[test]
    fn a_message_over_the_limit_is_refused() {
        let huge = carrying(json!({"blob": "x".repeat(MAX_MESSAGE_BYTES)}));
        assert!(matches!(message_body(&huge), Err(QueueError::TooLarge { .. })));
    }
}
