//! The delivery queue. Publishing enqueues; the deliver function hides a failed message for
//! the retry delay (SQS visibility is the retry timer); the consumer side is what Lambda's
//! event source mapping does, used by the local runner. `MemoryQueue` and `SqsQueue` behave
//! alike: a received message reappears after its visibility timeout unless deleted, and
//! counts how often it was received.

mod error;
mod memory;
mod sqs;

use std::time::Duration;

use async_trait::async_trait;
use aws_lambda_events::event::sqs::SqsEvent;
use serde_json::json;

pub use error::QueueError;
pub use memory::MemoryQueue;
pub use sqs::SqsQueue;

use crate::model::DeliveryMessage;

/// SQS's longest delay of a message sent.
pub const MAX_SEND_DELAY: Duration = Duration::from_secs(900);

/// The largest delivery message, this project's own limit: SQS takes 1 MiB since 2025, but a
/// publish body is at most 256 KiB (docs/contract.md 7), and SQS bills a message per 64 KiB, so one
/// this size is already 4 requests on every send, receive and retry.
pub const MAX_MESSAGE_BYTES: usize = 256 * 1024;

#[async_trait]
pub trait DeliveryEnqueue: Send + Sync {
    /// Sends `messages`, each first received once `delay` (at most `MAX_SEND_DELAY`) has passed.
    async fn enqueue(&self, messages: &[DeliveryMessage], delay: Duration) -> Result<(), QueueError>;
}

#[async_trait]
pub trait VisibilityDelay: Send + Sync {
    /// Hides a received message for `delay`, after which it is received again.
    async fn delay_message(&self, receipt_handle: &str, delay: Duration) -> Result<(), QueueError>;
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
}

#[async_trait]
pub trait QueueConsumer: Send + Sync {
    /// Up to `max` visible messages, waiting up to `wait` for the first; each is then hidden
    /// for the queue's visibility timeout.
    async fn receive(&self, max: usize, wait: Duration) -> Result<Vec<Received>, QueueError>;
    async fn delete(&self, receipt_handles: &[String]) -> Result<(), QueueError>;
}

/// What a sender of deliveries uses of a queue.
pub trait DeliveryQueue: DeliveryEnqueue + VisibilityDelay {}

impl<T: DeliveryEnqueue + VisibilityDelay + ?Sized> DeliveryQueue for T {}

/// The two delivery queues: a FIFO webhook's messages go to the FIFO queue, grouped by
/// webhook (docs/contract.md 14), every other to the standard one.
#[derive(Clone, Copy)]
pub struct Routed<'a> {
    pub unordered: &'a dyn DeliveryQueue,
    pub fifo: &'a dyn DeliveryQueue,
}

impl<'a> Routed<'a> {
    /// The queue a message of this kind is on.
    pub fn of(&self, fifo: bool) -> &'a dyn DeliveryQueue {
        if fifo { self.fifo } else { self.unordered }
    }
}

#[async_trait]
impl DeliveryEnqueue for Routed<'_> {
    async fn enqueue(&self, messages: &[DeliveryMessage], delay: Duration) -> Result<(), QueueError> {
        let (fifo, unordered): (Vec<_>, Vec<_>) = messages.iter().cloned().partition(|m| m.fifo);
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

/// A message's body, refused when over `MAX_MESSAGE_BYTES`.
pub fn message_body(message: &DeliveryMessage) -> Result<String, QueueError> {
    let body = serde_json::to_string(message).map_err(QueueError::internal)?;
    if body.len() > MAX_MESSAGE_BYTES {
        return Err(QueueError::TooLarge { limit: MAX_MESSAGE_BYTES });
    }
    Ok(body)
}

fn bodies(messages: &[DeliveryMessage]) -> Result<Vec<String>, QueueError> {
    messages.iter().map(message_body).collect()
}

/// The event Lambda's SQS trigger would pass for `received`: the record shape, attributes
/// included. The runner's trigger and the tests hand it to the deliver handler.
pub fn lambda_event(received: &[Received]) -> Result<SqsEvent, serde_json::Error> {
    let now = chrono::Utc::now().timestamp_millis();
    let records: Vec<_> = received
        .iter()
        .map(|m| {
            json!({
                "messageId": m.message_id,
                "receiptHandle": m.receipt_handle,
                "body": m.body,
                "attributes": {
                    "ApproximateReceiveCount": m.receive_count.to_string(),
                    "SentTimestamp": m.sent_at_millis.to_string(),
                    "SenderId": "local",
                    "ApproximateFirstReceiveTimestamp": now.to_string(),
                },
                "messageAttributes": {},
                "md5OfBody": "",
                "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:local:000000000000:webhooks-deliveries",
                "awsRegion": "local",
            })
        })
        .collect();
    serde_json::from_value(json!({ "Records": records }))
}
