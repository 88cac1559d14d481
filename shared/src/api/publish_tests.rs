//! Publishing under injected faults: a failure midway answers 503, and the retry with the
//! same event id leaves every matching delivery enqueued exactly once.

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
use crate::delivery::{Deliverer, WebhookSender};
use crate::error::Error;
use crate::model::DeliveryStatus;
use crate::model::{DeliveryMessage, DeliveryStep, EntityId, FanOutPlan, Timestamp, Webhook};
use crate::queue::{DeliveryEnqueue, MemoryQueue, QueueConsumer, lambda_event};
use crate::retry::RetrySchedule;
use crate::runtime::{Context, SystemClock};
use crate::store::{DeliveryList, DeliveryRecord, EventOutbox, MemoryStore, Page, PageRequest, Recorded, WebhookList};

/// Fails the `fail_on`-th enqueue call; passes the others to a memory queue.
struct FlakyQueue {
    inner: MemoryQueue,
    calls: AtomicUsize,
    fail_on: usize,
}

#[async_trait]
impl DeliveryEnqueue for FlakyQueue {
    async fn enqueue(&self, messages: &[DeliveryMessage]) -> Result<(), Error> {
        if self.calls.fetch_add(1, Ordering::SeqCst) + 1 == self.fail_on {
            return Err(Error::unavailable("injected: the queue is unreachable"));
        }
        self.inner.enqueue(messages).await
    }
}

/// Fails the first `failures` plan writes and the first `failing_ticks` ticks of the
/// outbox; passes everything else to a memory store.
struct FlakyStore {
    inner: MemoryStore,
    failures: AtomicUsize,
    failing_ticks: AtomicUsize,
}

fn take_one(left: &AtomicUsize) -> bool {
    left.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1)).is_ok()
}

#[async_trait]
impl WebhookList for FlakyStore {
    async fn list_webhooks(&self, owner: EntityId, page: PageRequest) -> Result<Page<Webhook>, Error> {
        self.inner.list_webhooks(owner, page).await
    }
}

#[async_trait]
impl EventOutbox for FlakyStore {
    async fn open_fan_out(
        &self,
        owner: EntityId,
        plan: &FanOutPlan,
        now: Timestamp,
        ttl: Duration,
    ) -> Result<(FanOutPlan, bool), Error> {
        if take_one(&self.failures) {
            return Err(Error::unavailable("injected: DynamoDB is unreachable"));
        }
        self.inner.open_fan_out(owner, plan, now, ttl).await
    }

    async fn mark_enqueued(&self, owner: EntityId, event_id: &str, deliveries: &[Uuid]) -> Result<(), Error> {
        if take_one(&self.failing_ticks) {
            return Err(Error::unavailable("injected: the tick did not reach DynamoDB"));
        }
        self.inner.mark_enqueued(owner, event_id, deliveries).await
    }
}

