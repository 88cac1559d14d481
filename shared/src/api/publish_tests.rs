//! Publishing under injected faults: a failure midway answers 503, and the retry with the
//! same event id finishes the fan-out, so that every matching webhook receives the event once.

use std::collections::HashMap;
use std::sync::atomic::AtomicUsize;
use std::time::Duration;

use serde_json::{Value, json};

use super::events::{publish_event, publish_events};
use super::serve;
use super::tests::{context, create, json_of};
use crate::config::Settings;
use crate::delivery::{Deliverer, WebhookSender};
use crate::model::{DeliveryStatus, EntityId};
use crate::queue::{MemoryQueue, QueueConsumer, Routed, lambda_event};
use crate::retry::RetrySchedule;
use crate::runtime::ApiContext;
use crate::store::{DeliveryList, MemoryStore, PageRequest, WebhookSubscribers};
use crate::testing::{ApiEvent, ENTITY, FlakyQueue, FlakyStore, RecordingTimer, ScriptedSender, answering};

fn publish(id: Option<&str>) -> lambda_http::Request {
    let mut body = json!({"type": "booking.created", "data": {"bookingId": "b-1"}});
    if let Some(id) = id {
        body["id"] = json!(id);
    }
    ApiEvent::create_webhook()
        .route("POST", "/api/managing-entity/{entityId}/event", &[("entityId", ENTITY)])
        .body(&body)
        .request()
}

async fn store_with_webhooks(ctx: &ApiContext, count: usize) -> MemoryStore {
    let store = MemoryStore::new();
    for _ in 0..count {
        create(ctx, &store).await;
    }
    store
}

/// What the SQS trigger does until the queue is idle (delayed messages wait, unless time is
/// moved on): every visible message to the deliver handler, then the handled ones deleted.
async fn deliver_queued(store: &MemoryStore, queue: &MemoryQueue, sender: &dyn WebhookSender) {
    let settings = Settings { schedule: RetrySchedule::parse("5s").expect("schedule"), ..Default::default() };
    let fifo = MemoryQueue::new(Duration::from_secs(60)).fifo();
    let queues = Routed { unordered: queue, fifo: &fifo };
    let timer = RecordingTimer::default();
    let deliverer = Deliverer::new(store, queues, &timer, sender, &settings);
    loop {
        let received = queue.receive(10, Duration::ZERO).await.expect("receive");
        if received.is_empty() {
            return;
        }
        let response = deliverer.deliver_batch(lambda_event(&received, &queue.arn())).await;
        assert!(response.batch_item_failures.is_empty(), "{response:?}");
        let handles: Vec<String> = received.into_iter().map(|m| m.receipt_handle).collect();
        queue.delete(&handles).await.expect("delete");
    }
}

/// The webhooks each POST went to, counted.
fn posts_per_webhook(receiver: &ScriptedSender) -> HashMap<String, usize> {
    let mut counts = HashMap::new();
    for request in receiver.sent.lock().expect("lock").iter() {
        let body: Value = serde_json::from_str(&request.body).expect("JSON");
        *counts.entry(body["webhookId"].as_str().unwrap_or("").to_string()).or_default() += 1;
    }
    counts
}

// Paused time: the retry's copies are delayed, and the delay passes at once.
#[tokio::test(start_paused = true)]
async fn a_queue_failure_after_the_plan_is_503_with_the_event_id_and_the_retry_delivers_every_one_once() {
    let ctx = context();
    let store = FlakyStore { inner: store_with_webhooks(&ctx, 25).await, failures: AtomicUsize::new(0) };
    let queue = FlakyQueue { inner: MemoryQueue::new(Duration::from_secs(60)), calls: AtomicUsize::new(0), fail_on: 1 };
    let receiver = answering(200);

    // No id: the client's Idempotency-Key stands for one.
    let keyed = || {
        let mut request = publish(None);
        request.headers_mut().insert("idempotency-key", "order-7-confirmed".parse().expect("header"));
        request
    };
    let failed = serve(keyed(), |request| publish_event(&ctx, &store, &queue, request)).await;
    assert_eq!(failed.status(), 503);
    let problem = json_of(&failed);
    assert_eq!(problem["type"], "/problems/unavailable");
    let event_id = problem["properties"]["eventId"].as_str().expect("the stored event's id").to_string();
    assert!(queue.inner.is_empty(), "the one batch of the fan-out failed");

    let retried = serve(keyed(), |request| publish_event(&ctx, &store, &queue, request)).await;
    assert_eq!(retried.status(), 200);
    assert_eq!(json_of(&retried), json!({"eventId": event_id, "duplicate": true}));
    tokio::time::advance(ctx.settings.resend_delay).await;
    deliver_queued(&store.inner, &queue.inner, &receiver).await;
    let counts = posts_per_webhook(&receiver);
    assert_eq!((counts.len(), counts.values().max().copied()), (25, Some(1)), "every matching webhook once");

    let again = serve(keyed(), |request| publish_event(&ctx, &store, &queue, request)).await;
    assert_eq!((again.status().as_u16(), json_of(&again)["duplicate"].clone()), (200, json!(true)));
    tokio::time::advance(ctx.settings.resend_delay).await;
    deliver_queued(&store.inner, &queue.inner, &receiver).await;
    assert_eq!(posts_per_webhook(&receiver).values().max().copied(), Some(1), "a duplicate sends nothing again");
}

