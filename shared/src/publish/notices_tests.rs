//! Each notice: its data as its type's schema says, planned once however often it is published,
//! for the entity's own webhooks that list it and no one else.

use std::time::Duration;

use serde_json::{Value, json};
use uuid::Uuid;

use super::*;
use crate::model::{Catalog, Owner, QueueMessage, UrlPolicy, WebhookIn, WebhookRules, WebhookSecret};
use crate::queue::{MemoryQueue, QueueConsumer};
use crate::runtime::RandomIds;
use crate::store::{EventGet, MemoryStore, WebhookInsert};

const ENTITY: &str = "d5b8a3c2-9e6f-4a1b-8d34-7c2e1f0a5b69";

async fn subscribed(store: &MemoryStore, owner: Owner, event_list: Value) -> WebhookRecord {
    let mut body = json!({"name": "Ops", "eventUrl": "https://ops.example.com/hook", "eventList": event_list});
    if owner == Owner::Global {
        body["entities"] = json!([ENTITY]);
    }
    let rules = WebhookRules { owner, policy: UrlPolicy::default(), catalog: Catalog::defaults() };
    let input = WebhookIn::parse(body.as_object().expect("object"), &rules, None).expect("valid");
    let (id, now) = (WebhookId(Uuid::now_v7()), Timestamp::new(chrono::Utc::now()));
    let webhook = WebhookRecord::create(input, id, owner, "u", Some("u"), now, WebhookSecret::from_key(&[1; 32]));
    store.insert_webhook(&webhook).await.expect("insert");
    webhook
}

/// The `(webhook, type, data)` of every delivery message sent but a retried publish's copies
/// (`resent`), which the deliver step drops once the original has started.
async fn sent(queue: &MemoryQueue) -> Vec<(WebhookId, String, Value)> {
    let received = queue.receive(1000, Duration::ZERO).await.expect("receive");
    let messages = received.iter().map(|r| serde_json::from_str::<QueueMessage>(&r.body).expect("a message"));
    messages
        .filter_map(|m| match m {
            QueueMessage::Delivery(d) if !d.resent => {
                let event = d.event.whole().expect("a notice is carried whole").clone();
                let data = event.data.value().expect("JSON");
                Some((d.webhook_id, event.event_type, data))
            }
            _ => None,
        })
        .collect()
}

fn failed(webhook_id: WebhookId, event_type: &str) -> FailedDelivery<'_> {
    let error = "the receiver answered 503";
    FailedDelivery { webhook_id, delivery_id: Uuid::now_v7(), event_id: "evt-1", event_type, attempt: 8, error }
}

#[tokio::test]
async fn each_notice_reaches_the_entitys_subscriber_once_with_data_its_schema_takes() {
    let (store, queue) = (MemoryStore::new(), MemoryQueue::new(Duration::from_secs(60)));
    let ops = subscribed(
        &store,
        Owner::Entity(EntityId::parse(ENTITY).expect("uuid")),
        json!(["webhook.*", EXHAUSTED_EVENT_TYPE]),
    )
    .await;
    let everything = subscribed(&store, Owner::Entity(EntityId::parse(ENTITY).expect("uuid")), json!([])).await;
    let partner = subscribed(&store, Owner::Global, json!(["webhook.*", EXHAUSTED_EVENT_TYPE])).await;
    let queues = Routed { unordered: &queue, fifo: &queue };
    let notices = Notices { store: &store, queues, ids: &RandomIds, resend_delay: Duration::ZERO };
    let now = Timestamp::new(chrono::Utc::now());
    let failure = failed(everything.info.id, "booking.created");
    let disabled = everything.auto_disabled(now, "the receiver answered 503", Uuid::now_v7(), now);
    // Twice each: the second plans nothing new.
    for _ in 0..2 {
        let deleted = WebhookWrite::Deleted(everything.owner(), everything.info.id);
        for write in [WebhookWrite::Created(&everything), WebhookWrite::Updated(&everything), deleted] {
            notices.webhook_written(write, now).await.expect("written");
        }
        notices.webhook_disabled(&disabled, now).await.expect("disabled");
        notices.webhook_failing(&everything, now, &failure, now).await.expect("failing");
        notices.delivery_exhausted(everything.info.owner_identifier, &failure, now).await.expect("exhausted");
    }
    let sent = sent(&queue).await;
    let mut types: Vec<&str> = sent.iter().map(|(_, t, _)| t.as_str()).collect();
    types.sort_unstable();
    let expected = [
        EXHAUSTED_EVENT_TYPE,
        CREATED_EVENT_TYPE,
        DELETED_EVENT_TYPE,
        DISABLED_EVENT_TYPE,
        FAILING_EVENT_TYPE,
        UPDATED_EVENT_TYPE,
    ];
    assert_eq!(types, expected, "once each");
    for (webhook, event_type, data) in &sent {
        assert_eq!(*webhook, ops.info.id, "to the entity's subscriber only, not to {partner:?} or \"every event\"");
        let schema = Catalog::defaults().get(event_type).expect("a platform type");
        assert!(schema.check(data).is_ok(), "{event_type}: {data} breaks its schema");
        assert_eq!(data["webhookId"], json!(everything.info.id), "{event_type}");
    }
}

#[tokio::test]
async fn a_global_webhooks_notices_and_unsubscribed_ones_plan_and_keep_nothing() {
    let (store, queue) = (MemoryStore::new(), MemoryQueue::new(Duration::from_secs(60)));
    let entity = EntityId::parse(ENTITY).expect("uuid");
    let global = subscribed(&store, Owner::Global, json!(["webhook.*"])).await;
    let queues = Routed { unordered: &queue, fifo: &queue };
    let notices = Notices { store: &store, queues, ids: &RandomIds, resend_delay: Duration::ZERO };
    let now = Timestamp::new(chrono::Utc::now());
    notices.webhook_written(WebhookWrite::Created(&global), now).await.expect("no entity to tell");
    notices.delivery_exhausted(None, &failed(global.info.id, "booking.created"), now).await.expect("none");
    let own = subscribed(&store, Owner::Entity(entity), json!(["booking.*"])).await;
    notices.webhook_written(WebhookWrite::Created(&own), now).await.expect("no subscriber");
    assert!(sent(&queue).await.is_empty());
    let id = format!("{CREATED_EVENT_TYPE}.{}.1", own.info.id);
    assert!(
        store.published_event(entity, &id, None).await.expect("read").is_none(),
        "a notice no one lists is not kept"
    );
}

#[test]
fn a_failure_of_a_notices_delivery_is_never_told() {
    let webhook = WebhookId(Uuid::nil());
    assert!(failed(webhook, "booking.created").is_told());
    for event_type in [DISABLED_EVENT_TYPE, FAILING_EVENT_TYPE, EXHAUSTED_EVENT_TYPE, CREATED_EVENT_TYPE] {
        assert!(!failed(webhook, event_type).is_told(), "{event_type}");
    }
}
