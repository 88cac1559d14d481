//! The ingest queue (issue 27), on every target: platform backends publish by sending the
//! publish route's body plus `entityId` to an SQS queue. A good event is delivered, once however
//! often its id is sent; one the publish route would refuse is recorded with why, for its
//! entity only, kept on the ingest dead-letter queue, and never delivered.

use std::collections::BTreeMap;
use std::time::Duration;

use reqwest::Method;
use rstest::rstest;
use rstest_reuse::apply;
use serde_json::{Value, json};

use crate::helpers::{OTHER_ENTITY, Target, TestApp, targets};
use crate::receiver::{Answer, Receiver};

const PATIENCE: Duration = Duration::from_secs(60);

fn booking(app: &TestApp, id: &str) -> Value {
    json!({"entityId": app.entity, "id": id, "type": "booking.created", "data": {"bookingId": id}})
}

/// The entity's refused events, polled until there are `count`, for at most `PATIENCE`.
async fn refused_events(app: &TestApp, count: usize) -> Vec<Value> {
    let path = format!("/api/managing-entity/{}/refused-events", app.entity);
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        let response = TestApp::send_within_limits(app.request(Method::GET, &path)).await;
        assert_eq!(response.status(), 200);
        let page: Value = response.json().await.expect("JSON");
        let items = page["items"].as_array().cloned().unwrap_or_default();
        if items.len() >= count || tokio::time::Instant::now() >= deadline {
            return items;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[apply(targets)]
#[tokio::test]
async fn an_event_sent_to_the_ingest_queue_is_delivered_once_however_often_its_id_is_sent(#[case] target: Target) {
    let app = TestApp::on(target).await;
    let receiver = Receiver::start(&[Answer::Status(200)]).await;
    let webhook = app.create_with(&json!({"name": "Ingest", "eventUrl": receiver.url()})).await;
    let run = uuid::Uuid::new_v4().simple().to_string();
    let (first, second) = (format!("{run}-1"), format!("{run}-2"));
    for id in [&first, &second, &first, &first] {
        app.ingest(&booking(&app, id)).await;
    }

    receiver.wait_for(2, PATIENCE).await;
    // A repeat's delivery would come soon after the others: give it the time to show.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(receiver.per_event(), BTreeMap::from([(first.clone(), 1), (second, 1)]), "{target:?}");
    let id = webhook["id"].as_str().expect("id");
    let planned = app.deliveries(id).await.iter().filter(|d| d["eventId"] == first.as_str()).count();
    assert_eq!(planned, 1, "{target:?}: the repeats planned no delivery");
}

#[apply(targets)]
#[tokio::test]
async fn an_event_the_publish_route_would_refuse_is_recorded_with_why_and_never_delivered(#[case] target: Target) {
    let app = TestApp::on(target).await;
    let receiver = Receiver::start(&[Answer::Status(200)]).await;
    app.create_with(&json!({"name": "Ingest", "eventUrl": receiver.url()})).await;
    let run = uuid::Uuid::new_v4().simple().to_string();
    let (unknown, good) = (format!("{run}-unknown"), format!("{run}-good"));
    app.ingest(&json!({"entityId": app.entity, "id": unknown, "type": "nothing.known", "data": {}})).await;
    app.ingest(&json!({"entityId": app.entity, "type": 7})).await;
    // Names no entity: kept on the dead-letter queue only, as no entity may read it.
    app.ingest(&json!({"id": format!("{run}-nobody"), "type": "booking.created", "data": {}})).await;
    app.ingest(&booking(&app, &good)).await;

    let refused = refused_events(&app, 2).await;
    assert_eq!(refused.len(), 2, "{target:?}: {refused:?}");
    for refusal in &refused {
        assert_eq!(refusal["problem"]["status"], 422, "{target:?}: {refusal}");
        assert_eq!(refusal["problem"]["type"], "/problems/validation", "{target:?}: {refusal}");
        assert!(refusal["messageId"].as_str().is_some_and(|id| !id.is_empty()), "{target:?}: {refusal}");
    }
    let named = refused.iter().find(|r| r["eventId"] == unknown.as_str()).expect("the unknown type's refusal");
    assert_eq!(named["eventType"], "nothing.known", "{target:?}: {named}");
    let why = named["problem"]["detail"].as_str().unwrap_or_default();
    assert!(why.contains("not a known event type"), "{target:?}: {why}");

    receiver.wait_for(1, PATIENCE).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(receiver.per_event(), BTreeMap::from([(good, 1)]), "{target:?}: only the good event is delivered");
    if let Some(kept) = app.ingest_dead_letters().await {
        assert_eq!(kept, 3, "{target:?}: every refused message is kept on the ingest DLQ");
    }
    // Another entity's caller reads none of them.
    let path = format!("/api/managing-entity/{}/refused-events", app.entity);
    let stranger = app.client.get(format!("{}{path}", app.base)).bearer_auth(app.token_for(OTHER_ENTITY));
    let response = TestApp::send_within_limits(stranger).await;
    assert_eq!(response.status(), 404, "{target:?}");
}
