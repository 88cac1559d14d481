//! The store contract of the delivery engine at scale, on each backing: a plan of 10,000 targets
//! (over DynamoDB's 400 KB an item) kept and read a page at a time, a recovery's ascending read,
//! a FIFO webhook's gate and parked messages, a receiver's latency mark, and a disable that a
//! success between its read and its write stops.

use rstest::rstest;
use rstest_reuse::apply;
use serde_json::json;
use shared::model::{
    CarriedEvent, DeliveryMessage, DeliveryStatus, DeliveryStep, EntityId, EventData, FanOutPlan, FanOutTarget, Owner,
    Timestamp, WebhookId,
};
use shared::store::{FAN_OUT_PAGE, StoreError};
use uuid::Uuid;

use crate::helpers::{Backing, ENTITY, backings, store_on};

fn entity() -> EntityId {
    EntityId::parse(ENTITY).expect("uuid")
}

#[apply(backings)]
#[tokio::test]
async fn a_plan_of_ten_thousand_targets_is_kept_and_read_a_page_at_a_time(#[case] backing: Backing) {
    let store = store_on(backing).await;
    let targets: Vec<FanOutTarget> = (0..10_000)
        .map(|n| FanOutTarget {
            webhook_id: WebhookId(Uuid::now_v7()),
            delivery_id: Uuid::now_v7(),
            enabled: n % 7 != 0,
            global: n % 11 == 0,
            account: None,
            fifo: n % 13 == 0,
        })
        .collect();
    let plan_id = Uuid::now_v7();
    // Nested deeper than DynamoDB's 32 levels of maps: the data is kept as the publisher sent it.
    let deep = (0..40).fold(json!("bottom"), |inner, _| json!({"inner": inner}));
    let plan = FanOutPlan {
        plan: Some(plan_id),
        event_id: format!("evt-wide-{plan_id}"),
        event_type: "booking.created".into(),
        occurred_at: Timestamp::new(chrono::Utc::now()),
        data: EventData::of(&deep).expect("JSON"),
        targets: targets.clone(),
    };
    let now = Timestamp::new(chrono::Utc::now());
    let ttl = std::time::Duration::from_secs(3600);
    assert!(store.open_fan_out(entity(), &plan, now, ttl).await.expect("open").1, "{backing:?}");
    let (again, created) = store.open_fan_out(entity(), &plan, now, ttl).await.expect("reopen");
    assert!(!created);
    assert_eq!(again.targets.len(), 10_000, "{backing:?}: the duplicate's answer holds every target");

    let whole = store.get_plan(entity(), &plan.event_id, None).await.expect("get").expect("kept");
    assert_eq!(
        (whole.targets, whole.data),
        (targets.clone(), EventData::of(&deep).expect("JSON")),
        "{backing:?}: the event view's source"
    );
    for (page, expected) in targets.chunks(FAN_OUT_PAGE).enumerate() {
        let (event, read) = store
            .plan_page(entity(), &plan.event_id, plan_id, u32::try_from(page).expect("small"))
            .await
            .expect("page")
            .expect("kept");
        assert_eq!(
            (event.id.as_str(), read.as_slice()),
            (plan.event_id.as_str(), expected),
            "{backing:?}: page {page}"
        );
    }
}

fn step(webhook: WebhookId, delivery: Uuid, number: u32, status: DeliveryStatus) -> DeliveryStep {
    DeliveryStep::of(delivery, webhook, entity(), ("evt-engine", "booking.created"), number, status)
}

#[apply(backings)]
#[tokio::test]
async fn deliveries_are_read_oldest_first_after_a_delivery(#[case] backing: Backing) {
    let store = store_on(backing).await;
    let webhook = WebhookId(Uuid::now_v7());
    let ids: Vec<Uuid> = (0..7).map(|_| Uuid::now_v7()).collect();
    for id in &ids {
        store.record_step(&step(webhook, *id, 1, DeliveryStatus::Pending)).await.expect("record");
        store.record_step(&step(webhook, *id, 2, DeliveryStatus::Failed)).await.expect("record");
    }
    let read = store.deliveries_after(webhook, ids[1], 3).await.expect("read");
    let got: Vec<(Uuid, DeliveryStatus, u32)> = read.iter().map(|d| (d.delivery_id, d.status, d.step)).collect();
    let expected: Vec<_> = ids[2..5].iter().map(|id| (*id, DeliveryStatus::Failed, 2)).collect();
    assert_eq!(got, expected, "{backing:?}: after the given one, oldest first, each with all its steps");
    let rest = store.deliveries_after(webhook, ids[4], 10).await.expect("read");
    assert_eq!(rest.iter().map(|d| d.delivery_id).collect::<Vec<_>>(), ids[5..], "{backing:?}");
    assert!(store.deliveries_after(webhook, ids[6], 10).await.expect("read").is_empty());
}

