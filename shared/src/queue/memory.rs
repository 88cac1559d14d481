//! An in-process queue with SQS's visibility semantics, for the embedded runner and tests. As a
//! standard queue it serves its message groups (tenants) as SQS fair queues do: first the
//! groups with the fewest messages in flight. As a FIFO queue it gives each group's messages in
//! order, none while one of them is in flight.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use async_trait::async_trait;
use tokio::sync::Notify;
use tokio::time::Instant;

use super::{
    DeliveryEnqueue, MAX_RETENTION, MAX_SEND_DELAY, QueueConsumer, RawSend, Received, VisibilityDelay, message_body,
};
use crate::model::QueueMessage;
use crate::queue::QueueError;

struct Entry {
    message_id: String,
    receipt_handle: Option<String>,
    body: String,
    receive_count: u32,
    sent_at: Instant,
    sent_at_millis: i64,
    visible_at: Instant,
    /// Shared with the message before it when that one is of the same group, so that a receive
    /// tells consecutive messages of one group apart from others without comparing names.
    group: Arc<str>,
    sequence: u64,
}

impl Entry {
    fn in_flight(&self, now: Instant) -> bool {
        self.receipt_handle.is_some() && self.visible_at > now
    }
}

#[derive(Default)]
struct Entries {
    entries: Vec<Entry>,
    /// The last sequence number given (FIFO).
    sequence: u64,
}

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
    entries: Mutex<Entries>,
    arrived: Notify,
    visibility_timeout: Duration,
    retention: Duration,
    dead_letters: Option<(u32, Arc<MemoryQueue>)>,
    fifo: bool,
    name: String,
}

impl MemoryQueue {
    /// A queue whose received messages reappear after `visibility_timeout` unless deleted.
    pub fn new(visibility_timeout: Duration) -> Self {
        Self {
            entries: Mutex::default(),
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
        Self { dead_letters: Some((max_receives, dead_letters)), ..Self::new(visibility_timeout) }
    }

    /// The same, forgetting a message `retention` after it was sent, as SQS does (without
    /// dead-lettering it).
    #[must_use]
    pub fn with_retention(self, retention: Duration) -> Self {
        Self { retention, ..self }
    }

    fn entries(&self) -> Result<MutexGuard<'_, Entries>, QueueError> {
        self.entries.lock().map_err(|_| QueueError::internal("memory queue lock poisoned"))
    }

    /// Messages not yet deleted, visible or not.
    pub fn len(&self) -> usize {
        self.entries().map_or(0, |entries| entries.entries.len())
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn counts(&self) -> QueueDepths {
        let now = Instant::now();
        let Ok(entries) = self.entries() else { return QueueDepths::default() };
        entries.entries.iter().fold(QueueDepths::default(), |mut depths, e| {
            if e.in_flight(now) {
                depths.in_flight += 1;
            } else if e.visible_at > now {
                depths.delayed += 1;
            } else {
                depths.visible += 1;
            }
            depths
        })
    }

    fn take_visible(&self, max: usize) -> Result<(Vec<Received>, Option<Instant>), QueueError> {
        let now = Instant::now();
        let mut guard = self.entries()?;
        let entries = &mut guard.entries;
        // Looked for before changing anything: a receive must not move every message.
        if entries.iter().any(|e| now.duration_since(e.sent_at) >= self.retention) {
            entries.retain(|e| now.duration_since(e.sent_at) < self.retention);
        }
        let dead = |e: &Entry, max_receives: u32| e.visible_at <= now && e.receive_count >= max_receives;
        if let Some((max_receives, dead_letters)) = &self.dead_letters
            && entries.iter().any(|e| dead(e, *max_receives))
        {
            let (moved, kept) = std::mem::take(entries).into_iter().partition(|e| dead(e, *max_receives));
            *entries = kept;
            dead_letters.take_in(moved)?;
        }
        let chosen = if self.fifo { fifo_heads(entries, now, max) } else { fair_share(entries, now, max) };
        let mut received = Vec::with_capacity(chosen.len());
        for index in chosen {
            let entry = &mut entries[index];
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
                group: Some(entry.group.to_string()),
                sequence: self.fifo.then(|| format!("{:020}", entry.sequence)),
            });
        }
        let next_visible = entries.iter().map(|e| e.visible_at).min();
        Ok((received, next_visible))
    }

    fn take_in(&self, moved: Vec<Entry>) -> Result<(), QueueError> {
        if moved.is_empty() {
            return Ok(());
        }
        let now = Instant::now();
        self.entries()?.entries.extend(moved.into_iter().map(|e| Entry {
            receive_count: 0,
            visible_at: now,
            sent_at: now,
            receipt_handle: None,
            ..e
        }));
        self.arrived.notify_waiters();
        Ok(())
    }
}

