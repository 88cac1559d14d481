//! An in-process queue with SQS's visibility semantics, for the embedded runner and tests. As a
//! standard queue it serves its message groups (tenants) as SQS fair queues do: first the
//! groups with the fewest messages in flight. As a FIFO queue it gives each group's messages in
//! order, none while one of them is in flight.

mod messages;

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use async_trait::async_trait;
use messages::{Message, Messages, Redrive};
use tokio::sync::Notify;
use tokio::time::Instant;

use super::{
    DeliveryEnqueue, MAX_RETENTION, MAX_SEND_DELAY, QueueConsumer, RawSend, Received, VisibilityDelay, message_body,
};
use crate::model::QueueMessage;
use crate::queue::QueueError;

/// How many messages a queue holds, as SQS's `ApproximateNumberOf...` attributes count them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct QueueDepths {
    pub visible: usize,
    /// Received and neither deleted nor visible again (`...NotVisible`).
    pub in_flight: usize,
    /// Sent with a delay not yet over (`...Delayed`).
    pub delayed: usize,
}

pub struct MemoryQueue {
    messages: Mutex<Messages>,
    arrived: Notify,
    visibility_timeout: Duration,
    retention: Duration,
    dead_letters: Option<(Redrive, Arc<MemoryQueue>)>,
    fifo: bool,
    name: String,
}

impl MemoryQueue {
    /// A queue whose received messages reappear after `visibility_timeout` unless deleted.
    pub fn new(visibility_timeout: Duration) -> Self {
        Self {
            messages: Mutex::new(Messages::new()),
            arrived: Notify::new(),
            visibility_timeout,
            retention: MAX_RETENTION,
            dead_letters: None,
            fifo: false,
            name: "webhooks-deliveries".into(),
        }
    }

    /// The same as a FIFO queue: a group's messages are received in the order sent, and none
    /// while one of them is in flight (received, and neither deleted nor visible again).
    #[must_use]
    pub fn fifo(self) -> Self {
        Self { fifo: true, name: format!("{}.fifo", self.name), ..self }
    }

    /// The same, where a message received `max_receives` times moves to `dead_letters` instead
    /// of being received again, as SQS's redrive policy moves it.
    pub fn with_dead_letters(visibility_timeout: Duration, max_receives: u32, dead_letters: Arc<MemoryQueue>) -> Self {
        Self { dead_letters: Some((Redrive { max_receives }, dead_letters)), ..Self::new(visibility_timeout) }
    }

    /// The same, forgetting a message `retention` after it was sent, as SQS does (without
    /// dead-lettering it).
    #[must_use]
    pub fn with_retention(self, retention: Duration) -> Self {
        Self { retention, ..self }
    }

    fn messages(&self) -> Result<MutexGuard<'_, Messages>, QueueError> {
        self.messages.lock().map_err(|_| QueueError::internal("memory queue lock poisoned"))
    }

    /// The queue brought to now: see `Messages::advance`.
    fn now(&self) -> Result<(MutexGuard<'_, Messages>, Instant), QueueError> {
        let now = Instant::now();
        let mut messages = self.messages()?;
        let redrive = self.dead_letters.as_ref().map(|(redrive, _)| redrive);
        let dead = messages.advance(now, self.retention, redrive);
        if let Some((_, dead_letters)) = &self.dead_letters {
            dead_letters.take_in(dead)?;
        }
        Ok((messages, now))
    }

    /// Messages not yet deleted, visible or not.
    pub fn len(&self) -> usize {
        self.messages().map_or(0, |messages| messages.len())
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn take_visible(&self, max: usize) -> Result<(Vec<Received>, Option<Instant>), QueueError> {
        let (mut messages, now) = self.now()?;
        let received = messages.receive(max, self.fifo, now + self.visibility_timeout);
        Ok((received, messages.next_visible()))
    }

    fn take_in(&self, moved: Vec<Message>) -> Result<(), QueueError> {
        if moved.is_empty() {
            return Ok(());
        }
        let mut messages = self.messages()?;
        for message in moved {
            messages.push(message, Duration::ZERO);
        }
        drop(messages);
        self.arrived.notify_waiters();
        Ok(())
    }

    /// Adds `messages` (each a body and its group), first received once `delay` has passed.
    fn push(&self, bodies: Vec<(String, String)>, delay: Duration) -> Result<(), QueueError> {
        let now = chrono::Utc::now().timestamp_millis();
        // Like SQS FIFO, no delay per message.
        let delay = if self.fifo { Duration::ZERO } else { delay.min(MAX_SEND_DELAY) };
        let mut messages = self.messages()?;
        for (body, group) in bodies {
            messages.push(Message::new(body, Arc::from(group), now), delay);
        }
        drop(messages);
        self.arrived.notify_waiters();
        Ok(())
    }
}

