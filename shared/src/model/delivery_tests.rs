use serde_json::json;

use super::*;

/// What a receiver was POSTed before `payload` wrote its bytes straight from the event: the
/// event's body as a JSON object, with the webhook's fields set on it.
fn as_an_object(event: &Event, owner: Option<EntityId>, webhook: WebhookId, send_data: bool, test: bool) -> String {
    let mut body = event_body(event, &event.data.value().expect("JSON"), owner);
    body["webhookId"] = json!(webhook);
    if test {
        body["test"] = json!(true);
    }
    if !send_data && let Some(object) = body.as_object_mut() {
        object.remove("data");
    }
    body.to_string()
}

#[test]
fn a_payload_is_the_same_bytes_as_the_events_body_with_the_webhooks_fields() {
    let event = Event {
        id: "evt \"1\" ü".into(),
        event_type: "booking.created".into(),
        occurred_at: Timestamp::new(chrono::Utc::now()),
        data: EventData::of(&json!({"z": 1, "a": {"y": [1, "two", null], "b": "\u{7}"}})).expect("JSON"),
    };
    let webhook = WebhookId(uuid::Uuid::now_v7());
    let owner = EntityId::parse("0d9e8f7a-6b5c-4d3e-8f2a-1b0c9d8e7f6a").expect("uuid");
    for owner in [Some(owner), None] {
        for send_data in [true, false] {
            for test in [true, false] {
                assert_eq!(
                    payload(&event, owner, webhook, send_data, test).expect("serializes"),
                    as_an_object(&event, owner, webhook, send_data, test),
                    "owner {owner:?}, data {send_data}, test {test}"
                );
            }
        }
    }
}
