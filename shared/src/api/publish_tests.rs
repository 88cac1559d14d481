//! Publishing under injected faults: a failure midway answers 503, and the retry with the
//! same event id finishes the fan-out, so that every matching webhook receives the event once.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use serde_json::{Value, json};
use uuid::Uuid;

use super::fixtures::{ENTITY, Event};
use super::publish_event;
use super::tests::{context, create, json_of};
use crate::delivery::tests::answering;
use crate::delivery::{Deliverer, DeliverySettings, WebhookSender};
use crate::model::DeliveryStatus;
use crate::model::{
    Delivery, DeliveryMessage, DeliveryState, DeliveryStep, EntityId, EventType, FanOutPlan, HourCounters, Timestamp,
    Webhook, WebhookId,
};
use crate::publish::Notices;
use crate::queue::{DeliveryEnqueue, MemoryQueue, QueueConsumer, QueueError, lambda_event};
use crate::rate_limit::{Decision, RatePolicy};
use crate::retry::RetrySchedule;
use crate::runtime::{Context, RandomIds, SystemClock};
use crate::store::{
    DeliveryGet, DeliveryList, DeliveryRecord, DeliveryStats, EventInsert, EventTypeGet, MemoryStore, PageRequest,
    RateLimitStore, Recorded, StoreError, WebhookSubscribers,
};

/// Fails the `fail_on`-th enqueue call; passes the others to a memory queue.
struct FlakyQueue {
    inner: MemoryQueue,
    calls: AtomicUsize,
    fail_on: usize,
}

#[async_trait]
impl DeliveryEnqueue for FlakyQueue {
    async fn enqueue(&self, messages: &[DeliveryMessage], delay: Duration) -> Result<(), QueueError> {
        if self.calls.fetch_add(1, Ordering::SeqCst) + 1 == self.fail_on {
            return Err(QueueError::unavailable("injected: the queue is unreachable"));
        }
        self.inner.enqueue(messages, delay).await
    }
}

/// Fails the first `failures` plan writes; passes everything else to a memory store.
struct FlakyStore {
    inner: MemoryStore,
    failures: AtomicUsize,
}

fn take_one(left: &AtomicUsize) -> bool {
    left.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1)).is_ok()
}