/// The first visible message of each group with none in flight, in order sent: a FIFO queue's.
fn fifo_heads(entries: &[Entry], now: Instant, max: usize) -> Vec<usize> {
    let mut busy: std::collections::HashSet<&str> =
        entries.iter().filter(|e| e.in_flight(now)).map(|e| &*e.group).collect();
    let mut chosen = Vec::new();
    for (index, entry) in entries.iter().enumerate() {
        if chosen.len() == max {
            break;
        }
        // A group's first message not in flight holds the rest back, visible or not.
        if busy.insert(&*entry.group) && entry.visible_at <= now {
            chosen.push(index);
        }
    }
    chosen
}

/// Up to `max` visible messages, each from the group with the fewest in flight at that point
/// (its oldest first): a tenant with a backlog cannot keep another's message waiting behind it.
fn fair_share(entries: &[Entry], now: Instant, max: usize) -> Vec<usize> {
    /// A group's messages in flight, and its oldest visible ones (at most `max`: no more of
    /// one group are chosen).
    #[derive(Default)]
    struct Group {
        in_flight: usize,
        waiting: VecDeque<usize>,
    }
    // Every receive looks at every message: consecutive messages of one group, the usual case
    // of a backlog, share one lookup of their group, which a profile of `make load` found
    // hashing most of the runner's time.
    let (mut slots, mut groups) = (HashMap::<&str, usize>::new(), Vec::<Group>::new());
    let mut last: Option<(&Arc<str>, usize)> = None;
    for (index, entry) in entries.iter().enumerate() {
        let in_flight = entry.in_flight(now);
        if !in_flight && entry.visible_at > now {
            continue;
        }
        let name = &*entry.group;
        let slot = match last {
            Some((last_group, slot)) if Arc::ptr_eq(last_group, &entry.group) || **last_group == *name => slot,
            _ => {
                let slot = *slots.entry(name).or_insert_with(|| {
                    groups.push(Group::default());
                    groups.len() - 1
                });
                last = Some((&entry.group, slot));
                slot
            }
        };
        let group = &mut groups[slot];
        if in_flight {
            group.in_flight += 1;
        } else if group.waiting.len() < max {
            group.waiting.push_back(index);
        }
    }
    let mut chosen = Vec::new();
    while chosen.len() < max {
        let next = groups
            .iter()
            .enumerate()
            .filter_map(|(slot, group)| group.waiting.front().map(|&first| (group.in_flight, first, slot)))
            .min();
        let Some((_, index, slot)) = next else { break };
        chosen.push(index);
        groups[slot].in_flight += 1;
        groups[slot].waiting.pop_front();
    }
    chosen
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

impl MemoryQueue {
    /// Adds `messages` (each a body and its group), first received once `delay` has passed.
    fn push(&self, messages: Vec<(String, String)>, delay: Duration) -> Result<(), QueueError> {
        let now = chrono::Utc::now().timestamp_millis();
        // Like SQS FIFO, no delay per message.
        let delay = if self.fifo { Duration::ZERO } else { delay.min(MAX_SEND_DELAY) };
        let sent_at = Instant::now();
        let mut guard = self.entries()?;
        for (body, group) in messages {
            guard.sequence += 1;
            let sequence = guard.sequence;
            let group = match guard.entries.last() {
                Some(before) if *before.group == *group => before.group.clone(),
                _ => Arc::from(group),
            };
            guard.entries.push(Entry {
                message_id: uuid::Uuid::new_v4().to_string(),
                receipt_handle: None,
                body,
                receive_count: 0,
                sent_at,
                sent_at_millis: now,
                visible_at: sent_at + delay,
                group,
                sequence,
            });
        }
        drop(guard);
        self.arrived.notify_waiters();
        Ok(())
    }
}

#[async_trait]
impl VisibilityDelay for MemoryQueue {
    async fn delay_message(&self, receipt_handle: &str, delay: Duration) -> Result<(), QueueError> {
        let mut guard = self.entries()?;
        let entry = guard
            .entries
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
        self.entries()?.entries.retain(|e| !e.receipt_handle.as_ref().is_some_and(|r| receipt_handles.contains(r)));
        Ok(())
    }

    fn arn(&self) -> String {
        format!("arn:aws:sqs:local:000000000000:{}", self.name)
    }

    async fn depths(&self) -> Result<QueueDepths, QueueError> {
        Ok(self.counts())
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
