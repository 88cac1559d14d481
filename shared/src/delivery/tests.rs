//! The deliver handler fed a real SQS event (`events/deliver-webhooks.json`), with a scripted
//! receiver.

use std::sync::Mutex;

use async_trait::async_trait;
use serde_json::{Value, json};

use super::*;
use crate::model::{Catalog, Delivery, EntityId, Owner, UrlPolicy, WebhookId, WebhookIn, WebhookRules, WebhookSecret};
use crate::publish::Notices;
use crate::queue::{MemoryQueue, QueueError};
use crate::runtime::{RandomIds, SystemClock};
use crate::store::{DeliveryList, DeliveryRecord, MemoryStore, PageRequest, WebhookInsert};

const WEBHOOK: &str = "0193f0a0-1111-7222-8333-444455556666";
const OWNER: &str = "d5b8a3c2-9e6f-4a1b-8d34-7c2e1f0a5b69";

/// Answers with a fixed result and remembers what it was sent.
pub(crate) struct ScriptedSender {
    answer: Result<Answer, String>,
    pub(crate) sent: Mutex<Vec<Outgoing>>,
}

#[async_trait]
impl WebhookSender for ScriptedSender {
    async fn send(&self, request: Outgoing) -> Result<Answer, String> {
        self.sent.lock().expect("lock").push(request);
        self.answer.clone()
    }
}

pub(crate) fn answering(status: u16) -> ScriptedSender {
    ScriptedSender { answer: Ok(Answer { status, retry_after: None, body: "ok".into() }), sent: Mutex::new(Vec::new()) }
}

#[derive(Default)]
pub(super) struct RecordedDelays(Mutex<Vec<(String, Duration)>>);

#[async_trait]
impl VisibilityDelay for RecordedDelays {
    async fn delay_message(&self, receipt_handle: &str, delay: Duration) -> Result<(), QueueError> {
        self.0.lock().expect("lock").push((receipt_handle.to_string(), delay));
        Ok(())
    }
}

pub(super) fn event(receive_count: u32, body: Option<&str>) -> SqsEvent {
    let mut event: Value =
        serde_json::from_str(include_str!("../../../events/deliver-webhooks.json")).expect("fixture");
    event["Records"][0]["attributes"]["ApproximateReceiveCount"] = json!(receive_count.to_string());
    if let Some(body) = body {
        event["Records"][0]["body"] = json!(body);
    }
    serde_json::from_value(event).expect("lambda's SQS event")
}

pub(super) async fn store_with(enabled: bool, url: &str) -> MemoryStore {
    let store = MemoryStore::new();
    let body = json!({"name": "Sync", "eventUrl": url, "enabled": enabled, "headers": {"X-Api-Key": "abc"}});
    let owner = Owner::Entity(EntityId::parse(OWNER).expect("uuid"));
    let rules = WebhookRules { owner, policy: UrlPolicy { allow_private: true }, catalog: Catalog::defaults() };
    let input = WebhookIn::parse(body.as_object().expect("object"), &rules, None).expect("valid webhook");
    let webhook = Webhook::create(
        input,
        WebhookId::parse(WEBHOOK).expect("uuid"),
        owner,
        "user",
        Timestamp::new(chrono::Utc::now()),
        WebhookSecret::from_key(&[3; 32]),
    );
    store.insert_webhook(&webhook).await.expect("insert webhook");
    store
}

pub(super) fn message() -> DeliveryMessage {
    serde_json::from_str(event(1, None).records[0].body.as_deref().expect("body")).expect("message")
}

/// Records `count` attempts the receiver answered 503, as earlier invocations would have.
async fn with_failed_attempts(store: &MemoryStore, count: usize) {
    for recorded in 0..count {
        let number = u32::try_from(recorded + 1).expect("small");
        let attempt = Attempt {
            attempt: number,
            at: Timestamp::new(chrono::Utc::now()),
            status_code: Some(503),
            duration_ms: 5,
            error: Some("the receiver answered 503".into()),
            response_body: None,
        };
        let mut step = message().step(number, DeliveryStatus::Pending);
        step.attempt = Some(attempt);
        assert_eq!(store.record_step(&step).await.expect("record an attempt"), Recorded::Written);
    }
}

