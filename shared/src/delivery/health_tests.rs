//! Auto-disable in the deliver step on an injected clock: a webhook failing for the
//! disable-after is disabled by its next failure, and its entity's subscriber is told.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::json;
use uuid::Uuid;

use super::*;
use crate::model::{
    Catalog, DeliveryMessage, Owner, Timestamp, UrlPolicy, WebhookId, WebhookIn, WebhookRecord, WebhookRules,
    WebhookSecret,
};
use crate::queue::QueueConsumer;
use crate::store::{MemoryStore, WebhookGet, WebhookInsert};
use crate::testing::ManualClock;
use crate::testing::{Waits, answering, message, run_with, sqs_event, store_with};

/// A new delivery of the fixture's event to its webhook, received for the first time.
fn delivery(id: Uuid) -> SqsEvent {
    let body = serde_json::to_string(&DeliveryMessage { delivery_id: id, ..message() }).expect("JSON");
    sqs_event(1, Some(&body))
}

async fn subscribe_to_notices(store: &MemoryStore) -> WebhookId {
    let owner = Owner::Entity(message().owner_identifier);
    let body = json!({"name": "Ops", "eventUrl": "https://ops.example.com/hooks", "eventList": ["webhook.disabled"]});
    let rules = WebhookRules { owner, policy: UrlPolicy::default(), catalog: Catalog::defaults() };
    let input = WebhookIn::parse(body.as_object().expect("object"), &rules, None).expect("valid");
    let id = WebhookId(Uuid::now_v7());
    let now = Timestamp::new(Utc::now());
    let webhook = WebhookRecord::create(input, id, owner, "user", Some("user"), now, WebhookSecret::from_key(&[4; 32]));
    store.insert_webhook(&webhook).await.expect("insert");
    id
}

async fn stored(store: &MemoryStore) -> WebhookRecord {
    let message = message();
    store.get_webhook(message.webhook_owner(), message.webhook_id).await.expect("get").expect("the webhook")
}

#[tokio::test]
async fn failing_for_two_seconds_disables_the_webhook_by_its_next_failure_and_tells_the_entity() {
    let store = store_with(true, "https://api.example.com/hooks").await;
    let ops = subscribe_to_notices(&store).await;
    let start = DateTime::parse_from_rfc3339("2026-11-24T09:00:00Z").expect("time").with_timezone(&Utc);
    let clock = ManualClock::at(start);
    let settings = Settings { disable_after: Duration::from_secs(2), ..Default::default() };
    let (waits, failing) = (Waits::default(), answering(500));
    let deliver = |id| run_with(&store, &failing, &waits, (&clock, &settings), delivery(id));

    deliver(Uuid::now_v7()).await;
    assert_eq!(stored(&store).await.failing_since, Some(Timestamp::new(start)), "the clock starts");
    clock.advance(1);
    deliver(Uuid::now_v7()).await;
    assert!(stored(&store).await.info.enabled, "failing for 1 s of 2");
    clock.advance(1);
    let last = Uuid::now_v7();
    deliver(last).await;

    let disabled = stored(&store).await;
    assert!(!disabled.info.enabled);
    let reason = "failing since 2026-11-24T09:00:00.000Z: the receiver answered 500";
    assert_eq!((disabled.info.disabled_reason.as_deref(), disabled.disabled_by), (Some(reason), Some(last)));
    // The failed deliveries' retries wait, delayed; the notice is sent at once.
    let notices = waits.queue.receive(10, Duration::ZERO).await.expect("receive");
    assert_eq!(notices.len(), 1, "one notice, to the subscriber of it");
    let notice: DeliveryMessage = serde_json::from_str(&notices[0].body).expect("a delivery message");
    assert_eq!((notice.webhook_id, notice.event.event_type()), (ops, "webhook.disabled"));
    assert_eq!(
        notice.event.whole().expect("the whole event").data.value().expect("JSON"),
        json!({"webhookId": message().webhook_id, "reason": reason,
        "failingSince": "2026-11-24T09:00:00.000Z"})
    );
}

#[tokio::test]
async fn a_success_stops_the_clock() {
    let store = store_with(true, "https://api.example.com/hooks").await;
    let clock = ManualClock::at(Utc::now());
    let settings = Settings { disable_after: Duration::from_secs(2), ..Default::default() };
    let waits = Waits::default();
    let (failing, answering) = (answering(500), answering(200));
    let deliver = |sender, id| run_with(&store, sender, &waits, (&clock, &settings), delivery(id));
    deliver(&failing, Uuid::now_v7()).await;
    assert!(stored(&store).await.failing_since.is_some());
    clock.advance(1);
    deliver(&answering, Uuid::now_v7()).await;
    assert_eq!(stored(&store).await.failing_since, None);
    clock.advance(5);
    deliver(&failing, Uuid::now_v7()).await;
    assert!(stored(&store).await.info.enabled, "failing for no time since the success");
}
