//! An in-process queue with SQS's visibility semantics, for the embedded runner and tests;
//! as a FIFO queue, with SQS FIFO's message groups too.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use async_trait::async_trait;
use tokio::sync::Notify;
use tokio::time::Instant;

use super::{DeliveryEnqueue, MAX_SEND_DELAY, QueueConsumer, Received, VisibilityDelay, bodies};
use crate::model::DeliveryMessage;
use crate::queue::QueueError;

struct Entry {
    message_id: String,
    receipt_handle: Option<String>,
    body: String,
    receive_count: u32,
    sent_at_millis: i64,
    visible_at: Instant,
    /// Its message group on a FIFO queue: the webhook's id.
    group: Option<String>,
}

pub struct MemoryQueue {
    entries: Mutex<Vec<Entry>>,
    arrived: Notify,
    visibility_timeout: Duration,
    dead_letters: Option<(u32, Arc<MemoryQueue>)>,
    /// Each webhook's messages in order, one of them in flight at a time.
    fifo: bool,
}

impl MemoryQueue {
    /// A queue whose received messages reappear after `visibility_timeout` unless deleted.
    pub fn new(visibility_timeout: Duration) -> Self {
        Self {
            entries: Mutex::new(Vec::new()),
            arrived: Notify::new(),
            visibility_timeout,
            dead_letters: None,
            fifo: false,
        }
    }

    /// The same as a FIFO queue: a webhook's messages are received in the order sent, and
    /// none while one of them is in flight (received, and neither deleted nor visible again).
    #[must_use]
    pub fn fifo(self) -> Self {
        Self { fifo: true, ..self }
    }

    /// The same, where a message received `max_receives` times moves to `dead_letters` instead
    /// of being received again, as SQS's redrive policy moves it.
    pub fn with_dead_letters(visibility_timeout: Duration, max_receives: u32, dead_letters: Arc<MemoryQueue>) -> Self {
        Self { dead_letters: Some((max_receives, dead_letters)), ..Self::new(visibility_timeout) }
    }

    fn entries(&self) -> Result<MutexGuard<'_, Vec<Entry>>, QueueError> {
        self.entries.lock().map_err(|_| QueueError::internal("memory queue lock poisoned"))
    }

    /// Messages not yet deleted, visible or not.
    pub fn len(&self) -> usize {
        self.entries().map_or(0, |entries| entries.len())
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn take_visible(&self, max: usize) -> Result<(Vec<Received>, Option<Instant>), QueueError> {
        let now = Instant::now();
        let mut entries = self.entries()?;
        if let Some((max_receives, dead_letters)) = &self.dead_letters {
            let (dead, kept) = std::mem::take(&mut *entries)
                .into_iter()
                .partition(|e| e.visible_at <= now && e.receive_count >= *max_receives);
            *entries = kept;
            dead_letters.take_in(dead)?;
        }
        // A FIFO group waits while one of its messages is in flight, and gives one at a time.
        let mut busy: std::collections::HashSet<String> = entries
            .iter()
            .filter(|e| self.fifo && e.receipt_handle.is_some() && e.visible_at > now)
            .filter_map(|e| e.group.clone())
            .collect();
        let mut received = Vec::new();
        let available = entries.iter_mut().filter(|e| match &e.group {
            Some(group) if self.fifo => busy.insert(group.clone()) && e.visible_at <= now,
            _ => e.visible_at <= now,
        });
        for entry in available.take(max) {
            let receipt_handle = uuid::Uuid::new_v4().to_string();
            entry.receive_count += 1;
            entry.visible_at = now + self.visibility_timeout;
            entry.receipt_handle = Some(receipt_handle.clone());
            received.push(Received {
                message_id: entry.message_id.clone(),
                receipt_handle,
                body: entry.body.clone(),
                receive_count: entry.receive_count,
                sent_at_millis: entry.sent_at_millis,
            });
        }
        let next_visible = entries.iter().map(|e| e.visible_at).min();
        Ok((received, next_visible))
    }
}

impl MemoryQueue {
    fn take_in(&self, moved: Vec<Entry>) -> Result<(), QueueError> {
        if moved.is_empty() {
            return Ok(());
        }
        let now = Instant::now();
        self.entries()?.extend(moved.into_iter().map(|e| Entry {
            receive_count: 0,
            visible_at: now,
            receipt_handle: None,
            ..e
        }));
        self.arrived.notify_waiters();
        Ok(())
    }
}

#[async_trait]
impl DeliveryEnqueue for MemoryQueue {
    async fn enqueue(&self, messages: &[DeliveryMessage], delay: Duration) -> Result<(), QueueError> {
        let bodies = bodies(messages)?;
        let now = chrono::Utc::now().timestamp_millis();
        // Like SQS FIFO, no delay per message.
        let delay = if self.fifo { Duration::ZERO } else { delay.min(MAX_SEND_DELAY) };
        self.entries()?.extend(messages.iter().zip(bodies).map(|(message, body)| Entry {
            message_id: uuid::Uuid::new_v4().to_string(),
            receipt_handle: None,
            body,
            receive_count: 0,
            sent_at_millis: now,
            visible_at: Instant::now() + delay,
            group: Some(message.webhook_id.to_string()),
        }));
        self.arrived.notify_waiters();
        Ok(())
    }
}

#[async_trait]
impl VisibilityDelay for MemoryQueue {
    async fn delay_message(&self, receipt_handle: &str, delay: Duration) -> Result<(), QueueError> {
        let mut entries = self.entries()?;
        let entry = entries
            .iter_mut()
            .find(|e| e.receipt_handle.as_deref() == Some(receipt_handle))
            .ok_or_else(|| QueueError::internal("receipt handle is no longer valid"))?;
        entry.visible_at = Instant::now() + delay;
        Ok(())
    }
}

#[async_trait]
impl QueueConsumer for MemoryQueue {
    async fn receive(&self, max: usize, wait: Duration) -> Result<Vec<Received>, QueueError> {
        let deadline = Instant::now() + wait;
        loop {
            let arrived = self.arrived.notified();
            let (received, next_visible) = self.take_visible(max)?;
            if !received.is_empty() || Instant::now() >= deadline {
                return Ok(received);
            }
            let wake = next_visible.map_or(deadline, |at| at.min(deadline));
            tokio::select! {
                () = arrived => {}
                () = tokio::time::sleep_until(wake) => {}
            }
        }
    }

    async fn delete(&self, receipt_handles: &[String]) -> Result<(), QueueError> {
        self.entries()?.retain(|e| !e.receipt_handle.as_ref().is_some_and(|r| receipt_handles.contains(r)));
        Ok(())
    }
}
