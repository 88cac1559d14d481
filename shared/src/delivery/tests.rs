//! The deliver handler fed a real SQS event (`events/deliver-webhooks.json`), with a scripted
//! receiver.

use std::time::Duration;

use serde_json::{Value, json};

use super::*;
use crate::model::{
    Attempt, Catalog, Delivery, DeliveryMessage, DeliveryStatus, Owner, Timestamp, UrlPolicy, WebhookId, WebhookIn,
    WebhookRecord, WebhookRules, WebhookSecret,
};
use crate::queue::QueueConsumer;
use crate::retry::RetrySchedule;
use crate::runtime::SystemClock;
use crate::signing::sign;
use crate::store::{DeliveryList, DeliveryRecord, MemoryStore, PageRequest, Recorded, WebhookInsert};
use crate::testing::{OWNER, WEBHOOK, Waits, answering, message, run_with, sqs_event, store_of, store_with};

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

async fn run(store: &MemoryStore, sender: &dyn WebhookSender, waits: &Waits, event: SqsEvent) -> Vec<String> {
    let settings = Settings { schedule: RetrySchedule::parse("5s,5m,30m").expect("schedule"), ..Default::default() };
    run_with(store, sender, waits, (&SystemClock, &settings), event).await
}

#[tokio::test]
async fn success_is_recorded_and_the_message_released() {
    let (store, sender, waits) =
        (store_with(true, "https://api.example.com/hooks").await, answering(200), Waits::default());
    let failures = run(&store, &sender, &waits, sqs_event(1, None)).await;
    assert!(failures.is_empty());
    let delivery = stored_delivery(&store).await;
    assert_eq!(delivery.status, DeliveryStatus::Succeeded);
    assert_eq!((delivery.attempts.len(), delivery.last_status_code), (1, Some(200)));
    let sent = &sender.sent.lock().expect("lock")[0];
    let header = |name: &str| sent.headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
    assert_eq!(header("webhook-id").as_deref(), Some("evt-2026-11-22-0001"));
    assert_eq!(header("X-Api-Key").as_deref(), Some("abc"));
    let timestamp: i64 = header("webhook-timestamp").expect("timestamp").parse().expect("number");
    let signed = sign(&WebhookSecret::from_key(&[3; 32]), "evt-2026-11-22-0001", timestamp, &sent.body);
    assert_eq!(header("webhook-signature"), Some(signed.expect("a signature")));
}

// Paused time: the retry's delay passes at once when the test looks for it.
#[tokio::test(start_paused = true)]
async fn a_failure_with_attempts_left_sends_its_retry_delayed_and_holds_nothing() {
    let (store, sender, waits) =
        (store_with(true, "https://api.example.com/hooks").await, answering(503), Waits::default());
    with_failed_attempts(&store, 1).await;
    let retry = DeliveryMessage { step: 2, ..message() };
    let failures =
        run(&store, &sender, &waits, sqs_event(1, Some(&serde_json::to_string(&retry).expect("JSON")))).await;
    assert!(failures.is_empty(), "the message goes: its retry is a message of its own");
    let delivery = stored_delivery(&store).await;
    assert_eq!((delivery.status, delivery.attempts[1].attempt), (DeliveryStatus::Pending, 2));
    let due = delivery.next_attempt_at.expect("the next attempt's time");
    let wait = (due.get() - chrono::Utc::now()).num_seconds();
    assert!((235..=360).contains(&wait), "5m ± 20%, got {wait} s");
    let depths = waits.queue.depths().await.expect("depths");
    assert_eq!((depths.visible, depths.in_flight, depths.delayed), (0, 0, 1), "delayed, not in flight");
    let next = waits.sent().await;
    assert_eq!((next[0].step, next[0].due, next[0].delivery_id), (3, Some(due), message().delivery_id));
}

