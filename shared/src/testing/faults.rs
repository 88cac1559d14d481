//! Stores and queues that fail where a test says, passing everything else to memory ones.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use uuid::Uuid;

use crate::model::{
    Delivery, DeliveryState, DeliveryStep, EntityId, EventType, FanOutPlan, HourCounters, QueueMessage, Timestamp,
    WebhookId, WebhookRecord,
};
use crate::queue::{DeliveryEnqueue, MemoryQueue, QueueError, VisibilityDelay};
use crate::rate_limit::{Decision, RatePolicy};
use crate::store::{
    DeliveryGet, DeliveryRecord, DeliveryStats, EventGet, EventInsert, EventTypeGet, MemoryStore, RateLimitStore,
    Recorded, StoreError, WebhookSubscribers,
};

/// Fails the `fail_on`-th enqueue call; passes the others to a memory queue.
pub(crate) struct FlakyQueue {
    pub(crate) inner: MemoryQueue,
    pub(crate) calls: AtomicUsize,
    pub(crate) fail_on: usize,
}

#[async_trait]
impl DeliveryEnqueue for FlakyQueue {
    async fn enqueue(&self, messages: &[QueueMessage], delay: Duration) -> Result<(), QueueError> {
        if self.calls.fetch_add(1, Ordering::SeqCst) + 1 == self.fail_on {
            return Err(QueueError::unavailable("injected: the queue is unreachable"));
        }
        self.inner.enqueue(messages, delay).await
    }
}

#[async_trait]
impl VisibilityDelay for FlakyQueue {
    async fn delay_message(&self, receipt_handle: &str, delay: Duration) -> Result<(), QueueError> {
        self.inner.delay_message(receipt_handle, delay).await
    }
}

/// Fails the first `failures` plan writes; passes everything else to a memory store.
pub(crate) struct FlakyStore {
    pub(crate) inner: MemoryStore,
    pub(crate) failures: AtomicUsize,
}

fn take_one(left: &AtomicUsize) -> bool {
    left.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1)).is_ok()
}

#[async_trait]
impl WebhookSubscribers for FlakyStore {
    async fn subscribers(&self, entity: EntityId) -> Result<Vec<WebhookRecord>, StoreError> {
        self.inner.subscribers(entity).await
    }

    async fn notice_subscribers(&self, entity: EntityId) -> Result<Vec<WebhookRecord>, StoreError> {
        self.inner.notice_subscribers(entity).await
    }
}

#[async_trait]
impl EventInsert for FlakyStore {
    async fn open_fan_out(
        &self,
        owner: EntityId,
        plan: &FanOutPlan,
        now: Timestamp,
        ttl: Duration,
    ) -> Result<(FanOutPlan, bool), StoreError> {
        if take_one(&self.failures) {
            return Err(StoreError::unavailable("injected: DynamoDB is unreachable"));
        }
        self.inner.open_fan_out(owner, plan, now, ttl).await
    }
}

#[async_trait]
impl EventGet for FlakyStore {
    async fn get_plan(
        &self,
        owner: EntityId,
        event_id: &str,
        plan: Option<Uuid>,
    ) -> Result<Option<FanOutPlan>, StoreError> {
        self.inner.get_plan(owner, event_id, plan).await
    }
}

#[async_trait]
impl DeliveryGet for FlakyStore {
    async fn get_delivery(&self, webhook: WebhookId, delivery: Uuid) -> Result<Option<Delivery>, StoreError> {
        self.inner.get_delivery(webhook, delivery).await
    }

    async fn delivery_state(&self, webhook: WebhookId, delivery: Uuid) -> Result<Option<DeliveryState>, StoreError> {
        self.inner.delivery_state(webhook, delivery).await
    }
}

#[async_trait]
impl DeliveryRecord for FlakyStore {
    async fn record_step(&self, step: &DeliveryStep) -> Result<Recorded, StoreError> {
        self.inner.record_step(step).await
    }
}

#[async_trait]
impl EventTypeGet for FlakyStore {
    async fn stored_event_type(&self, name: &str) -> Result<Option<EventType>, StoreError> {
        self.inner.stored_event_type(name).await
    }

    async fn stored_event_types(&self) -> Result<Vec<EventType>, StoreError> {
        self.inner.stored_event_types().await
    }
}

#[async_trait]
impl DeliveryStats for FlakyStore {
    async fn add_counts(&self, webhook: WebhookId, counters: &HourCounters) -> Result<(), StoreError> {
        self.inner.add_counts(webhook, counters).await
    }

    async fn hourly_counters(
        &self,
        webhook: WebhookId,
        first: i64,
        last: i64,
    ) -> Result<Vec<HourCounters>, StoreError> {
        self.inner.hourly_counters(webhook, first, last).await
    }
}

#[async_trait]
impl RateLimitStore for FlakyStore {
    async fn take_many(
        &self,
        key: &str,
        policy: &RatePolicy,
        requests: u32,
        now_us: i64,
    ) -> Result<Decision, StoreError> {
        self.inner.take_many(key, policy, requests, now_us).await
    }
}