#[async_trait]
impl DeliveryEnqueue for MemoryQueue {
    async fn enqueue(&self, messages: &[QueueMessage], delay: Duration) -> Result<(), QueueError> {
        let bodies = messages.iter().map(|m| Ok((message_body(m)?, m.group()))).collect::<Result<Vec<_>, _>>()?;
        self.push(bodies, delay)
    }
}

#[async_trait]
impl RawSend for MemoryQueue {
    /// Attributes are not kept: what reads this queue in the runner reads bodies only.
    async fn send_raw(&self, body: &str, group: Option<&str>, _attributes: &[(&str, &str)]) -> Result<(), QueueError> {
        self.push(vec![(body.to_string(), group.unwrap_or_default().to_string())], Duration::ZERO)
    }
}

#[async_trait]
impl VisibilityDelay for MemoryQueue {
    async fn delay_message(&self, receipt_handle: &str, delay: Duration) -> Result<(), QueueError> {
        let (mut messages, now) = self.now()?;
        if messages.hide(receipt_handle, now + delay) {
            Ok(())
        } else {
            Err(QueueError::internal("receipt handle is no longer valid"))
        }
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
        let mut messages = self.messages()?;
        for receipt_handle in receipt_handles {
            messages.delete(receipt_handle);
        }
        drop(messages);
        // On a FIFO queue a delete may free its group's next message for a waiting receive.
        if self.fifo {
            self.arrived.notify_waiters();
        }
        Ok(())
    }

    fn arn(&self) -> String {
        format!("arn:aws:sqs:local:000000000000:{}", self.name)
    }