async fn stored_delivery(store: &MemoryStore) -> Delivery {
    let page = store
        .list_deliveries(WebhookId::parse(WEBHOOK).expect("uuid"), PageRequest { limit: 1, after: None }, None)
        .await
        .expect("list");
    page.items.into_iter().next().expect("the delivery")
}

async fn run(store: &MemoryStore, sender: &dyn WebhookSender, delays: &RecordedDelays, event: SqsEvent) -> Vec<String> {
    let settings =
        DeliverySettings { schedule: RetrySchedule::parse("5s,5m,30m").expect("schedule"), ..Default::default() };
    let queue = MemoryQueue::new(Duration::from_secs(60));
    run_with(store, sender, delays, (&SystemClock, &settings, &queue), event).await
}

/// The deliver handler on `event`, at `clock`'s time, publishing notices to `queue`; answers
/// the ids of the messages to retry.
pub(super) async fn run_with(
    store: &MemoryStore,
    sender: &dyn WebhookSender,
    delays: &RecordedDelays,
    (clock, settings, queue): (&dyn Clock, &DeliverySettings, &MemoryQueue),
    event: SqsEvent,
) -> Vec<String> {
    let notices = Notices { store, queue, ids: &RandomIds, resend_delay: settings.resend_delay };
    let deliverer = Deliverer { store, queue: delays, fifo_queue: delays, sender, clock, notices: &notices, settings };
    deliverer.deliver_batch(event).await.batch_item_failures.into_iter().map(|f| f.item_identifier).collect()
}

#[tokio::test]
async fn success_is_recorded_and_the_message_released() {
    let (store, sender, delays) =
        (store_with(true, "https://api.example.com/hooks").await, answering(200), RecordedDelays::default());
    let failures = run(&store, &sender, &delays, event(1, None)).await;
    assert!(failures.is_empty());
    let delivery = stored_delivery(&store).await;
    assert_eq!(delivery.status, DeliveryStatus::Succeeded);
    assert_eq!((delivery.attempts.len(), delivery.last_status_code), (1, Some(200)));
    let sent = &sender.sent.lock().expect("lock")[0];
    let header = |name: &str| sent.headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
    assert_eq!(header("webhook-id").as_deref(), Some("evt-2026-11-22-0001"));
    assert_eq!(header("X-Api-Key").as_deref(), Some("abc"));
    let timestamp: i64 = header("webhook-timestamp").expect("timestamp").parse().expect("number");
    let key = WebhookSecret::from_key(&[3; 32]).key().expect("key");
    assert_eq!(header("webhook-signature"), Some(sign(&key, "evt-2026-11-22-0001", timestamp, &sent.body)));
}

#[tokio::test]
async fn a_failure_with_attempts_left_is_hidden_for_the_next_delay_and_reported() {
    let (store, sender, delays) =
        (store_with(true, "https://api.example.com/hooks").await, answering(503), RecordedDelays::default());
    with_failed_attempts(&store, 1).await;
    let failures = run(&store, &sender, &delays, event(2, None)).await;
    assert_eq!(failures, ["059f36b4-87a3-44ab-83d2-661975830a7d"]);
    let (receipt, delay) = delays.0.lock().expect("lock")[0].clone();
    assert!(receipt.starts_with("AQEBwJnKyrHigUMZj6rYigCgxlaS3SLy"));
    assert!((240..=360).contains(&delay.as_secs()), "5m ± 20%, got {delay:?}");
    let delivery = stored_delivery(&store).await;
    assert_eq!((delivery.status, delivery.attempts[1].attempt), (DeliveryStatus::Pending, 2));
    assert!(delivery.next_attempt_at.is_some());
}