// Paused time: the page sent back waits out its backoff at once.
#[tokio::test(start_paused = true)]
async fn a_fan_out_page_that_fails_midway_is_sent_back_and_sends_each_delivery_once() {
    let ctx = context();
    let store = FlakyStore { inner: store_with_webhooks(&ctx, 25).await, failures: AtomicUsize::new(0) };
    // The publish's batch, then the page's first ten: the second ten fail.
    let queue = FlakyQueue { inner: MemoryQueue::new(Duration::from_secs(60)), calls: AtomicUsize::new(0), fail_on: 3 };
    assert_eq!(
        serve(publish(Some("evt-paged")), |request| publish_event(&ctx, &store, &queue, request)).await.status(),
        202
    );
    let receiver = answering(200);
    let pages = queue.inner.receive(10, Duration::ZERO).await.expect("receive");
    let queues = Routed { unordered: &queue, fifo: &queue };
    let (settings, timer) = (Settings::default(), RecordingTimer::default());
    let deliverer = Deliverer::new(&store.inner, queues, &timer, &receiver, &settings);
    let response = deliverer.deliver_batch(lambda_event(&pages, &queue.inner.arn())).await;
    assert!(response.batch_item_failures.is_empty(), "sent back as a new message, not kept");
    queue.inner.delete(&pages.into_iter().map(|m| m.receipt_handle).collect::<Vec<_>>()).await.expect("delete");
    tokio::time::advance(Duration::from_secs(60)).await;
    deliver_queued(&store.inner, &queue.inner, &receiver).await;
    let counts = posts_per_webhook(&receiver);
    assert_eq!((counts.len(), counts.values().max().copied()), (25, Some(1)), "every webhook once");
}

#[tokio::test]
async fn a_store_failure_before_enqueueing_is_503_and_the_retry_enqueues_everything_once() {
    let ctx = context();
    let store = FlakyStore { inner: store_with_webhooks(&ctx, 12).await, failures: AtomicUsize::new(1) };
    let queue = FlakyQueue { inner: MemoryQueue::new(Duration::from_secs(60)), calls: AtomicUsize::new(0), fail_on: 0 };
    let failed = serve(publish(Some("evt-2")), |request| publish_event(&ctx, &store, &queue, request)).await;
    assert_eq!(failed.status(), 503);
    assert_eq!(json_of(&failed)["properties"]["eventId"], Value::Null, "nothing was stored: no event to name");
    assert!(queue.inner.is_empty(), "nothing was enqueued without its plan");
    // Nothing was stored either: the retry is a first publish, sent at once.
    assert_eq!(
        serve(publish(Some("evt-2")), |request| publish_event(&ctx, &store, &queue, request)).await.status(),
        202
    );
    let receiver = answering(200);
    deliver_queued(&store.inner, &queue.inner, &receiver).await;
    let counts = posts_per_webhook(&receiver);
    assert_eq!((counts.len(), counts.values().max().copied()), (12, Some(1)));
}

#[tokio::test]
async fn events_without_an_id_are_each_new_and_a_key_used_for_another_event_is_refused() {
    let ctx = context();
    let store = FlakyStore { inner: store_with_webhooks(&ctx, 3).await, failures: AtomicUsize::new(0) };
    let queue = FlakyQueue { inner: MemoryQueue::new(Duration::from_secs(60)), calls: AtomicUsize::new(0), fail_on: 0 };
    let first = json_of(&serve(publish(None), |request| publish_event(&ctx, &store, &queue, request)).await);
    let second = json_of(&serve(publish(None), |request| publish_event(&ctx, &store, &queue, request)).await);
    assert_ne!(first["eventId"], second["eventId"]);
    assert_eq!(queue.inner.len(), 6);

    let keyed = |data: Value| {
        let mut request = ApiEvent::create_webhook()
            .route("POST", "/api/managing-entity/{entityId}/event", &[("entityId", ENTITY)])
            .body(&json!({"type": "booking.created", "data": data}))
            .request();
        request.headers_mut().insert("idempotency-key", "k-1".parse().expect("header"));
        request
    };
    assert_eq!(
        serve(keyed(json!({"bookingId": "b-1"})), |request| publish_event(&ctx, &store, &queue, request))
            .await
            .status(),
        202
    );
    let other = serve(keyed(json!({"bookingId": "b-2"})), |request| publish_event(&ctx, &store, &queue, request)).await;
    assert_eq!(other.status(), 422);
    assert_eq!(json_of(&other)["properties"]["errors"][0]["field"], "Idempotency-Key");
}

