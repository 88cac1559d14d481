use serde_json::{Value, json};

use super::*;

const OWNER: &str = "d5b8a3c2-9e6f-4a1b-8d34-7c2e1f0a5b69";

fn delivery(event: CarriedEvent) -> QueueMessage {
    let owner = EntityId::parse(OWNER).expect("uuid");
    DeliveryMessage::first(Uuid::now_v7(), WebhookId(Uuid::now_v7()), owner, event).into()
}

fn whole(data: Value) -> CarriedEvent {
    let occurred_at = Timestamp::new(chrono::Utc::now());
    let data = EventData::of(&data).expect("JSON");
    CarriedEvent::Whole(Event { id: "evt".into(), event_type: "booking.created".into(), occurred_at, data })
}

fn read_back(message: &QueueMessage) -> QueueMessage {
    QueueMessage::from_body(&serde_json::to_string(message).expect("JSON")).expect("readable")
}

#[test]
fn every_kind_of_queue_message_reads_back_as_it_was_written() {
    let named = CarriedEvent::Named { id: "evt".into(), event_type: "booking.created".into() };
    let owner = EntityId::parse(OWNER).expect("uuid");
    let fan_out = FanOutPage {
        owner_identifier: owner,
        event_id: "evt".into(),
        plan: Uuid::now_v7(),
        page: 2,
        resent: true,
        deferrals: 1,
    };
    let now = Timestamp::new(chrono::Utc::now());
    let recovery = RecoveryPage {
        webhook_id: WebhookId(Uuid::now_v7()),
        owner_identifier: None,
        since: now,
        until: now,
        statuses: vec![DeliveryStatus::Failed],
        after: None,
        deferrals: 0,
    };
    for message in [
        delivery(whole(json!({"bookingId": "b1", "nested": {"a": [1, null]}}))),
        delivery(whole(Value::Null)),
        delivery(named),
        QueueMessage::FanOut { fan_out },
        QueueMessage::Recovery { recovery },
    ] {
        assert_eq!(read_back(&message), message);
    }
}

#[test]
fn an_event_without_its_time_or_data_is_read_as_named() {
    let body = json!({"id": "evt", "type": "booking.created", "occurredAt": "2026-12-07T00:00:00Z"});
    let carried: CarriedEvent = serde_json::from_value(body).expect("readable");
    assert_eq!(carried, CarriedEvent::Named { id: "evt".into(), event_type: "booking.created".into() });
}

#[test]
fn an_unreadable_body_is_an_error_that_says_so() {
    let err = QueueMessage::from_body(r#"{"deliveryId": 1}"#).expect_err("unreadable");
    let crate::error::Error::Internal(cause) = err else { panic!("not an internal error: {err:?}") };
    assert!(cause.to_string().starts_with("unreadable queue message: "), "{cause}");
}