    async fn depths(&self) -> Result<QueueDepths, QueueError> {
        Ok(self.now()?.0.depths())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{CarriedEvent, DeliveryMessage, EntityId, WebhookId};

    fn for_tenant(tenant: &str) -> QueueMessage {
        let owner = EntityId::parse(tenant).expect("uuid");
        let event = CarriedEvent::Named { id: "evt".into(), event_type: "booking.created".into() };
        DeliveryMessage::first(uuid::Uuid::now_v7(), WebhookId(uuid::Uuid::now_v7()), owner, event).into()
    }

    const X: &str = "0d9e8f7a-6b5c-4d3e-8f2a-1b0c9d8e7f6a";
    const Y: &str = "d5b8a3c2-9e6f-4a1b-8d34-7c2e1f0a5b69";

    fn tenant_of(received: &Received) -> String {
        let message: QueueMessage = serde_json::from_str(&received.body).expect("JSON");
        message.group()
    }

    #[tokio::test]
    async fn a_tenant_with_a_backlog_does_not_keep_another_waiting() {
        let queue = MemoryQueue::new(Duration::from_secs(60));
        let backlog: Vec<_> = (0..50).map(|_| for_tenant(X)).collect();
        queue.enqueue(&backlog, Duration::ZERO).await.expect("enqueue");
        // X's first messages are in flight (slow receivers) when Y publishes one.
        let first = queue.receive(10, Duration::ZERO).await.expect("receive");
        assert!(first.iter().all(|r| tenant_of(r) == X));
        queue.enqueue(&[for_tenant(Y)], Duration::ZERO).await.expect("enqueue");
        let next = queue.receive(10, Duration::ZERO).await.expect("receive");
        assert_eq!(tenant_of(&next[0]), Y, "the quieter tenant first, not after X's 40 others");
        assert_eq!(next.len(), 10, "the rest of the batch is X's");
    }

    #[tokio::test]
    async fn tenants_share_a_batch_while_both_have_messages() {
        let queue = MemoryQueue::new(Duration::from_secs(60));
        let mixed: Vec<_> = (0..20).map(|n| for_tenant(if n < 15 { X } else { Y })).collect();
        queue.enqueue(&mixed, Duration::ZERO).await.expect("enqueue");
        let batch = queue.receive(10, Duration::ZERO).await.expect("receive");
        let from_y = batch.iter().filter(|r| tenant_of(r) == Y).count();
        assert_eq!(from_y, 5, "half a batch each, not X's 10 first");
    }

    #[tokio::test(start_paused = true)]
    async fn a_message_not_deleted_is_received_again_and_its_first_receipt_then_deletes_nothing() {
        let queue = MemoryQueue::new(Duration::from_secs(30));
        queue.enqueue(&[for_tenant(X)], Duration::ZERO).await.expect("enqueue");
        let first = queue.receive(10, Duration::ZERO).await.expect("receive");
        assert!(queue.receive(10, Duration::ZERO).await.expect("receive").is_empty(), "in flight");
        tokio::time::advance(Duration::from_secs(31)).await;
        let again = queue.receive(10, Duration::ZERO).await.expect("receive");
        assert_eq!((again.len(), again[0].receive_count), (1, 2));
        queue.delete(&[first[0].receipt_handle.clone()]).await.expect("delete");
        assert_eq!(queue.len(), 1, "a stale receipt handle deletes nothing");
        queue.delete(&[again[0].receipt_handle.clone()]).await.expect("delete");
        assert!(queue.is_empty());
    }

    #[tokio::test(start_paused = true)]
    async fn a_fifo_group_gives_its_next_message_only_once_the_one_in_flight_is_deleted() {
        let queue = MemoryQueue::new(Duration::from_secs(30)).fifo();
        let sent = [for_tenant(X), for_tenant(Y), for_tenant(X)];
        queue.enqueue(&sent, Duration::ZERO).await.expect("enqueue");
        let heads = queue.receive(10, Duration::ZERO).await.expect("receive");
        assert_eq!(heads.iter().map(tenant_of).collect::<Vec<_>>(), [X, Y], "one of each group, in order sent");
        assert!(queue.receive(10, Duration::ZERO).await.expect("receive").is_empty());
        queue.delete(&[heads[0].receipt_handle.clone()]).await.expect("delete");
        let next = queue.receive(10, Duration::ZERO).await.expect("receive");
        assert_eq!(next.iter().map(tenant_of).collect::<Vec<_>>(), [X]);
    }

    #[tokio::test(start_paused = true)]
    async fn a_message_received_too_often_moves_to_the_dead_letters() {
        let dead_letters = Arc::new(MemoryQueue::new(Duration::from_secs(1)));
        let queue = MemoryQueue::with_dead_letters(Duration::from_secs(1), 2, dead_letters.clone());
        queue.enqueue(&[for_tenant(X), for_tenant(Y)], Duration::ZERO).await.expect("enqueue");
        for _ in 0..2 {
            assert_eq!(queue.receive(1, Duration::ZERO).await.expect("receive").len(), 1);
            tokio::time::advance(Duration::from_secs(2)).await;
        }
        // X's message was received twice; Y's never.
        let left = queue.receive(10, Duration::ZERO).await.expect("receive");
        assert_eq!(left.iter().map(tenant_of).collect::<Vec<_>>(), [Y]);
        assert_eq!(dead_letters.len(), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn a_receipt_handle_of_another_queue_deletes_nothing() {
        let (queue, other) = (MemoryQueue::new(Duration::from_secs(30)), MemoryQueue::new(Duration::from_secs(30)));
        for q in [&queue, &other] {
            q.enqueue(&[for_tenant(X)], Duration::ZERO).await.expect("enqueue");
        }
        let received = other.receive(10, Duration::ZERO).await.expect("receive");
        queue.receive(10, Duration::ZERO).await.expect("receive");
        queue.delete(&[received[0].receipt_handle.clone()]).await.expect("delete");
        assert_eq!(queue.len(), 1);
        assert!(queue.delay_message(&received[0].receipt_handle, Duration::ZERO).await.is_err());
    }

    #[tokio::test(start_paused = true)]
    async fn a_fifo_delete_wakes_a_receive_waiting_for_the_groups_next_message() {
        let queue = Arc::new(MemoryQueue::new(Duration::from_secs(30)).fifo());
        queue.enqueue(&[for_tenant(X), for_tenant(X)], Duration::ZERO).await.expect("enqueue");
        let head = queue.receive(10, Duration::ZERO).await.expect("receive");
        let started = Instant::now();
        let waiting = tokio::spawn({
            let queue = queue.clone();
            async move { queue.receive(10, Duration::from_secs(20)).await }
        });
        tokio::task::yield_now().await;
        queue.delete(&[head[0].receipt_handle.clone()]).await.expect("delete");
        let next = waiting.await.expect("task").expect("receive");
        assert_eq!(next.len(), 1);
        assert_eq!(started.elapsed(), Duration::ZERO, "woken by the delete, not at the end of its wait");
    }

    #[tokio::test(start_paused = true)]
    async fn a_deleted_message_leaves_no_time_to_wake_at() {
        let queue = MemoryQueue::new(Duration::from_secs(30));
        queue.enqueue(&[for_tenant(X)], Duration::from_secs(5)).await.expect("enqueue");
        tokio::time::advance(Duration::from_secs(5)).await;
        let received = queue.receive(10, Duration::ZERO).await.expect("receive");
        queue.delete(&[received[0].receipt_handle.clone()]).await.expect("delete");
        let (messages, _) = queue.now().expect("lock");
        assert_eq!(messages.next_visible(), None, "not the deleted message's end of visibility");
    }

    #[tokio::test]
    async fn a_message_past_the_retention_is_gone_without_a_dead_letter() {
        let dead_letters = Arc::new(MemoryQueue::new(Duration::from_secs(1)));
        let queue = MemoryQueue::with_dead_letters(Duration::from_secs(1), 5, dead_letters.clone())
            .with_retention(Duration::from_millis(200));
        queue.enqueue(&[for_tenant(X)], Duration::from_millis(300)).await.expect("enqueue");
        tokio::time::sleep(Duration::from_millis(400)).await;
        assert!(queue.receive(10, Duration::ZERO).await.expect("receive").is_empty());
        assert!(queue.is_empty() && dead_letters.is_empty(), "expired, as SQS deletes it");
    }
}