#[tokio::test]
async fn an_event_at_the_body_limit_reaches_every_webhook() {
    let ctx = context();
    let store = FlakyStore { inner: store_with_webhooks(&ctx, 10).await, failures: AtomicUsize::new(0) };
    let queue = FlakyQueue { inner: MemoryQueue::new(Duration::from_secs(60)), calls: AtomicUsize::new(0), fail_on: 0 };
    // Characters SQS refuses in a message, which it must carry escaped.
    let blob = format!("\u{fffe}{}\u{ffff}", "x".repeat(256 * 1024 - 200));
    let body = json!({"id": "big", "type": "booking.created", "data": {"blob": blob}});
    assert!(body.to_string().len() <= super::MAX_BODY_BYTES);
    let request = ApiEvent::create_webhook()
        .route("POST", "/api/managing-entity/{entityId}/event", &[("entityId", ENTITY)])
        .body(&body)
        .request();
    assert_eq!(serve(request, |request| publish_event(&ctx, &store, &queue, request)).await.status(), 202);
    let receiver = answering(200);
    deliver_queued(&store.inner, &queue.inner, &receiver).await;
    assert_eq!(posts_per_webhook(&receiver).len(), 10);
}

#[tokio::test]
async fn a_publish_retried_after_its_delivery_succeeded_leaves_it_as_it_is() {
    let ctx = context();
    let store = FlakyStore { inner: store_with_webhooks(&ctx, 1).await, failures: AtomicUsize::new(0) };
    let queue = FlakyQueue { inner: MemoryQueue::new(Duration::from_secs(60)), calls: AtomicUsize::new(0), fail_on: 0 };
    let receiver = answering(200);

    assert_eq!(
        serve(publish(Some("evt-twice")), |request| publish_event(&ctx, &store, &queue, request)).await.status(),
        202
    );
    deliver_queued(&store.inner, &queue.inner, &receiver).await;
    // The client lost the 202 and publishes again.
    let again = serve(publish(Some("evt-twice")), |request| publish_event(&ctx, &store, &queue, request)).await;
    assert_eq!((again.status().as_u16(), json_of(&again)["duplicate"].clone()), (200, json!(true)));
    assert!(queue.inner.is_empty(), "nothing sent again");

    let webhooks = store.inner.subscribers(EntityId::parse(ENTITY).expect("uuid")).await.expect("list");
    let webhook_id = webhooks[0].info.id;
    let log = store.inner.list_deliveries(webhook_id, PageRequest { limit: 10, after: None }, None).await.expect("log");
    assert_eq!(log.items.len(), 1);
    assert_eq!((log.items[0].status, log.items[0].attempts.len()), (DeliveryStatus::Succeeded, 1));
    assert_eq!(receiver.sent.lock().expect("lock").len(), 1, "the receiver got the event once");
}

// Paused time: the repeat's copies are delayed, and the delay passes at once.
#[tokio::test(start_paused = true)]
async fn a_repeat_in_a_batch_of_an_event_whose_publish_stopped_midway_finishes_it() {
    let ctx = context();
    let store = store_with_webhooks(&ctx, 3).await;
    let queue = FlakyQueue { inner: MemoryQueue::new(Duration::from_secs(60)), calls: AtomicUsize::new(0), fail_on: 1 };
    let receiver = answering(200);
    let event = json!({"id": "evt-9", "type": "booking.created", "data": {"bookingId": "b-9"}});
    let batch = ApiEvent::create_webhook()
        .route("POST", "/api/managing-entity/{entityId}/events", &[("entityId", ENTITY)])
        .body(&json!({"events": [event, event]}))
        .request();
    let answered = serve(batch, |request| publish_events(&ctx, &store, &queue, request)).await;
    let statuses: Vec<u64> =
        json_of(&answered)["items"].as_array().expect("items").iter().filter_map(|i| i["status"].as_u64()).collect();
    assert_eq!(statuses, [503, 200], "the first stopped after its event was stored; the repeat is its retry");
    tokio::time::advance(ctx.settings.resend_delay).await;
    deliver_queued(&store, &queue.inner, &receiver).await;
    let counts = posts_per_webhook(&receiver);
    assert_eq!((counts.len(), counts.values().max().copied()), (3, Some(1)), "every matching webhook once");
}
