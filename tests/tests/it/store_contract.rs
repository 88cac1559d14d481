//! The store contract: every check runs on `MemoryStore` and on `DynamoStore` (DynamoDB
//! Local), so the embedded runner behaves as production does.

use serde_json::json;
use shared::Error;
use shared::model::{Attempt, Delivery, DeliveryStatus, DeliveryUpdate, Event, FanOutPlan, FanOutTarget};
use shared::model::{EntityId, Timestamp, UrlPolicy, Webhook, WebhookId, WebhookIn, WebhookSecret};
use shared::store::{PageRequest, Recorded, Store};

use crate::helpers::{ENTITY, OTHER_ENTITY};

fn entity(id: &str) -> EntityId {
    EntityId::parse(id).expect("uuid")
}

fn webhook(owner: &str, name: &str) -> Webhook {
    let body = json!({
        "name": name,
        "entity": {"name": "The Siam Residences, Bangkok"},
        "eventUrl": "https://api.example.com/hooks",
        "eventList": ["booking.created", "payment.*"],
        "headers": {"X-Api-Key": "abc"},
    });
    let input =
        WebhookIn::parse(body.as_object().expect("object"), entity(owner), UrlPolicy::default()).expect("valid input");
    Webhook::create(
        input,
        WebhookId(uuid::Uuid::now_v7()),
        entity(owner),
        "tester",
        Timestamp::new(chrono::Utc::now()),
        WebhookSecret::from_key(&[9; 32]),
    )
}

fn renamed(stored: &Webhook, name: &str) -> Webhook {
    let mut next = stored.clone();
    next.info.name = shared::model::WebhookName::parse(name).expect("name");
    next.info.version += 1;
    next
}

async fn insert_then_get_round_trips(store: &dyn Store) {
    let stored = webhook(ENTITY, "Round trip");
    store.insert_webhook(&stored).await.expect("insert");
    let got = store.get_webhook(entity(ENTITY), stored.info.id).await.expect("get");
    assert_eq!(got, Some(stored.clone()), "every field, the secret included, comes back");
    let elsewhere = store.get_webhook(entity(OTHER_ENTITY), stored.info.id).await.expect("get");
    assert_eq!(elsewhere, None, "a webhook belongs to its owner only");
    assert!(store.insert_webhook(&stored).await.is_err(), "an id is inserted once");
}

async fn replace_is_conditional_on_version(store: &dyn Store) {
    let v1 = webhook(ENTITY, "Versioned");
    store.insert_webhook(&v1).await.expect("insert");
    let v2 = renamed(&v1, "Second");
    store.replace_webhook(&v2, 1).await.expect("fresh version is written");
    let stale = store.replace_webhook(&renamed(&v1, "Lost update"), 1).await;
    assert!(matches!(stale, Err(Error::VersionConflict { current: 2 })), "{stale:?}");
    let got = store.get_webhook(entity(ENTITY), v1.info.id).await.expect("get").expect("present");
    assert_eq!(got, v2);
    let missing = store.replace_webhook(&webhook(ENTITY, "Ghost"), 1).await;
    assert!(matches!(missing, Err(Error::NotFound)), "{missing:?}");
}

async fn delete_checks_version_and_existence(store: &dyn Store) {
    let stored = webhook(ENTITY, "Doomed");
    store.insert_webhook(&stored).await.expect("insert");
    let (owner, id) = (entity(ENTITY), stored.info.id);
    let stale = store.delete_webhook(owner, id, Some(5)).await;
    assert!(matches!(stale, Err(Error::VersionConflict { current: 1 })), "{stale:?}");
    assert!(store.get_webhook(owner, id).await.expect("get").is_some(), "a refused delete deletes nothing");
    store.delete_webhook(owner, id, Some(1)).await.expect("delete");
    assert_eq!(store.get_webhook(owner, id).await.expect("get"), None);
    assert!(matches!(store.delete_webhook(owner, id, None).await, Err(Error::NotFound)));
    assert!(matches!(store.delete_webhook(owner, id, Some(1)).await, Err(Error::NotFound)));
}