#[tokio::test]
async fn the_last_attempt_fails_for_good_and_releases_the_message() {
    let (store, sender, delays) =
        (store_with(true, "https://api.example.com/hooks").await, answering(500), RecordedDelays::default());
    with_failed_attempts(&store, 3).await;
    let failures = run(&store, &sender, &delays, event(4, None)).await;
    assert!(failures.is_empty() && delays.0.lock().expect("lock").is_empty());
    assert_eq!(stored_delivery(&store).await.status, DeliveryStatus::Failed);
}

#[tokio::test]
async fn a_message_received_again_after_a_crash_is_still_attempt_one() {
    let (store, sender, delays) =
        (store_with(true, "https://api.example.com/hooks").await, answering(200), RecordedDelays::default());
    // SQS counts three receives, but no invocation before this one recorded an attempt.
    assert!(run(&store, &sender, &delays, event(3, None)).await.is_empty());
    let delivery = stored_delivery(&store).await;
    assert_eq!((delivery.status, delivery.attempts[0].attempt), (DeliveryStatus::Succeeded, 1));
}

#[tokio::test]
async fn a_copy_of_a_finished_delivery_sends_nothing() {
    let (store, sender, delays) =
        (store_with(true, "https://api.example.com/hooks").await, answering(200), RecordedDelays::default());
    assert!(run(&store, &sender, &delays, event(1, None)).await.is_empty());
    // The message received again, and a copy a retried publish sent: both read the record.
    assert!(run(&store, &sender, &delays, event(2, None)).await.is_empty(), "the copy is released");
    let resent = serde_json::to_string(&DeliveryMessage { resent: true, ..message() }).expect("JSON");
    assert!(run(&store, &sender, &delays, event(1, Some(&resent))).await.is_empty());
    assert_eq!(sender.sent.lock().expect("lock").len(), 1, "the receiver had it once");
    assert_eq!(stored_delivery(&store).await.attempts.len(), 1);
}

#[tokio::test]
async fn a_resent_copy_leaves_a_started_delivery_to_its_original_and_carries_an_unstarted_one() {
    let (store, sender, delays) =
        (store_with(true, "https://api.example.com/hooks").await, answering(200), RecordedDelays::default());
    let resent = serde_json::to_string(&DeliveryMessage { resent: true, ..message() }).expect("JSON");
    assert!(run(&store, &sender, &delays, event(1, Some(&resent))).await.is_empty());
    assert_eq!(sender.sent.lock().expect("lock").len(), 1, "nothing had started: the copy carries it");

    let (store, sender) = (store_with(true, "https://api.example.com/hooks").await, answering(200));
    // The original's first attempt failed and it waits for its retry.
    with_failed_attempts(&store, 1).await;
    assert!(run(&store, &sender, &delays, event(1, Some(&resent))).await.is_empty(), "the copy is dropped");
    assert!(sender.sent.lock().expect("lock").is_empty(), "no early retry");
    let delivery = stored_delivery(&store).await;
    assert_eq!((delivery.status, delivery.attempts.len()), (DeliveryStatus::Pending, 1));
}

#[tokio::test]
async fn two_first_copies_at_once_record_one_attempt() {
    let (store, sender, delays) =
        (store_with(true, "https://api.example.com/hooks").await, answering(200), RecordedDelays::default());
    let (first, second) =
        tokio::join!(run(&store, &sender, &delays, event(1, None)), run(&store, &sender, &delays, event(1, None)));
    assert!(first.is_empty() && second.is_empty());
    let delivery = stored_delivery(&store).await;
    assert_eq!((delivery.status, delivery.attempts.len()), (DeliveryStatus::Succeeded, 1));
}