#[tokio::test]
async fn the_last_attempt_fails_for_good_and_releases_the_message() {
    let (store, sender, waits) =
        (store_with(true, "https://api.example.com/hooks").await, answering(500), Waits::default());
    with_failed_attempts(&store, 3).await;
    let last = serde_json::to_string(&DeliveryMessage { step: 4, ..message() }).expect("JSON");
    let failures = run(&store, &sender, &waits, sqs_event(1, Some(&last))).await;
    assert!(failures.is_empty() && waits.queue.is_empty());
    assert_eq!(stored_delivery(&store).await.status, DeliveryStatus::Failed);
}

/// The last attempt of the fixture's delivery, of an event of `event_type`, failing to a webhook
/// that lists its own failures: the notices the queue then holds, by type.
async fn told_of_the_last_failure(event_type: &str) -> Vec<String> {
    let body = json!({"name": "Ops", "eventUrl": "https://api.example.com/hooks",
        "eventList": ["booking.created", "webhook.*", "delivery.exhausted"]});
    let (store, sender, waits) = (store_of(body).await, answering(500), Waits::default());
    with_failed_attempts(&store, 3).await;
    let mut last = DeliveryMessage { step: 4, ..message() };
    if let crate::model::CarriedEvent::Whole(event) = &mut last.event {
        event.event_type = event_type.into();
    }
    let last = serde_json::to_string(&last).expect("JSON");
    assert!(run(&store, &sender, &waits, sqs_event(1, Some(&last))).await.is_empty());
    assert_eq!(stored_delivery(&store).await.status, DeliveryStatus::Failed);
    waits.sent().await.into_iter().filter_map(|m| m.event.whole().map(|e| e.event_type.clone())).collect()
}

// Paused time: `Waits::sent` looks as far ahead as SQS delays go.
#[tokio::test(start_paused = true)]
async fn a_last_attempt_failing_tells_the_entity_but_never_of_a_notices_own_failure() {
    let mut told = told_of_the_last_failure("booking.created").await;
    told.sort_unstable();
    assert_eq!(told, ["delivery.exhausted", "webhook.failing"], "exhausted, and failing after no success");
    for notice in ["delivery.exhausted", "webhook.failing"] {
        assert_eq!(told_of_the_last_failure(notice).await, Vec::<String>::new(), "{notice}: no notice of a notice");
    }
}

#[tokio::test]
async fn a_message_received_again_after_a_crash_is_still_attempt_one() {
    let (store, sender, waits) =
        (store_with(true, "https://api.example.com/hooks").await, answering(200), Waits::default());
    // SQS counts three receives, but no invocation before this one recorded an attempt.
    assert!(run(&store, &sender, &waits, sqs_event(3, None)).await.is_empty());
    let delivery = stored_delivery(&store).await;
    assert_eq!((delivery.status, delivery.attempts[0].attempt), (DeliveryStatus::Succeeded, 1));
}

#[tokio::test]
async fn a_copy_of_a_finished_delivery_sends_nothing() {
    let (store, sender, waits) =
        (store_with(true, "https://api.example.com/hooks").await, answering(200), Waits::default());
    assert!(run(&store, &sender, &waits, sqs_event(1, None)).await.is_empty());
    // The message received again, and a copy a retried publish sent: both read the record.
    assert!(run(&store, &sender, &waits, sqs_event(2, None)).await.is_empty(), "the copy is released");
    let resent = serde_json::to_string(&DeliveryMessage { resent: true, ..message() }).expect("JSON");
    assert!(run(&store, &sender, &waits, sqs_event(1, Some(&resent))).await.is_empty());
    assert_eq!(sender.sent.lock().expect("lock").len(), 1, "the receiver had it once");
    assert_eq!(stored_delivery(&store).await.attempts.len(), 1);
}