#[async_trait]
impl DeliveryRecord for FlakyStore {
    async fn record_step(&self, step: &DeliveryStep) -> Result<Recorded, Error> {
        self.inner.record_step(step).await
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

#[tokio::test]
async fn a_queue_failure_midway_is_503_and_the_retry_enqueues_the_rest_once() {
    let ctx = context();
    let store = FlakyStore {
        inner: store_with_webhooks(&ctx, 25).await,
        failures: AtomicUsize::new(0),
        failing_ticks: AtomicUsize::new(0),
    };
    let queue = FlakyQueue { inner: MemoryQueue::new(Duration::from_secs(60)), calls: AtomicUsize::new(0), fail_on: 2 };

    let failed = publish_event(&ctx, &store, &queue, publish(Some("evt-1"))).await;
    assert_eq!(failed.status(), 503);
    assert_eq!(json_of(&failed)["type"], "/problems/unavailable");
    assert_eq!(queue.inner.len(), 10, "the first batch went out before the failure");

    let retried = publish_event(&ctx, &store, &queue, publish(Some("evt-1"))).await;
    assert_eq!(retried.status(), 202);
    assert_eq!(json_of(&retried), json!({"eventId": "evt-1", "deliveries": 25}));
    let counts = enqueued(&queue.inner).await;
    assert_eq!(counts.len(), 25, "every matching webhook has its delivery");
    assert!(counts.values().all(|n| *n == 1), "none twice: {counts:?}");
    let webhooks: std::collections::HashSet<_> = counts.keys().map(|(w, _)| w.clone()).collect();
    assert_eq!(webhooks.len(), 25);

    let again = publish_event(&ctx, &store, &queue, publish(Some("evt-1"))).await;
    assert_eq!((again.status().as_u16(), json_of(&again)["duplicate"].clone()), (200, json!(true)));
    assert!(enqueued(&queue.inner).await.is_empty(), "a duplicate enqueues nothing");
}

#[tokio::test]
async fn a_store_failure_before_enqueueing_is_503_and_the_retry_enqueues_everything_once() {
    let ctx = context();
    let store = FlakyStore {
        inner: store_with_webhooks(&ctx, 12).await,
        failures: AtomicUsize::new(1),
        failing_ticks: AtomicUsize::new(0),
    };
    let queue = FlakyQueue { inner: MemoryQueue::new(Duration::from_secs(60)), calls: AtomicUsize::new(0), fail_on: 0 };
    assert_eq!(publish_event(&ctx, &store, &queue, publish(Some("evt-2"))).await.status(), 503);
    assert!(queue.inner.is_empty(), "nothing was enqueued without its plan");
    assert_eq!(publish_event(&ctx, &store, &queue, publish(Some("evt-2"))).await.status(), 202);
    let counts = enqueued(&queue.inner).await;
    assert_eq!((counts.len(), counts.values().max().copied()), (12, Some(1)));
}

#[tokio::test]
async fn events_without_an_id_are_each_new() {
    let ctx = context();
    let store = FlakyStore {
        inner: store_with_webhooks(&ctx, 3).await,
        failures: AtomicUsize::new(0),
        failing_ticks: AtomicUsize::new(0),
    };
    let queue = FlakyQueue { inner: MemoryQueue::new(Duration::from_secs(60)), calls: AtomicUsize::new(0), fail_on: 0 };
    let first = json_of(&publish_event(&ctx, &store, &queue, publish(None)).await);
    let second = json_of(&publish_event(&ctx, &store, &queue, publish(None)).await);
    assert_ne!(first["eventId"], second["eventId"]);
    assert_eq!(enqueued(&queue.inner).await.len(), 6);
}

#[tokio::test]
async fn an_event_too_large_for_the_queue_is_413_and_plans_nothing() {
    let ctx = context();
    let store = FlakyStore {
        inner: store_with_webhooks(&ctx, 1).await,
        failures: AtomicUsize::new(0),
        failing_ticks: AtomicUsize::new(0),
    };
    let queue = FlakyQueue { inner: MemoryQueue::new(Duration::from_secs(60)), calls: AtomicUsize::new(0), fail_on: 0 };
    // Under the 256 KiB body limit, but over SQS's once wrapped in the delivery message.
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
    let schedule = RetrySchedule::parse("5s").expect("schedule");
    let deliverer = Deliverer { store, queue, sender, clock: &SystemClock, schedule: &schedule };
    let response = deliverer.deliver_batch(lambda_event(&received).expect("event")).await;
    assert!(response.batch_item_failures.is_empty(), "{response:?}");
    let handles: Vec<String> = received.into_iter().map(|m| m.receipt_handle).collect();
    queue.delete(&handles).await.expect("delete");
}

#[tokio::test]
async fn a_publish_resumed_after_its_batch_was_delivered_leaves_the_delivery_as_it_is() {
    let ctx = context();
    let inner = store_with_webhooks(&ctx, 1).await;
    let store = FlakyStore { inner, failures: AtomicUsize::new(0), failing_ticks: AtomicUsize::new(1) };
    let queue = FlakyQueue { inner: MemoryQueue::new(Duration::from_secs(60)), calls: AtomicUsize::new(0), fail_on: 0 };
    let receiver = answering(200);

    let failed = publish_event(&ctx, &store, &queue, publish(Some("evt-tick"))).await;
    assert_eq!(failed.status(), 503, "the tick failed after SQS took the batch");
    deliver_queued(&store.inner, &queue.inner, &receiver).await;
    let resumed = publish_event(&ctx, &store, &queue, publish(Some("evt-tick"))).await;
    assert_eq!(resumed.status(), 202, "the retry finishes the plan, enqueueing the batch again");
    deliver_queued(&store.inner, &queue.inner, &receiver).await;

    let webhook =
        store.inner.list_webhooks(EntityId::parse(ENTITY).expect("uuid"), PageRequest { limit: 1, after: None });
    let webhook_id = webhook.await.expect("list").items[0].info.id;
    let log = store.inner.list_deliveries(webhook_id, PageRequest { limit: 10, after: None }, None).await.expect("log");
    assert_eq!(log.items.len(), 1);
    assert_eq!((log.items[0].status, log.items[0].attempts.len()), (DeliveryStatus::Succeeded, 1));
    assert_eq!(receiver.sent.lock().expect("lock").len(), 1, "the receiver got the event once");
}