async fn list_pages_in_id_order_without_loss(store: &dyn Store) {
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
        let page = store.list_webhooks(entity(ENTITY), PageRequest { limit: 20, after }).await.expect("list");
        pages += 1;
        seen.extend(page.items.iter().map(|w| w.info.id.0));
        match page.next {
            Some(next) => after = Some(next),
            None => break,
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(seen, ids);
    let exact = store.list_webhooks(entity(ENTITY), PageRequest { limit: 45, after: None }).await.expect("list");
    assert_eq!((exact.items.len(), exact.next), (45, None), "a full last page has no cursor");
}

async fn concurrent_writers_of_one_version_one_wins(store: &dyn Store) {
    let v1 = webhook(ENTITY, "Contended");
    store.insert_webhook(&v1).await.expect("insert");
    let writes = (0..20).map(|i| {
        let next = renamed(&v1, &format!("Writer {i}"));
        async move { store.replace_webhook(&next, 1).await }
    });
    let results = futures::future::join_all(writes).await;
    let wins = results.iter().filter(|r| r.is_ok()).count();
    let conflicts = results.iter().filter(|r| matches!(r, Err(Error::VersionConflict { current: 2 }))).count();
    assert_eq!((wins, conflicts), (1, 19), "{results:?}");
    let stored = store.get_webhook(entity(ENTITY), v1.info.id).await.expect("get").expect("present");
    assert_eq!(stored.info.version, 2);
}

async fn fan_out_plans_are_kept_and_ticked_off(store: &dyn Store) {
    let owner = entity(ENTITY);
    let now = Timestamp::new(chrono::Utc::now());
    let ttl = std::time::Duration::from_secs(3600);
    let targets: Vec<FanOutTarget> = (0..3)
        .map(|i| FanOutTarget {
            webhook_id: WebhookId(uuid::Uuid::now_v7()),
            delivery_id: uuid::Uuid::now_v7(),
            enabled: i < 2,
        })
        .collect();
    let plan = FanOutPlan {
        event_id: "evt-contract".into(),
        event_type: "booking.created".into(),
        occurred_at: now,
        data: json!({"bookingId": "b-1", "total": {"amount": "742.50", "currency": "USD"}}),
        pending: targets.iter().filter(|t| t.enabled).map(|t| t.delivery_id).collect(),
        targets,
    };
    assert_eq!(store.open_fan_out(owner, &plan, now, ttl).await.expect("open"), (plan.clone(), true));
    let mut rival = plan.clone();
    rival.targets.clear();
    rival.pending.clear();
    let (stored, created) = store.open_fan_out(owner, &rival, now, ttl).await.expect("reopen");
    assert_eq!((stored, created), (plan.clone(), false), "the first plan stays in force");

    store.mark_enqueued(owner, "evt-contract", &plan.pending[..1]).await.expect("mark");
    let (stored, _) = store.open_fan_out(owner, &rival, now, ttl).await.expect("reopen");
    assert_eq!(stored.pending, plan.pending[1..]);
    store.mark_enqueued(owner, "evt-contract", &plan.pending[1..]).await.expect("mark");
    let (stored, _) = store.open_fan_out(owner, &rival, now, ttl).await.expect("reopen");
    assert!(stored.pending.is_empty());

    let kept = store.get_event(owner, "evt-contract").await.expect("get").expect("kept");
    assert_eq!((kept.data, kept.targets), (plan.data.clone(), plan.targets.clone()), "the event view's source");
    assert_eq!(store.get_event(entity(OTHER_ENTITY), "evt-contract").await.expect("get"), None);

    let later = Timestamp::new(now.get() + chrono::Duration::hours(2));
    let (_, created) = store.open_fan_out(owner, &rival, later, ttl).await.expect("after expiry");
    assert!(created, "a plan past its dedupe window no longer holds the id");
}

fn pending_delivery() -> Delivery {
    let event = Event {
        id: "evt-contract".into(),
        event_type: "booking.created".into(),
        occurred_at: Timestamp::new(chrono::Utc::now()),
        data: json!({}),
    };
    Delivery::pending(uuid::Uuid::now_v7(), WebhookId(uuid::Uuid::now_v7()), &event)
}

fn step(status: DeliveryStatus, number: u32) -> DeliveryUpdate {
    let at = Timestamp::new(chrono::Utc::now());
    let attempt =
        Attempt { attempt: number, at, status_code: Some(200), duration_ms: 3, error: None, response_body: None };
    DeliveryUpdate { status, attempt: Some(attempt), next_attempt_at: None }
}

async fn a_resumed_publish_writes_only_missing_deliveries(store: &dyn Store) {
    let (delivered, missing) = (pending_delivery(), pending_delivery());
    store.insert_deliveries(std::slice::from_ref(&delivered)).await.expect("insert");
    let (webhook, id) = (delivered.webhook_id, delivered.delivery_id);
    store.update_delivery(webhook, id, 0, &step(DeliveryStatus::Succeeded, 1)).await.expect("record");
    store.insert_missing_deliveries(&[delivered.clone(), missing.clone()]).await.expect("insert missing");
    let kept = store.get_delivery(webhook, id).await.expect("get").expect("present");
    assert_eq!((kept.status, kept.attempts.len()), (DeliveryStatus::Succeeded, 1), "a finished record stays");
    let written = store.get_delivery(missing.webhook_id, missing.delivery_id).await.expect("get");
    assert_eq!(written, Some(missing), "a missing record is written");
}

async fn deliveries_are_read_in_batches_of_any_size(store: &dyn Store) {
    let deliveries: Vec<Delivery> = (0..130).map(|_| pending_delivery()).collect();
    store.insert_deliveries(&deliveries[..120]).await.expect("insert");
    let keys: Vec<_> = deliveries.iter().map(|d| (d.webhook_id, d.delivery_id)).collect();
    let mut found: Vec<_> =
        store.get_deliveries(&keys).await.expect("get").into_iter().map(|d| d.delivery_id).collect();
    let mut stored: Vec<_> = deliveries[..120].iter().map(|d| d.delivery_id).collect();
    found.sort();
    stored.sort();
    assert_eq!(found, stored, "the 120 stored of 130 asked, past one batch of 100");
}

async fn a_delivery_step_is_written_only_on_the_record_it_read(store: &dyn Store) {
    let delivery = pending_delivery();
    store.insert_deliveries(std::slice::from_ref(&delivery)).await.expect("insert");
    let (webhook, id) = (delivery.webhook_id, delivery.delivery_id);
    let retry = step(DeliveryStatus::Pending, 1);
    assert_eq!(store.update_delivery(webhook, id, 0, &retry).await.expect("first"), Recorded::Written);
    assert_eq!(store.update_delivery(webhook, id, 0, &retry).await.expect("copy"), Recorded::Stale, "a copy");
    let done = step(DeliveryStatus::Succeeded, 2);
    assert_eq!(store.update_delivery(webhook, id, 1, &done).await.expect("second"), Recorded::Written);
    let late = step(DeliveryStatus::Failed, 3);
    assert_eq!(store.update_delivery(webhook, id, 2, &late).await.expect("late"), Recorded::Stale, "finished");
    let stored = store.get_delivery(webhook, id).await.expect("get").expect("present");
    let numbers: Vec<u32> = stored.attempts.iter().map(|a| a.attempt).collect();
    assert_eq!((stored.status, numbers), (DeliveryStatus::Succeeded, vec![1, 2]));
    let nowhere = store.update_delivery(webhook, uuid::Uuid::now_v7(), 0, &retry).await;
    assert!(matches!(nowhere, Err(Error::NotFound)), "{nowhere:?}");
    assert_eq!(store.get_delivery(webhook, uuid::Uuid::now_v7()).await.expect("get"), None);
}

async fn deliveries_filter_by_status_across_pages(store: &dyn Store) {
    let webhook = WebhookId(uuid::Uuid::now_v7());
    let mut failed = Vec::new();
    for i in 0..30 {
        let mut delivery = pending_delivery();
        delivery.webhook_id = webhook;
        store.insert_deliveries(std::slice::from_ref(&delivery)).await.expect("insert");
        if i % 3 == 0 {
            let step = step(DeliveryStatus::Failed, 1);
            store.update_delivery(webhook, delivery.delivery_id, 0, &step).await.expect("record");
            failed.push(delivery.delivery_id);
        }
    }
    failed.reverse();
    let (mut seen, mut after, mut sizes) = (Vec::new(), None, Vec::new());
    loop {
        let page = PageRequest { limit: 4, after };
        let page = store.list_deliveries(webhook, page, Some(DeliveryStatus::Failed)).await.expect("list");
        assert!(page.items.iter().all(|d| d.status == DeliveryStatus::Failed));
        sizes.push(page.items.len());
        seen.extend(page.items.iter().map(|d| d.delivery_id));
        match page.next {
            Some(next) => after = Some(next),
            None => break,
        }
    }
    assert_eq!((seen, sizes), (failed, vec![4, 4, 2]), "every failed one, newest first, full pages");
    let all = store.list_deliveries(webhook, PageRequest { limit: 100, after: None }, None).await.expect("list");
    assert_eq!(all.items.len(), 30);
}

macro_rules! contract {
    ($($check:ident),* $(,)?) => {
        mod memory {
            $(#[tokio::test]
            async fn $check() {
                super::$check(&shared::store::MemoryStore::new()).await;
            })*
        }
        mod dynamodb_local {
            $(#[tokio::test]
            async fn $check() {
                super::$check(&crate::helpers::dynamo_store().await).await;
            })*
        }
    };
}

contract!(
    insert_then_get_round_trips,
    replace_is_conditional_on_version,
    delete_checks_version_and_existence,
    list_pages_in_id_order_without_loss,
    concurrent_writers_of_one_version_one_wins,
    fan_out_plans_are_kept_and_ticked_off,
    a_resumed_publish_writes_only_missing_deliveries,
    a_delivery_step_is_written_only_on_the_record_it_read,
    deliveries_filter_by_status_across_pages,
    deliveries_are_read_in_batches_of_any_size,
);
