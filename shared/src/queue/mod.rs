//! The delivery queue. Publishing enqueues; the deliver function hides a failed message for
//! the retry delay (SQS visibility is the retry timer); the consumer side is what Lambda's
//! event source mapping does, used by the local runner. `MemoryQueue` and `SqsQueue` behave
//! alike: a received message reappears after its visibility timeout unless deleted, and
//! counts how often it was received.

mod memory;
mod sqs;

use std::time::Duration;

use async_trait::async_trait;

pub use memory::MemoryQueue;
pub use sqs::SqsQueue;

use crate::error::Error;
use crate::model::DeliveryMessage;

/// SQS's largest message.
pub const MAX_MESSAGE_BYTES: usize = 256 * 1024;

#[async_trait]
pub trait DeliveryEnqueue: Send + Sync {
    async fn enqueue(&self, messages: &[DeliveryMessage]) -> Result<(), Error>;
}

#[async_trait]
pub trait VisibilityDelay: Send + Sync {
    /// Hides a received message for `delay`, after which it is received again.
    async fn delay_message(&self, receipt_handle: &str, delay: Duration) -> Result<(), Error>;
}

/// A message as a consumer receives it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Received {
    pub message_id: String,
    pub receipt_handle: String,
    pub body: String,
    /// 1 on the first receive: the attempt number.
    pub receive_count: u32,
    pub sent_at_millis: i64,
}

#[async_trait]
pub trait QueueConsumer: Send + Sync {
    /// Up to `max` visible messages, waiting up to `wait` for the first; each is then hidden
    /// for the queue's visibility timeout.
    async fn receive(&self, max: usize, wait: Duration) -> Result<Vec<Received>, Error>;
    async fn delete(&self, receipt_handles: &[String]) -> Result<(), Error>;
}

/// Every queue operation: what the local runner holds.
pub trait Queue: DeliveryEnqueue + VisibilityDelay + QueueConsumer {}

impl<T: DeliveryEnqueue + VisibilityDelay + QueueConsumer> Queue for T {}

/// A message's body, refused when SQS would not take it.
pub fn message_body(message: &DeliveryMessage) -> Result<String, Error> {
    let body = serde_json::to_string(message).map_err(Error::internal)?;
    if body.len() > MAX_MESSAGE_BYTES {
        return Err(Error::PayloadTooLarge { limit: MAX_MESSAGE_BYTES });
    }
    Ok(body)
}

fn bodies(messages: &[DeliveryMessage]) -> Result<Vec<String>, Error> {
    messages.iter().map(message_body).collect()
}
