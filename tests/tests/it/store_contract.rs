//! The store contract: every check runs on `MemoryStore` and on `DynamoStore` (DynamoDB
//! Local), a case each (`helpers::backings`), so the embedded runner behaves as production does.

use serde_json::json;
use shared::model::{
    Attempt, Catalog, DeliveryState, DeliveryStatus, DeliveryStep, Event, EventData, FanOutPlan, FanOutTarget,
    WebhookRules,
};
use shared::model::{
    EntityId, HourCounters, Owner, Timestamp, UrlPolicy, WebhookId, WebhookIn, WebhookRecord, WebhookSecret,
};
use shared::rate_limit::RatePolicy;
use shared::store::{PageRequest, Recorded, Store, StoreError};

use rstest::rstest;
use rstest_reuse::apply;

use crate::helpers::{Backing, ENTITY, OTHER_ENTITY, backings, store_on};

mod globals;
mod notices;
mod portal_key;
mod refusals;
mod sealing;

fn entity(id: &str) -> EntityId {
    EntityId::parse(id).expect("uuid")
}

fn owner(id: &str) -> Owner {
    Owner::Entity(entity(id))
}

fn rules(owner: Owner) -> WebhookRules<'static> {
    WebhookRules { owner, policy: UrlPolicy::default(), catalog: Catalog::defaults() }
}

fn webhook(owner: &str, name: &str) -> WebhookRecord {
    let body = json!({
        "name": name,
        "entity": {"name": "The Siam Residences, Bangkok"},
        "eventUrl": "https://api.example.com/hooks",
        "eventList": ["booking.created", "payment.*"],
        "headers": {"X-Api-Key": "abc"},
    });
    let owner = Owner::Entity(entity(owner));
    let input = WebhookIn::parse(body.as_object().expect("object"), &rules(owner), None).expect("valid input");
    WebhookRecord::create(
        input,
        WebhookId(uuid::Uuid::now_v7()),
        owner,
        "tester",
        Some("tester"),
        Timestamp::new(chrono::Utc::now()),
        WebhookSecret::from_key(&[9; 32]),
    )
}

fn renamed(stored: &WebhookRecord, name: &str) -> WebhookRecord {
    let mut next = stored.clone();
    next.info.name = shared::model::WebhookName::parse(name).expect("name");
    next.info.version += 1;
    next
}

#[apply(backings)]
#[tokio::test]
async fn insert_then_get_round_trips(#[case] backing: Backing) {
    let store = store_on(backing).await;
    let store: &dyn Store = store.as_ref();
    let stored = webhook(ENTITY, "Round trip");
    store.insert_webhook(&stored).await.expect("insert");
    let got = store.get_webhook(owner(ENTITY), stored.info.id).await.expect("get");
    assert_eq!(got, Some(stored.clone()), "every field, the secret included, comes back");
    let elsewhere = store.get_webhook(owner(OTHER_ENTITY), stored.info.id).await.expect("get");
    assert_eq!(elsewhere, None, "a webhook belongs to its owner only");
    assert!(store.insert_webhook(&stored).await.is_err(), "an id is inserted once");
}

#[apply(backings)]
#[tokio::test]
async fn replace_is_conditional_on_version(#[case] backing: Backing) {
    let store = store_on(backing).await;
    let store: &dyn Store = store.as_ref();
    let v1 = webhook(ENTITY, "Versioned");
    store.insert_webhook(&v1).await.expect("insert");
    let v2 = renamed(&v1, "Second");
    store.replace_webhook(&v2, &v1).await.expect("fresh version is written");
    let stale = store.replace_webhook(&renamed(&v1, "Lost update"), &v1).await;
    assert!(matches!(stale, Err(StoreError::VersionConflict { current: 2 })), "{stale:?}");
    let got = store.get_webhook(owner(ENTITY), v1.info.id).await.expect("get").expect("present");
    assert_eq!(got, v2);
    let ghost = webhook(ENTITY, "Ghost");
    let missing = store.replace_webhook(&ghost, &ghost).await;
    assert!(matches!(missing, Err(StoreError::NotFound)), "{missing:?}");
}

