//! `POST /api/managing-entity/{entityId}/events` (issue 27), on every target: each event of a
//! batch is answered as the publish route would answer it, in its order; a refused event refuses
//! only itself; a batch that is not one, or a caller who may not publish, changes nothing.

use std::collections::BTreeMap;
use std::time::Duration;

use reqwest::{Method, StatusCode};
use rstest::rstest;
use rstest_reuse::apply;
use serde_json::{Value, json};

use crate::helpers::{Target, TestApp, targets};
use crate::receiver::{Answer, Receiver};

const PATIENCE: Duration = Duration::from_secs(60);

fn path(app: &TestApp) -> String {
    format!("/api/managing-entity/{}/events", app.entity)
}

fn booking(id: &str) -> Value {
    json!({"id": id, "type": "booking.created", "data": {"bookingId": id}})
}

#[apply(targets)]
#[tokio::test]
async fn each_event_of_a_batch_is_answered_in_order_and_a_bad_one_refuses_only_itself(#[case] target: Target) {
    let app = TestApp::on(target).await;
    let receiver = Receiver::start(&[Answer::Status(200)]).await;
    app.create_with(&json!({"name": "Batch", "eventUrl": receiver.url()})).await;
    let run = uuid::Uuid::new_v4().simple().to_string();
    let (first, second) = (format!("{run}-1"), format!("{run}-2"));
    let events =
        json!([booking(&first), {"id": "no-type", "data": {}}, booking(&second), booking(&first), "not an event"]);

    let (status, body) = app.publish_batch(events).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{target:?}: {body}");
    let items = body["items"].as_array().expect("items");
    let statuses: Vec<u64> = items.iter().filter_map(|item| item["status"].as_u64()).collect();
    assert_eq!(statuses, [202, 422, 202, 200, 400], "{target:?}: {body}");
    assert_eq!((items[0]["eventId"].as_str(), items[0]["deliveries"].as_u64()), (Some(first.as_str()), Some(1)));
    assert_eq!((items[3]["eventId"].as_str(), &items[3]["duplicate"]), (Some(first.as_str()), &json!(true)));
    assert_eq!(items[1]["type"], "/problems/validation", "{target:?}: {body}");
    assert!(items[1]["instance"].as_str().is_some_and(|i| i.ends_with("/events#/events/1")), "{target:?}: {body}");

    let received = receiver.wait_for(2, PATIENCE).await;
    // A third arrival would come soon after the two: give it the time to show.
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(received.len(), 2, "{target:?}");
    assert_eq!(receiver.per_event(), BTreeMap::from([(first, 1), (second, 1)]), "{target:?}: each good event once");
}

#[apply(targets)]
#[tokio::test]
async fn a_batch_that_is_not_one_or_may_not_be_published_changes_nothing(#[case] target: Target) {
    let app = TestApp::on(target).await;
    let receiver = Receiver::start(&[Answer::Status(200)]).await;
    app.create_with(&json!({"name": "Batch", "eventUrl": receiver.url()})).await;
    let run = uuid::Uuid::new_v4().simple().to_string();
    let too_many: Vec<Value> = (0..101).map(|n| booking(&format!("{run}-{n}"))).collect();
    for (events, problem) in [
        (json!([]), "/problems/validation"),
        (json!(too_many), "/problems/validation"),
        (json!({"type": "booking.created"}), "/problems/validation"),
    ] {
        let (status, body) = app.publish_batch(events).await;
        assert_eq!(
            (status, body["type"].as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, Some(problem)),
            "{target:?}: {body}"
        );
    }
    let keyed = app
        .request(Method::POST, &path(&app))
        .header("idempotency-key", "k-1")
        .json(&json!({"events": [booking(&run)]}));
    assert_eq!(
        TestApp::send_within_limits(keyed).await.status(),
        StatusCode::BAD_REQUEST,
        "{target:?}: a key names one event"
    );
    let mut claims = app.tokens.claims(&app.entity);
    claims["scope"] = json!("event-types:write");
    let without_scope = app.tokens.sign(&claims);
    let refused = app.client.post(format!("{}{}", app.base, path(&app))).bearer_auth(&without_scope);
    let refused = refused.json(&json!({"events": [booking(&run)]})).send().await.expect("send");
    assert_eq!(refused.status(), StatusCode::FORBIDDEN, "{target:?}");
    let other = format!("/api/managing-entity/{}/events", uuid::Uuid::new_v4());
    let stranger = app.client.post(format!("{}{other}", app.base)).bearer_auth(app.token_for(&app.entity));
    let stranger = stranger.json(&json!({"events": [booking(&run)]})).send().await.expect("send");
    assert_eq!(stranger.status(), StatusCode::NOT_FOUND, "{target:?}: another entity's");

    let (status, body) = app.publish_batch(json!([booking(&run)])).await;
    assert_eq!((status, body["items"][0]["status"].as_u64()), (StatusCode::ACCEPTED, Some(202)), "{target:?}: {body}");
    assert_eq!(receiver.wait_for(1, PATIENCE).await.len(), 1, "{target:?}");
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(receiver.received().len(), 1, "{target:?}: only the batch that was one was published");
}
