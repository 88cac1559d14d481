//! Tests of the memory store's own behaviour; what it shares with DynamoDB is in the store contract.

use super::*;
use crate::model::{DeliveryStatus, Event, EventData, FanOutTarget};
use crate::store::{DeliveryGet, DeliveryRecord, DeliveryStats, EventGet, EventInsert};
use crate::testing::ManualClock;

fn step(webhook: WebhookId) -> DeliveryStep {
    let event = Event {
        id: "evt-old".into(),
        event_type: "booking.created".into(),
        occurred_at: Timestamp::new(chrono::Utc::now()),
        data: EventData::default(),
    };
    let entity = EntityId::parse("d5b8a3c2-9e6f-4a1b-8d34-7c2e1f0a5b69").expect("uuid");
    DeliveryStep::of(Uuid::now_v7(), webhook, entity, (&event.id, &event.event_type), 1, DeliveryStatus::Succeeded)
}

#[tokio::test]
async fn deliveries_events_and_statistics_past_the_retention_are_forgotten() {
    let clock = Arc::new(ManualClock::at(chrono::Utc::now()));
    let store = MemoryStore::with_retention(Duration::from_secs(3600), clock.clone());
    let webhook = WebhookId(Uuid::now_v7());
    let old = step(webhook);
    let entity = old.owner_identifier.expect("entity");
    store.record_step(&old).await.expect("record");
    let counters = HourCounters::of_step(&old).expect("counted");
    store.add_counts(webhook, &counters).await.expect("count");
    let target = FanOutTarget {
        webhook_id: webhook,
        delivery_id: old.delivery_id,
        enabled: true,
        global: false,
        account: None,
        fifo: false,
    };
    let plan = FanOutPlan {
        plan: Some(Uuid::now_v7()),
        event_id: old.event_id.clone(),
        event_type: old.event_type.clone(),
        occurred_at: Timestamp::new(clock.now()),
        data: EventData::default(),
        targets: vec![target],
    };
    let now = Timestamp::new(clock.now());
    store.open_fan_out(entity, &plan, now, Duration::from_secs(60)).await.expect("plan");

    clock.advance(30 * 60);
    store.record_step(&step(webhook)).await.expect("a write within the retention");
    assert!(store.get_delivery(webhook, old.delivery_id).await.expect("get").is_some(), "kept for the hour");

    // Past the hour of the delivery, and past the hour its statistics count.
    clock.advance(91 * 60);
    let recent = step(webhook);
    store.record_step(&recent).await.expect("a write past it");
    assert_eq!(store.get_delivery(webhook, old.delivery_id).await.expect("get"), None);
    assert_eq!(store.get_plan(entity, &old.event_id, None).await.expect("get"), None);
    let hours = store.hourly_counters(webhook, counters.hour, counters.hour).await.expect("read");
    assert_eq!(hours, [], "the hour's statistics too");
    assert!(store.get_delivery(webhook, recent.delivery_id).await.expect("get").is_some());
}