#[apply(backings)]
#[tokio::test]
async fn delete_checks_version_and_existence(#[case] backing: Backing) {
    let store = store_on(backing).await;
    let store: &dyn Store = store.as_ref();
    let stored = webhook(ENTITY, "Doomed");
    store.insert_webhook(&stored).await.expect("insert");
    let (owner, id) = (owner(ENTITY), stored.info.id);
    let stale = store.delete_webhook(owner, id, Some(5)).await;
    assert!(matches!(stale, Err(StoreError::VersionConflict { current: 1 })), "{stale:?}");
    assert!(store.get_webhook(owner, id).await.expect("get").is_some(), "a refused delete deletes nothing");
    store.delete_webhook(owner, id, Some(1)).await.expect("delete");
    assert_eq!(store.get_webhook(owner, id).await.expect("get"), None);
    assert!(matches!(store.delete_webhook(owner, id, None).await, Err(StoreError::NotFound)));
    assert!(matches!(store.delete_webhook(owner, id, Some(1)).await, Err(StoreError::NotFound)));
}

#[apply(backings)]
#[tokio::test]
async fn list_pages_in_id_order_without_loss(#[case] backing: Backing) {
    let store = store_on(backing).await;
    let store: &dyn Store = store.as_ref();
    let mut ids = Vec::new();
    for i in 0..45 {
        let stored = webhook(ENTITY, &format!("Hook {i}"));
        store.insert_webhook(&stored).await.expect("insert");
        ids.push(stored.info.id.0);
    }
    store.insert_webhook(&webhook(OTHER_ENTITY, "Not mine")).await.expect("insert");
    ids.sort();
    let (mut seen, mut after, mut pages) = (Vec::new(), None, 0);
    loop {
        let page = store.list_webhooks(owner(ENTITY), PageRequest { limit: 20, after }).await.expect("list");
        pages += 1;
        seen.extend(page.items.iter().map(|w| w.info.id.0));
        match page.next {
            Some(next) => after = Some(next),
            None => break,
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(seen, ids);
    let exact = store.list_webhooks(owner(ENTITY), PageRequest { limit: 45, after: None }).await.expect("list");
    assert_eq!((exact.items.len(), exact.next), (45, None), "a full last page has no cursor");
}

#[apply(backings)]
#[tokio::test]
async fn concurrent_writers_of_one_version_one_wins(#[case] backing: Backing) {
    let store = store_on(backing).await;
    let store: &dyn Store = store.as_ref();
    let v1 = webhook(ENTITY, "Contended");
    store.insert_webhook(&v1).await.expect("insert");
    let writes = (0..20).map(|i| {
        let (next, v1) = (renamed(&v1, &format!("Writer {i}")), &v1);
        async move { store.replace_webhook(&next, v1).await }
    });
    let results = futures::future::join_all(writes).await;
    let wins = results.iter().filter(|r| r.is_ok()).count();
    let conflicts = results.iter().filter(|r| matches!(r, Err(StoreError::VersionConflict { current: 2 }))).count();
    assert_eq!((wins, conflicts), (1, 19), "{results:?}");
    let stored = store.get_webhook(owner(ENTITY), v1.info.id).await.expect("get").expect("present");
    assert_eq!(stored.info.version, 2);
}

#[apply(backings)]
#[tokio::test]
async fn fan_out_plans_are_kept_and_hold_their_event_id(#[case] backing: Backing) {
    let store = store_on(backing).await;
    let store: &dyn Store = store.as_ref();
    let owner = entity(ENTITY);
    let now = Timestamp::new(chrono::Utc::now());
    let ttl = std::time::Duration::from_secs(3600);
    let targets: Vec<FanOutTarget> = (0..3)
        .map(|i| FanOutTarget {
            webhook_id: WebhookId(uuid::Uuid::now_v7()),
            delivery_id: uuid::Uuid::now_v7(),
            enabled: i < 2,
            global: i == 1,
            account: None,
            fifo: i == 0,
        })
        .collect();
    let plan = FanOutPlan {
        plan: Some(uuid::Uuid::now_v7()),
        event_id: "evt-contract".into(),
        event_type: "booking.created".into(),
        occurred_at: now,
        data: EventData::of(&json!({"bookingId": "b-1", "total": {"amount": "742.50", "currency": "USD"}}))
            .expect("JSON"),
        targets,
    };
    assert_eq!(store.open_fan_out(owner, &plan, now, ttl).await.expect("open"), (plan.clone(), true));
    let mut rival = plan.clone();
    rival.targets.clear();
    let (stored, created) = store.open_fan_out(owner, &rival, now, ttl).await.expect("reopen");
    assert_eq!((stored, created), (plan.clone(), false), "the first plan stays in force");

    let kept = store.get_plan(owner, "evt-contract", None).await.expect("get").expect("kept");
    assert_eq!((kept.data, kept.targets), (plan.data.clone(), plan.targets.clone()), "the event view's source");
    assert_eq!(store.get_plan(entity(OTHER_ENTITY), "evt-contract", None).await.expect("get"), None);

    let later = Timestamp::new(now.get() + chrono::Duration::hours(2));
    let reused = FanOutPlan {
        plan: Some(uuid::Uuid::now_v7()),
        data: EventData::of(&json!({"bookingId": "b-2"})).expect("JSON"),
        ..rival
    };
    let (_, created) = store.open_fan_out(owner, &reused, later, ttl).await.expect("after expiry");
    assert!(created, "a plan past its dedupe window no longer holds the id");
    let current = store.get_plan(owner, "evt-contract", None).await.expect("get").expect("current");
    assert_eq!(current.data, reused.data, "the event view shows the latest publish");
    let earlier = store.get_plan(owner, "evt-contract", plan.plan).await.expect("get").expect("kept apart");
    assert_eq!(
        (earlier.data, earlier.targets),
        (plan.data, plan.targets),
        "the first plan's deliveries keep their event"
    );
    let event = store.published_event(owner, "evt-contract", plan.plan).await.expect("get").expect("event");
    assert_eq!(event.data.value().expect("JSON")["bookingId"], "b-1");
}

/// Step `number` of a new delivery (or of `of`'s), with an attempt in it.
fn step(of: Option<&DeliveryStep>, number: u32, status: DeliveryStatus) -> DeliveryStep {
    let event = Event {
        id: "evt-contract".into(),
        event_type: "booking.created".into(),
        occurred_at: Timestamp::new(chrono::Utc::now()),
        data: EventData::default(),
    };
    let (delivery, webhook) =
        of.map_or_else(|| (uuid::Uuid::now_v7(), WebhookId(uuid::Uuid::now_v7())), |s| (s.delivery_id, s.webhook_id));
    let mut step = DeliveryStep::of(delivery, webhook, entity(ENTITY), (&event.id, &event.event_type), number, status);
    let at = Timestamp::new(chrono::Utc::now());
    let body = Some("x".repeat(4096));
    step.attempt =
        Some(Attempt { attempt: number, at, status_code: Some(500), duration_ms: 3, error: None, response_body: body });
    step
}

#[apply(backings)]
#[tokio::test]
async fn a_step_is_written_once_per_number(#[case] backing: Backing) {
    let store = store_on(backing).await;
    let store: &dyn Store = store.as_ref();
    let first = step(None, 1, DeliveryStatus::Pending);
    let (webhook, id) = (first.webhook_id, first.delivery_id);
    assert_eq!(store.delivery_state(webhook, id).await.expect("state"), None, "nothing before the first step");
    assert_eq!(store.record_step(&first).await.expect("first"), Recorded::Written);
    assert_eq!(store.record_step(&first).await.expect("copy"), Recorded::Stale, "a copy");
    let done = step(Some(&first), 2, DeliveryStatus::Succeeded);
    assert_eq!(store.record_step(&done).await.expect("second"), Recorded::Written);
    let rival = step(Some(&first), 2, DeliveryStatus::Failed);
    assert_eq!(store.record_step(&rival).await.expect("rival"), Recorded::Stale, "the number was taken");
    let state = store.delivery_state(webhook, id).await.expect("state");
    assert_eq!(state, Some(DeliveryState { status: DeliveryStatus::Succeeded, step: 2, next_attempt_at: None }));
    let stored = store.get_delivery(webhook, id).await.expect("get").expect("present");
    let numbers: Vec<u32> = stored.attempts.iter().map(|a| a.attempt).collect();
    assert_eq!((stored.status, numbers), (DeliveryStatus::Succeeded, vec![1, 2]));
    assert_eq!(stored.attempts[1].response_body.as_ref().map(String::len), Some(4096));
    assert_eq!(store.get_delivery(webhook, uuid::Uuid::now_v7()).await.expect("get"), None);
}

#[apply(backings)]
#[tokio::test]
async fn delivery_states_are_read_for_any_number_of_keys(#[case] backing: Backing) {
    let store = store_on(backing).await;
    let store: &dyn Store = store.as_ref();
    let steps: Vec<DeliveryStep> = (0..130).map(|_| step(None, 1, DeliveryStatus::Failed)).collect();
    for step in &steps[..120] {
        store.record_step(step).await.expect("record");
    }
    let keys: Vec<_> = steps.iter().map(|s| (s.webhook_id, s.delivery_id)).collect();
    let states = shared::store::delivery_states(store, &keys).await.expect("states");
    assert_eq!(states.len(), 120, "the 120 recorded of 130 asked");
    assert!(states.values().all(|s| s.status == DeliveryStatus::Failed));
}

/// 40 deliveries of three steps each (more items than one query reads), every third failed.
#[apply(backings)]
#[tokio::test]
async fn deliveries_page_and_filter_by_status_across_their_steps(#[case] backing: Backing) {
    let store = store_on(backing).await;
    let store: &dyn Store = store.as_ref();
    let webhook = WebhookId(uuid::Uuid::now_v7());
    let mut failed = Vec::new();
    let mut all = Vec::new();
    for i in 0..40 {
        let mut first = step(None, 1, DeliveryStatus::Pending);
        first.webhook_id = webhook;
        let last = if i % 3 == 0 { DeliveryStatus::Failed } else { DeliveryStatus::Succeeded };
        for step in [first.clone(), step(Some(&first), 2, DeliveryStatus::Pending), step(Some(&first), 3, last)] {
            store.record_step(&step).await.expect("record");
        }
        if last == DeliveryStatus::Failed {
            failed.push(first.delivery_id);
        }
        all.push(first.delivery_id);
    }
    failed.reverse();
    all.reverse();
    let pages = |limit, status| async move {
        let (mut seen, mut after, mut sizes) = (Vec::new(), None, Vec::new());
        loop {
            let page = store.list_deliveries(webhook, PageRequest { limit, after }, status).await.expect("list");
            assert!(page.items.iter().all(|d| status.is_none_or(|s| d.status == s) && d.attempts.len() == 3));
            sizes.push(page.items.len());
            seen.extend(page.items.iter().map(|d| d.delivery_id));
            match page.next {
                Some(next) => after = Some(next),
                None => return (seen, sizes),
            }
        }
    };
    let failed_pages = pages(4, Some(DeliveryStatus::Failed)).await;
    assert_eq!(failed_pages, (failed, vec![4, 4, 4, 2]), "every failed one, newest first, full pages");
    let every = pages(7, None).await;
    assert_eq!(every, (all, vec![7, 7, 7, 7, 7, 5]), "every delivery once, newest first");
    assert!(pages(100, Some(DeliveryStatus::Pending)).await.0.is_empty(), "a delivery is its last step");
}

#[apply(backings)]
#[tokio::test]
async fn access_tokens_are_kept_until_good_until_and_dropped_only_as_refused(#[case] backing: Backing) {
    let store = store_on(backing).await;
    let store: &dyn Store = store.as_ref();
    let (webhook, now) = (WebhookId(uuid::Uuid::now_v7()), chrono::Utc::now());
    let at = |seconds: i64| Timestamp::new(now + chrono::Duration::seconds(seconds));
    assert_eq!(store.access_token(webhook, "fp", at(0)).await.expect("read"), None);
    store.keep_access_token(webhook, "fp", "token-1", at(60)).await.expect("keep");
    assert_eq!(store.access_token(webhook, "fp", at(59)).await.expect("read").as_deref(), Some("token-1"));
    assert_eq!(store.access_token(webhook, "other", at(0)).await.expect("read"), None, "other credentials");
    assert_eq!(store.access_token(webhook, "fp", at(60)).await.expect("read"), None, "no longer good");
    store.keep_access_token(webhook, "fp", "token-2", at(60)).await.expect("keep");
    store.drop_access_token(webhook, "fp", "token-1").await.expect("drop");
    assert_eq!(store.access_token(webhook, "fp", at(0)).await.expect("read").as_deref(), Some("token-2"));
    store.drop_access_token(webhook, "fp", "token-2").await.expect("drop");
    assert_eq!(store.access_token(webhook, "fp", at(0)).await.expect("read"), None);
}

#[apply(backings)]
#[tokio::test]
async fn rate_limits_count_one_burst_for_every_taker_at_once(#[case] backing: Backing) {
    let store = store_on(backing).await;
    let store: &dyn Store = store.as_ref();
    let (policy, key) = (RatePolicy::new(10, 5), uuid::Uuid::new_v4().to_string());
    let now = chrono::Utc::now().timestamp_micros();
    let decisions = futures::future::join_all((0..20).map(|_| store.take(&key, &policy, now))).await;
    let mut left: Vec<u32> =
        decisions.iter().map(|d| d.as_ref().expect("take")).filter(|d| d.allowed).map(|d| d.remaining).collect();
    left.sort_unstable();
    assert_eq!(left, [0, 1, 2, 3, 4], "one burst, whoever takes");
    let refused = store.take(&key, &policy, now).await.expect("take");
    assert_eq!((refused.allowed, refused.retry_after_seconds), (false, 1));
    assert!(store.take(&key, &policy, now + 100_000).await.expect("take").allowed, "one interval later, one more");
    assert!(!store.take(&key, &policy, now + 100_000).await.expect("take").allowed, "and only one");
    let idle = store.take(&key, &policy, now + 60_000_000).await.expect("take");
    assert_eq!((idle.allowed, idle.remaining), (true, 4), "after a pause, a whole burst again");
    assert!(store.take("another", &policy, now).await.expect("take").allowed, "keys are counted apart");
}

#[apply(backings)]
#[tokio::test]
async fn several_requests_taken_at_once_take_their_places_in_one_go_or_none(#[case] backing: Backing) {
    let store = store_on(backing).await;
    let store: &dyn Store = store.as_ref();
    let (policy, key) = (RatePolicy::new(10, 5), uuid::Uuid::new_v4().to_string());
    let now = chrono::Utc::now().timestamp_micros();
    let three = store.take_many(&key, &policy, 3, now).await.expect("take");
    assert_eq!((three.allowed, three.remaining), (true, 2), "three of a burst of five");
    assert!(!store.take_many(&key, &policy, 3, now).await.expect("take").allowed, "three more do not fit the two left");
    let two = store.take_many(&key, &policy, 2, now).await.expect("take");
    assert_eq!((two.allowed, two.remaining), (true, 0), "and the refusal took none of them");
    assert!(!store.take(&key, &policy, now).await.expect("take").allowed);
    let wider = store.take_many(&uuid::Uuid::new_v4().to_string(), &policy, 6, now).await.expect("take");
    assert!(!wider.allowed, "more than a burst never fits");
}

#[apply(backings)]
#[tokio::test]
async fn hourly_counters_add_up_and_are_read_by_hour_range(#[case] backing: Backing) {
    let store = store_on(backing).await;
    let store: &dyn Store = store.as_ref();
    let webhook = WebhookId(uuid::Uuid::now_v7());
    let hour = |n: i64, counts: &[(&str, i64)]| HourCounters {
        hour: 1_795_000_000 - 1_795_000_000 % 3600 + n * 3600,
        counters: counts.iter().map(|(name, n)| ((*name).to_string(), *n)).collect(),
    };
    store.add_counts(webhook, &hour(0, &[("succeeded", 2), ("ms20", 2)])).await.expect("add");
    store.add_counts(webhook, &hour(0, &[("failed", 1), ("ms20", 1), ("pending", -1)])).await.expect("add");
    store.add_counts(webhook, &hour(2, &[("skipped", 1)])).await.expect("add");
    store.add_counts(webhook, &hour(5, &[("succeeded", 1)])).await.expect("add");
    store.add_counts(WebhookId(uuid::Uuid::now_v7()), &hour(1, &[("succeeded", 7)])).await.expect("add");
    let read = store.hourly_counters(webhook, hour(0, &[]).hour, hour(4, &[]).hour).await.expect("read");
    let expected =
        [hour(0, &[("succeeded", 2), ("failed", 1), ("ms20", 3), ("pending", -1)]), hour(2, &[("skipped", 1)])];
    assert_eq!(read, expected, "added up per hour, only this webhook's, only the range's");
}