#[tokio::test]
async fn a_resent_copy_leaves_a_started_delivery_to_its_original_and_carries_an_unstarted_one() {
    let (store, sender, waits) =
        (store_with(true, "https://api.example.com/hooks").await, answering(200), Waits::default());
    let resent = serde_json::to_string(&DeliveryMessage { resent: true, ..message() }).expect("JSON");
    assert!(run(&store, &sender, &waits, sqs_event(1, Some(&resent))).await.is_empty());
    assert_eq!(sender.sent.lock().expect("lock").len(), 1, "nothing had started: the copy carries it");

    let (store, sender) = (store_with(true, "https://api.example.com/hooks").await, answering(200));
    // The original's first attempt failed and it waits for its retry.
    with_failed_attempts(&store, 1).await;
    assert!(run(&store, &sender, &waits, sqs_event(1, Some(&resent))).await.is_empty(), "the copy is dropped");
    assert!(sender.sent.lock().expect("lock").is_empty(), "no early retry");
    let delivery = stored_delivery(&store).await;
    assert_eq!((delivery.status, delivery.attempts.len()), (DeliveryStatus::Pending, 1));
}

#[tokio::test]
async fn two_first_copies_at_once_record_one_attempt() {
    let (store, sender, waits) =
        (store_with(true, "https://api.example.com/hooks").await, answering(200), Waits::default());
    let (first, second) = tokio::join!(
        run(&store, &sender, &waits, sqs_event(1, None)),
        run(&store, &sender, &waits, sqs_event(1, None))
    );
    assert!(first.is_empty() && second.is_empty());
    let delivery = stored_delivery(&store).await;
    assert_eq!((delivery.status, delivery.attempts.len()), (DeliveryStatus::Succeeded, 1));
}

#[tokio::test]
async fn a_disabled_webhook_is_skipped_without_a_request() {
    let (store, sender, waits) =
        (store_with(false, "https://api.example.com/hooks").await, answering(200), Waits::default());
    assert!(run(&store, &sender, &waits, sqs_event(1, None)).await.is_empty());
    assert!(sender.sent.lock().expect("lock").is_empty());
    let delivery = stored_delivery(&store).await;
    assert_eq!((delivery.status, delivery.attempts.len()), (DeliveryStatus::Skipped, 0));
}

#[tokio::test]
async fn an_unreadable_message_is_kept_for_the_dead_letter_queue() {
    let (store, sender, waits) =
        (store_with(true, "https://api.example.com/hooks").await, answering(200), Waits::default());
    let failures = run(&store, &sender, &waits, sqs_event(1, Some("not json"))).await;
    assert_eq!(failures.len(), 1);
    assert!(sender.sent.lock().expect("lock").is_empty());
}

#[tokio::test(start_paused = true)]
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
    let waits = Waits::default();
    assert!(run(&store, &strict, &waits, sqs_event(1, None)).await.is_empty());
    assert_eq!(waits.sent().await.len(), 1, "retried like any failure");
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
    let webhook =
        WebhookRecord::create(input, id, Owner::Global, "user", Some("user"), now, WebhookSecret::from_key(&[3; 32]));
    store.insert_webhook(&webhook).await.expect("insert webhook");
    store
}

fn global_event() -> SqsEvent {
    let message = DeliveryMessage { global: true, ..message() };
    sqs_event(1, Some(&serde_json::to_string(&message).expect("JSON")))
}

#[tokio::test]
async fn a_global_webhook_is_sent_an_entitys_event_only_while_it_covers_the_entity() {
    let (sender, waits) = (answering(200), Waits::default());
    let covering = global_store(json!([OWNER])).await;
    assert!(run(&covering, &sender, &waits, global_event()).await.is_empty());
    let sent: Value = serde_json::from_str(&sender.sent.lock().expect("lock")[0].body).expect("JSON body");
    assert_eq!(sent["ownerIdentifier"], OWNER, "the body names the entity the event was published for");

    let narrowed = global_store(json!(["0d9e8f7a-6b5c-4d3e-8f2a-1b0c9d8e7f6a"])).await;
    let sender = answering(200);
    assert!(run(&narrowed, &sender, &waits, global_event()).await.is_empty());
    assert!(sender.sent.lock().expect("lock").is_empty(), "no longer covered: nothing sent");
    assert_eq!(stored_delivery(&narrowed).await.status, DeliveryStatus::Skipped);
}