#[async_trait]
impl WebhookSubscribers for FlakyStore {
    async fn subscribers(&self, entity: EntityId) -> Result<Vec<Webhook>, StoreError> {
        self.inner.subscribers(entity).await
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
    async fn take(&self, key: &str, policy: &RatePolicy, now_us: i64) -> Result<Decision, StoreError> {
        self.inner.take(key, policy, now_us).await
    }
}

fn publish(id: Option<&str>) -> lambda_http::Request {
    let mut body = json!({"type": "booking.created", "data": {"bookingId": "b-1"}});
    if let Some(id) = id {
        body["id"] = json!(id);
    }
    Event::create_webhook()
        .route("POST", "/api/managing-entity/{entityId}/event", &[("entityId", ENTITY)])
        .body(&body)
        .request()
}

async fn store_with_webhooks(ctx: &Context, count: usize) -> MemoryStore {
    let store = MemoryStore::new();
    for _ in 0..count {
        create(ctx, &store).await;
    }
    store
}

/// Every message on the queue, counted per (webhook, delivery).
async fn enqueued(queue: &MemoryQueue) -> HashMap<(String, String), usize> {
    let mut counts = HashMap::new();
    for message in queue.receive(10_000, Duration::ZERO).await.expect("receive") {
        let body: Value = serde_json::from_str(&message.body).expect("JSON");
        let key = (
            body["webhookId"].as_str().unwrap_or("").to_string(),
            body["deliveryId"].as_str().unwrap_or("").to_string(),
        );
        *counts.entry(key).or_default() += 1;
    }
    counts
}

// Paused time: the retry's copies are delayed, and the delay passes at once.
#[tokio::test(start_paused = true)]
async fn a_queue_failure_midway_is_503_and_the_retry_delivers_every_one_once() {
    let ctx = context();
    let store = FlakyStore { inner: store_with_webhooks(&ctx, 25).await, failures: AtomicUsize::new(0) };
    let queue = FlakyQueue { inner: MemoryQueue::new(Duration::from_secs(60)), calls: AtomicUsize::new(0), fail_on: 2 };
    let receiver = answering(200);

    let failed = publish_event(&ctx, &store, &queue, publish(Some("evt-1"))).await;
    assert_eq!(failed.status(), 503);
    assert_eq!(json_of(&failed)["type"], "/problems/unavailable");
    assert_eq!(queue.inner.len(), 10, "the first batch went out before the failure");

    let retried = publish_event(&ctx, &store, &queue, publish(Some("evt-1"))).await;
    assert_eq!(retried.status(), 200);
    assert_eq!(json_of(&retried), json!({"eventId": "evt-1", "duplicate": true}));
    // The retry cannot tell the first batch was sent: a copy of every delivery not started,
    // received only after the originals.
    assert_eq!(queue.inner.len(), 10 + 25);
    deliver_queued(&store.inner, &queue.inner, &receiver).await;
    assert!(queue.inner.receive(10, Duration::ZERO).await.expect("receive").is_empty(), "the copies wait");
    tokio::time::advance(ctx.settings.resend_delay).await;
    while !queue.inner.is_empty() {
        deliver_queued(&store.inner, &queue.inner, &receiver).await;
    }
    let sent: Vec<Value> = receiver.sent.lock().expect("lock").iter().map(|r| json!(r.body)).collect();
    let webhooks: std::collections::HashSet<_> = sent
        .iter()
        .map(|body| serde_json::from_str::<Value>(body.as_str().unwrap_or("")).expect("JSON")["webhookId"].clone())
        .collect();
    assert_eq!((sent.len(), webhooks.len()), (25, 25), "every matching webhook once");

    let again = publish_event(&ctx, &store, &queue, publish(Some("evt-1"))).await;
    assert_eq!((again.status().as_u16(), json_of(&again)["duplicate"].clone()), (200, json!(true)));
    assert!(queue.inner.is_empty(), "a duplicate enqueues nothing");
}

#[tokio::test]
async fn a_store_failure_before_enqueueing_is_503_and_the_retry_enqueues_everything_once() {
    let ctx = context();
    let store = FlakyStore { inner: store_with_webhooks(&ctx, 12).await, failures: AtomicUsize::new(1) };
    let queue = FlakyQueue { inner: MemoryQueue::new(Duration::from_secs(60)), calls: AtomicUsize::new(0), fail_on: 0 };
    assert_eq!(publish_event(&ctx, &store, &queue, publish(Some("evt-2"))).await.status(), 503);
    assert!(queue.inner.is_empty(), "nothing was enqueued without its plan");
    // Nothing was stored either: the retry is a first publish, sent at once.
    assert_eq!(publish_event(&ctx, &store, &queue, publish(Some("evt-2"))).await.status(), 202);
    let counts = enqueued(&queue.inner).await;
    assert_eq!((counts.len(), counts.values().max().copied()), (12, Some(1)));
}

#[tokio::test]
async fn events_without_an_id_are_each_new() {
    let ctx = context();
    let store = FlakyStore { inner: store_with_webhooks(&ctx, 3).await, failures: AtomicUsize::new(0) };
    let queue = FlakyQueue { inner: MemoryQueue::new(Duration::from_secs(60)), calls: AtomicUsize::new(0), fail_on: 0 };
    let first = json_of(&publish_event(&ctx, &store, &queue, publish(None)).await);
    let second = json_of(&publish_event(&ctx, &store, &queue, publish(None)).await);
    assert_ne!(first["eventId"], second["eventId"]);
    assert_eq!(enqueued(&queue.inner).await.len(), 6);
}

#[tokio::test]
async fn an_event_too_large_for_the_queue_is_413_and_plans_nothing() {
    let ctx = context();
    let store = FlakyStore { inner: store_with_webhooks(&ctx, 1).await, failures: AtomicUsize::new(0) };
    let queue = FlakyQueue { inner: MemoryQueue::new(Duration::from_secs(60)), calls: AtomicUsize::new(0), fail_on: 0 };
    // Under the 256 KiB body limit, but over the queue's once wrapped in the delivery message.
    let body = json!({"id": "big", "type": "booking.created", "data": {"blob": "x".repeat(256 * 1024 - 150)}});
    assert!(body.to_string().len() <= super::MAX_BODY_BYTES);
    let request = Event::create_webhook()
        .route("POST", "/api/managing-entity/{entityId}/event", &[("entityId", ENTITY)])
        .body(&body)
        .request();
    assert_eq!(publish_event(&ctx, &store, &queue, request).await.status(), 413);
    assert!(queue.inner.is_empty());
    let small = publish_event(&ctx, &store, &queue, publish(Some("big"))).await;
    assert_eq!(small.status(), 202, "the refused id was not remembered");
}

/// What the SQS trigger does once: every visible message to the deliver handler, then the
/// handled ones deleted.
async fn deliver_queued(store: &MemoryStore, queue: &MemoryQueue, sender: &dyn WebhookSender) {
    let received = queue.receive(10, Duration::ZERO).await.expect("receive");
    let settings = DeliverySettings { schedule: RetrySchedule::parse("5s").expect("schedule"), ..Default::default() };
    let notices = Notices { store, queue, ids: &RandomIds, resend_delay: settings.resend_delay };
    let (clock, settings) = (&SystemClock, &settings);
    let deliverer = Deliverer { store, queue, fifo_queue: queue, sender, clock, notices: &notices, settings };
    let response = deliverer.deliver_batch(lambda_event(&received).expect("event")).await;
    assert!(response.batch_item_failures.is_empty(), "{response:?}");
    let handles: Vec<String> = received.into_iter().map(|m| m.receipt_handle).collect();
    queue.delete(&handles).await.expect("delete");
}

#[tokio::test]
async fn a_publish_retried_after_its_delivery_succeeded_leaves_it_as_it_is() {
    let ctx = context();
    let store = FlakyStore { inner: store_with_webhooks(&ctx, 1).await, failures: AtomicUsize::new(0) };
    let queue = FlakyQueue { inner: MemoryQueue::new(Duration::from_secs(60)), calls: AtomicUsize::new(0), fail_on: 0 };
    let receiver = answering(200);

    assert_eq!(publish_event(&ctx, &store, &queue, publish(Some("evt-twice"))).await.status(), 202);
    deliver_queued(&store.inner, &queue.inner, &receiver).await;
    // The client lost the 202 and publishes again.
    let again = publish_event(&ctx, &store, &queue, publish(Some("evt-twice"))).await;
    assert_eq!((again.status().as_u16(), json_of(&again)["duplicate"].clone()), (200, json!(true)));
    assert!(queue.inner.is_empty(), "nothing sent again");

    let webhooks = store.inner.subscribers(EntityId::parse(ENTITY).expect("uuid")).await.expect("list");
    let webhook_id = webhooks[0].info.id;
    let log = store.inner.list_deliveries(webhook_id, PageRequest { limit: 10, after: None }, None).await.expect("log");
    assert_eq!(log.items.len(), 1);
    assert_eq!((log.items[0].status, log.items[0].attempts.len()), (DeliveryStatus::Succeeded, 1));
    assert_eq!(receiver.sent.lock().expect("lock").len(), 1, "the receiver got the event once");
}
