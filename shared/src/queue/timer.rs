//! Durable timers for waits longer than SQS's longest delay: a delivery waiting for a retry (or
//! its turn) is not a message held in flight, whatever the number of them (SQS stops handing
//! out messages at 120,000 in flight). In AWS, EventBridge Scheduler (`SchedulerTimer`); in the
//! runner, which also stands in for the SQS trigger, its own clock (`MemoryTimer`).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use async_trait::async_trait;

use super::{DeliveryEnqueue, QueueError};
use crate::model::{DeliveryMessage, Timestamp};

/// How long before a message's `due` a timer sends it at most: the rest of the wait is an SQS
/// delay, to the second (`crate::delivery`), whatever the timer's own precision.
pub const TIMER_LEAD: Duration = Duration::from_secs(120);

#[async_trait]
pub trait Timer: Send + Sync {
    /// Sends `message` to the standard delivery queue at `at` or soon after. A timer
    /// refuses nothing it was asked twice: the same delivery's step is scheduled once.
    async fn send_at(&self, message: &DeliveryMessage, at: Timestamp) -> Result<(), QueueError>;
}

/// The runner's timer: a task per wait, sending its message to the queue when the wait is over.
/// Kept in the process, as the runner's queues are in the memory backend.
pub struct MemoryTimer {
    queue: Arc<dyn DeliveryEnqueue>,
    waiting: Arc<AtomicUsize>,
}

impl MemoryTimer {
    pub fn new(queue: Arc<dyn DeliveryEnqueue>) -> Self {
        Self { queue, waiting: Arc::default() }
    }

    /// Messages waiting for their time.
    pub fn waiting(&self) -> usize {
        self.waiting.load(Ordering::SeqCst)
    }
}

#[async_trait]
impl Timer for MemoryTimer {
    async fn send_at(&self, message: &DeliveryMessage, at: Timestamp) -> Result<(), QueueError> {
        let wait = (at.get() - chrono::Utc::now()).to_std().unwrap_or(Duration::ZERO);
        let (queue, waiting, message) = (self.queue.clone(), self.waiting.clone(), message.clone());
        waiting.fetch_add(1, Ordering::SeqCst);
        tokio::spawn(async move {
            tokio::time::sleep(wait).await;
            let message = message.into();
            // An unreachable queue is tried again: the wait is over, the message must go.
            while let Err(err) = queue.enqueue(std::slice::from_ref(&message), Duration::ZERO).await {
                tracing::warn!(error = %crate::error::chain(&err), "a timer could not send its message");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
            waiting.fetch_sub(1, Ordering::SeqCst);
        });
        Ok(())
    }
}
