//! How a plan's messages are sent: a FIFO webhook's with the publish, in publish order, however
//! the rest goes; a plan with many paused webhooks in pages, whose skipped records the deliver
//! step writes.

use std::time::Duration;

use serde_json::json;
use uuid::Uuid;

use super::fan_out::send;
use crate::model::{EntityId, EventData, FanOutPlan, FanOutTarget, QueueMessage, Timestamp, WebhookId};
use crate::queue::{MemoryQueue, QueueConsumer};
use crate::store::{DeliveryList, MemoryStore};

const ENTITY: &str = "d5b8a3c2-9e6f-4a1b-8d34-7c2e1f0a5b69";

fn target(webhook: WebhookId, enabled: bool, fifo: bool) -> FanOutTarget {
    FanOutTarget { webhook_id: webhook, delivery_id: Uuid::now_v7(), enabled, global: false, account: None, fifo }
}

fn plan(event_id: &str, data: serde_json::Value, targets: Vec<FanOutTarget>) -> FanOutPlan {
    FanOutPlan {
        plan: Some(Uuid::now_v7()),
        event_id: event_id.into(),
        event_type: "booking.created".into(),
        occurred_at: Timestamp::new(chrono::Utc::now()),
        data: EventData::of(&data).expect("JSON"),
        targets,
    }
}

/// Everything on `queue`, in the order sent.
async fn sent(queue: &MemoryQueue) -> Vec<QueueMessage> {
    let received = queue.receive(1000, Duration::ZERO).await.expect("receive");
    received.iter().map(|r| serde_json::from_str(&r.body).expect("a message")).collect()
}

#[tokio::test]
async fn a_fifo_webhooks_messages_go_with_the_publish_in_order_when_the_others_go_in_pages() {
    let (store, queue) = (MemoryStore::new(), MemoryQueue::new(Duration::from_secs(60)));
    let entity = EntityId::parse(ENTITY).expect("uuid");
    let (fifo, others) = (WebhookId(Uuid::now_v7()), (0..11).map(|_| WebhookId(Uuid::now_v7())).collect::<Vec<_>>());
    let targets = || {
        let mut targets = vec![target(fifo, true, true)];
        targets.extend(others.iter().map(|w| target(*w, true, false)));
        targets
    };
    // A's deliveries go in pages (eleven unordered ones); B's, as few and smaller, go as they are.
    let a = plan("a", json!({"blob": "x".repeat(100 * 1024)}), targets());
    let b = plan("b", json!({}), targets()[..3].to_vec());
    for plan in [&a, &b] {
        assert_eq!(send(&store, &queue, entity, plan, true, Duration::ZERO).await.expect("send"), plan.targets.len());
    }
    let messages = sent(&queue).await;
    let to_fifo: Vec<&str> = messages
        .iter()
        .filter_map(|m| match m {
            QueueMessage::Delivery(d) if d.webhook_id == fifo => Some(d.event.id()),
            _ => None,
        })
        .collect();
    assert_eq!(to_fifo, ["a", "b"], "the FIFO webhook's messages, in publish order");
    let pages = messages.iter().filter(|m| matches!(m, QueueMessage::FanOut { .. })).count();
    assert_eq!(pages, 1, "A's unordered deliveries in a page");
}

#[tokio::test]
async fn a_plan_with_many_paused_webhooks_goes_in_pages_whose_step_records_them() {
    let (store, queue) = (MemoryStore::new(), MemoryQueue::new(Duration::from_secs(60)));
    let entity = EntityId::parse(ENTITY).expect("uuid");
    let mut targets: Vec<FanOutTarget> = (0..2).map(|_| target(WebhookId(Uuid::now_v7()), true, false)).collect();
    targets.extend((0..15).map(|_| target(WebhookId(Uuid::now_v7()), false, false)));
    let paused = targets[2].webhook_id;
    send(&store, &queue, entity, &plan("many-paused", json!({}), targets), true, Duration::ZERO).await.expect("send");
    let messages = sent(&queue).await;
    assert!(matches!(messages[..], [QueueMessage::FanOut { .. }]), "one page: {messages:?}");
    let recorded = store.deliveries_after(paused, Uuid::nil(), 10).await.expect("list");
    assert!(recorded.is_empty(), "no skipped record written by the publish");
}
