//! The platform's operational events (docs/contract.md 12) on every target: a webhook's create,
//! update and delete, its first failure and a delivery that failed after its last attempt each
//! reach a webhook that lists the type once, with data its schema in the catalog takes.

use std::collections::BTreeMap;
use std::time::Duration;

use reqwest::{Method, StatusCode};
use rstest::rstest;
use rstest_reuse::apply;
use serde_json::{Value, json};

use crate::helpers::{ATTEMPTS, Target, TestApp, targets};
use crate::receiver::{Answer, Receiver};

const PATIENCE: Duration = Duration::from_secs(90);
const TYPES: [&str; 5] =
    ["webhook.created", "webhook.updated", "webhook.deleted", "webhook.failing", "delivery.exhausted"];

/// The catalog's schema of each type, compiled.
async fn schemas(app: &TestApp) -> BTreeMap<String, jsonschema::Validator> {
    let listed = TestApp::send_within_limits(app.request(Method::GET, "/api/event-types")).await;
    let listed: Value = listed.json().await.expect("JSON");
    let items = listed["items"].as_array().expect("items");
    let schema_of = |t: &Value| Some((t["name"].as_str()?.to_string(), jsonschema::validator_for(&t["schema"]).ok()?));
    items.iter().filter(|t| t["platform"] == true).filter_map(schema_of).collect()
}

#[apply(targets)]
#[tokio::test]
async fn each_operational_event_reaches_a_webhook_listing_it_once_with_data_its_schema_takes(#[case] target: Target) {
    let app = TestApp::on(target).await;
    let (ops, failing) = (Receiver::start(&[Answer::Status(200)]).await, Receiver::start(&[Answer::Status(500)]).await);
    let subscriber = app.create_with(&json!({"name": "Ops", "eventUrl": ops.url(), "eventList": TYPES})).await;
    let other = json!({"name": "Other", "eventUrl": failing.url(), "eventList": ["booking.created"]});
    let other = app.create_with(&other).await;
    let id = other["id"].as_str().expect("id");
    let rename =
        app.request(Method::PATCH, &app.webhook(id)).header("if-match", "\"1\"").json(&json!({"name": "Renamed"}));
    assert_eq!(TestApp::send_within_limits(rename).await.status(), StatusCode::OK);
    let published = app.publish(&json!({"type": "booking.created", "data": {}})).await;
    assert_eq!(published.status(), StatusCode::ACCEPTED);
    let event_id = published.json::<Value>().await.expect("JSON")["eventId"].clone();
    let failed = app.deliveries_when(id, PATIENCE, |log| log.first().is_some_and(|d| d["status"] == "failed")).await;
    assert_eq!(failed[0]["status"], "failed", "{target:?}: {failed:?}");
    let deleted = app.request(Method::DELETE, &app.webhook(id)).send().await.expect("delete");
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);

    // One of each type about the other webhook. The subscriber may be told of its own creation
    // too: the notices index may lag a write by a moment (docs/contract.md 12).
    let about = |target: &str| {
        let of = |r: &crate::receiver::Received| serde_json::from_slice::<Value>(&r.body).expect("JSON");
        ops.received().into_iter().filter(|r| of(r)["data"]["webhookId"] == target).collect::<Vec<_>>()
    };
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while about(id).len() < 5 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let told = about(id);
    assert_eq!(told.len(), 5, "{target:?}: once each");
    let own = about(subscriber["id"].as_str().expect("id"));
    assert!(own.len() <= 1 && ops.received().len() == 5 + own.len(), "{target:?}: nothing else");
    let schemas = schemas(&app).await;
    let mut by_type = BTreeMap::<String, Vec<Value>>::new();
    for request in &told {
        let body: Value = serde_json::from_slice(&request.body).expect("JSON");
        let event_type = body["type"].as_str().expect("type").to_string();
        let schema = schemas.get(&event_type).unwrap_or_else(|| panic!("{event_type} is a platform type"));
        assert!(schema.is_valid(&body["data"]), "{target:?}: {event_type}'s data breaks its schema: {body}");
        assert_eq!(body["ownerIdentifier"], json!(app.entity));
        by_type.entry(event_type).or_default().push(body["data"].clone());
    }
    assert_eq!(by_type["webhook.created"], [json!({"webhookId": id, "name": "Other", "version": 1})]);
    assert_eq!(by_type["webhook.updated"], [json!({"webhookId": id, "name": "Renamed", "version": 2})]);
    let failing = &by_type["webhook.failing"][0];
    assert_eq!((&failing["deliveryId"], &failing["eventId"]), (&failed[0]["deliveryId"], &event_id), "{failing}");
    let exhausted = &by_type["delivery.exhausted"][0];
    assert_eq!(
        (&exhausted["deliveryId"], &exhausted["eventType"]),
        (&failed[0]["deliveryId"], &json!("booking.created"))
    );
    assert_eq!(exhausted["attempts"], ATTEMPTS, "{exhausted}");
    assert_eq!(by_type["webhook.deleted"], [json!({"webhookId": id})]);
}