#[apply(backings)]
#[tokio::test]
async fn a_fifo_gate_parks_in_order_and_opens_only_when_every_parked_message_is_released(#[case] backing: Backing) {
    let store = store_on(backing).await;
    let webhook = WebhookId(Uuid::now_v7());
    let parked = |n: u32| {
        let event = CarriedEvent::Named { id: format!("evt-{n}"), event_type: "booking.created".into() };
        DeliveryMessage { fifo: true, ..DeliveryMessage::first(Uuid::now_v7(), webhook, entity(), event) }
    };
    assert!(!store.park(webhook, &parked(0)).await.expect("park"), "{backing:?}: an open gate parks nothing");
    let head = Uuid::now_v7();
    store.hold_fifo(webhook, head).await.expect("hold");
    let read = store.fifo_head(webhook).await.expect("read").expect("closed");
    assert_eq!((read.delivery, read.message), (head, None), "{backing:?}");
    let messages: Vec<DeliveryMessage> = (1..=12).map(parked).collect();
    for message in &messages {
        assert!(store.park(webhook, message).await.expect("park"));
    }
    let mut last = head;
    for message in &messages {
        assert!(!store.open_fifo(webhook, last).await.expect("open"), "{backing:?}: not while some are parked");
        let (place, first) = store.first_parked(webhook).await.expect("read").expect("one parked");
        assert_eq!(&first, message, "{backing:?}: in the order parked, the 10th after the 9th too");
        let stale = Uuid::now_v7();
        assert!(!store.release_parked(webhook, stale, &place, &first).await.expect("release"), "not the head's");
        assert!(store.release_parked(webhook, last, &place, &first).await.expect("release"), "{backing:?}");
        assert!(!store.release_parked(webhook, last, &place, &first).await.expect("again"), "released once");
        let read = store.fifo_head(webhook).await.expect("read").expect("closed");
        assert_eq!((read.delivery, read.message.as_ref()), (first.delivery_id, Some(&first)), "{backing:?}");
        last = first.delivery_id;
    }
    assert_eq!(store.first_parked(webhook).await.expect("read"), None);
    assert!(store.open_fifo(webhook, last).await.expect("open"), "{backing:?}: every parked one released");
    assert_eq!(store.fifo_head(webhook).await.expect("read"), None, "{backing:?}");
    assert!(!store.park(webhook, &parked(13)).await.expect("park"), "open again");
}

fn webhook() -> shared::model::WebhookRecord {
    let body = json!({"name": "Marked", "eventUrl": "https://api.example.com/hooks"});
    let rules = shared::model::WebhookRules {
        owner: Owner::Entity(entity()),
        policy: shared::model::UrlPolicy::default(),
        catalog: shared::model::Catalog::defaults(),
    };
    let input = shared::model::WebhookIn::parse(body.as_object().expect("object"), &rules, None).expect("valid");
    let now = Timestamp::new(chrono::Utc::now());
    let secret = shared::model::WebhookSecret::from_key(&[7; 32]);
    shared::model::WebhookRecord::create(
        input,
        WebhookId(Uuid::now_v7()),
        Owner::Entity(entity()),
        "t",
        None,
        now,
        secret,
    )
}

#[apply(backings)]
#[tokio::test]
async fn a_latency_mark_and_a_disable_that_a_success_since_stops(#[case] backing: Backing) {
    let store = store_on(backing).await;
    let stored = webhook();
    let (owner, id) = (stored.owner(), stored.info.id);
    store.insert_webhook(&stored).await.expect("insert");
    store.mark_slow(owner, id, Some(1500)).await.expect("mark");
    let read = store.get_webhook(owner, id).await.expect("get").expect("there");
    assert_eq!((read.slow_ms, read.info.version), (Some(1500), 1), "{backing:?}: no new version");
    store.mark_slow(owner, id, None).await.expect("clear");
    assert_eq!(store.get_webhook(owner, id).await.expect("get").expect("there").slow_ms, None);

    let since = Timestamp::new(chrono::Utc::now());
    store.mark_failing(owner, id, since).await.expect("failing");
    let failing = store.get_webhook(owner, id).await.expect("get").expect("there");
    let disabled = failing.auto_disabled(since, "the receiver answered 500", Uuid::now_v7(), since);
    // A success lands between the read and the write: the clock stops, the version stays.
    store.mark_recovered(owner, id).await.expect("recovered");
    let refused = store.disable_webhook(&disabled, &failing).await;
    assert!(matches!(refused, Err(StoreError::VersionConflict { .. })), "{backing:?}: {refused:?}");
    assert!(store.get_webhook(owner, id).await.expect("get").expect("there").info.enabled, "still enabled");
    // Without one, the disable is written.
    store.mark_failing(owner, id, since).await.expect("failing");
    let failing = store.get_webhook(owner, id).await.expect("get").expect("there");
    let disabled = failing.auto_disabled(since, "the receiver answered 500", Uuid::now_v7(), since);
    store.disable_webhook(&disabled, &failing).await.expect("disable");
    let read = store.get_webhook(owner, id).await.expect("get").expect("there");
    assert_eq!((read.info.enabled, read.info.version, read.failing_since), (false, 2, Some(since)), "{backing:?}");
}