#[tokio::test]
async fn a_disabled_webhook_is_skipped_without_a_request() {
    let (store, sender, delays) =
        (store_with(false, "https://api.example.com/hooks").await, answering(200), RecordedDelays::default());
    assert!(run(&store, &sender, &delays, event(1, None)).await.is_empty());
    assert!(sender.sent.lock().expect("lock").is_empty());
    let delivery = stored_delivery(&store).await;
    assert_eq!((delivery.status, delivery.attempts.len()), (DeliveryStatus::Skipped, 0));
}

#[tokio::test]
async fn an_unreadable_message_is_kept_for_the_dead_letter_queue() {
    let (store, sender, delays) =
        (store_with(true, "https://api.example.com/hooks").await, answering(200), RecordedDelays::default());
    let failures = run(&store, &sender, &delays, event(1, Some("not json"))).await;
    assert_eq!(failures.len(), 1);
    assert!(sender.sent.lock().expect("lock").is_empty());
}

#[tokio::test]
async fn a_private_target_is_refused_at_delivery() {
    // A receiver that would answer, so that only the address guard can stop the delivery.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("address").port();
    let connections = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counted = connections.clone();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            counted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let _ =
                tokio::io::AsyncWriteExt::write_all(&mut socket, b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n").await;
        }
    });
    let store = store_with(true, &format!("http://127.0.0.1:{port}/hooks")).await;
    let strict = HttpSender::new(Duration::from_secs(2), UrlPolicy::default()).expect("sender");
    let delays = RecordedDelays::default();
    assert_eq!(run(&store, &strict, &delays, event(1, None)).await.len(), 1, "retried like any failure");
    let delivery = stored_delivery(&store).await;
    let error = delivery.last_error.expect("an error");
    assert!(error.contains("private or reserved address") && error.contains("127.0.0.1"), "{error}");
    assert_eq!(connections.load(std::sync::atomic::Ordering::SeqCst), 0, "no connection was made");
}

/// A store holding the message's webhook as a global one covering `entities`.
async fn global_store(entities: Value) -> MemoryStore {
    let store = MemoryStore::new();
    let body = json!({"name": "Partner", "eventUrl": "https://api.example.com/hooks", "entities": entities});
    let policy = UrlPolicy { allow_private: true };
    let input = WebhookIn::parse(
        body.as_object().expect("object"),
        &WebhookRules { owner: Owner::Global, policy, catalog: Catalog::defaults() },
        None,
    )
    .expect("valid webhook");
    let (id, now) = (WebhookId::parse(WEBHOOK).expect("uuid"), Timestamp::new(chrono::Utc::now()));
    let webhook = Webhook::create(input, id, Owner::Global, "user", now, WebhookSecret::from_key(&[3; 32]));
    store.insert_webhook(&webhook).await.expect("insert webhook");
    store
}

fn global_event() -> SqsEvent {
    let message = DeliveryMessage { global: true, ..message() };
    event(1, Some(&serde_json::to_string(&message).expect("JSON")))
}

#[tokio::test]
async fn a_global_webhook_is_sent_an_entitys_event_only_while_it_covers_the_entity() {
    let (sender, delays) = (answering(200), RecordedDelays::default());
    let covering = global_store(json!([OWNER])).await;
    assert!(run(&covering, &sender, &delays, global_event()).await.is_empty());
    let sent: Value = serde_json::from_str(&sender.sent.lock().expect("lock")[0].body).expect("JSON body");
    assert_eq!(sent["ownerIdentifier"], OWNER, "the body names the entity the event was published for");

    let narrowed = global_store(json!(["0d9e8f7a-6b5c-4d3e-8f2a-1b0c9d8e7f6a"])).await;
    let sender = answering(200);
    assert!(run(&narrowed, &sender, &delays, global_event()).await.is_empty());
    assert!(sender.sent.lock().expect("lock").is_empty(), "no longer covered: nothing sent");
    assert_eq!(stored_delivery(&narrowed).await.status, DeliveryStatus::Skipped);
}
