//! Resend and recover (docs/contract.md 5.2, 12) on every target: a receiver that was down gets each
//! failed event exactly once more, what a pause skipped can be recovered, and one delivery can
//! be sent again as a new one.

use std::collections::BTreeMap;
use std::time::Duration;

use reqwest::{Method, StatusCode};
use rstest::rstest;
use rstest_reuse::apply;
use serde_json::{Value, json};

use crate::helpers::{ATTEMPTS, Target, TestApp, targets};
use crate::receiver::{Answer, Receiver};

const PATIENCE: Duration = Duration::from_secs(90);

async fn publish(app: &TestApp, n: usize) -> String {
    let response = app.publish(&json!({"type": "booking.created", "data": {"n": n}})).await;
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    let body: Value = response.json().await.expect("JSON");
    body["eventId"].as_str().expect("eventId").to_string()
}

async fn recover(app: &TestApp, id: &str, body: &Value) -> Value {
    let path = format!("{}/recover", app.webhook(id));
    let response = TestApp::send_within_limits(app.request(Method::POST, &path).json(body)).await;
    assert_eq!(response.status(), StatusCode::ACCEPTED, "{body}");
    response.json().await.expect("JSON")
}

#[apply(targets)]
#[tokio::test]
async fn recovering_after_an_outage_sends_each_failed_event_exactly_once_more(#[case] target: Target) {
    let app = TestApp::on(target).await;
    let since = (chrono::Utc::now() - chrono::Duration::seconds(5)).to_rfc3339();
    // Down for every attempt of both events, then up.
    let mut script = vec![Answer::Status(500); 2 * ATTEMPTS];
    script.push(Answer::Status(200));
    let receiver = Receiver::start(&script).await;
    let webhook = app.create_with(&json!({"name": "Down for a while", "eventUrl": receiver.url()})).await;
    let id = webhook["id"].as_str().expect("id");
    let events = [publish(&app, 1).await, publish(&app, 2).await];
    let failed =
        app.deliveries_when(id, PATIENCE, |log| log.len() == 2 && log.iter().all(|d| d["status"] == "failed")).await;
    assert!(failed.iter().all(|d| d["status"] == "failed"), "{target:?}: {failed:?}");

    let recovered = recover(&app, id, &json!({"since": since})).await;
    assert_eq!(recovered["deliveries"], 2, "{recovered}");
    receiver.wait_for(2 * ATTEMPTS + 2, PATIENCE).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let expected: BTreeMap<String, usize> = events.iter().map(|e| (e.clone(), ATTEMPTS + 1)).collect();
    assert_eq!(receiver.per_event(), expected, "{target:?}: each event once more");
    let log =
        app.deliveries_when(id, PATIENCE, |log| log.iter().filter(|d| d["status"] == "succeeded").count() == 2).await;
    let succeeded: Vec<&Value> = log.iter().filter(|d| d["status"] == "succeeded").collect();
    assert_eq!(succeeded.len(), 2, "the log shows the new deliveries: {log:?}");
    assert!(
        succeeded.iter().all(|d| d["attempts"][0]["attempt"] == 1 && d["attempts"].as_array().map(Vec::len) == Some(1))
    );

    let again = recover(&app, id, &json!({"since": since, "statuses": ["skipped"]})).await;
    assert_eq!(again["deliveries"], 0, "nothing was skipped");
}

#[apply(targets)]
#[tokio::test]
async fn what_a_pause_skipped_is_recovered_and_one_delivery_can_be_resent(#[case] target: Target) {
    let app = TestApp::on(target).await;
    let since = (chrono::Utc::now() - chrono::Duration::seconds(5)).to_rfc3339();
    let receiver = Receiver::start(&[Answer::Status(200)]).await;
    let webhook = app.create_with(&json!({"name": "Paused", "eventUrl": receiver.url(), "enabled": false})).await;
    let id = webhook["id"].as_str().expect("id");
    let mut events = Vec::new();
    for n in 0..5 {
        events.push(publish(&app, n).await);
    }
    let resumed = app.request(Method::PATCH, &app.webhook(id)).json(&json!({"enabled": true, "version": 1}));
    assert_eq!(resumed.send().await.expect("resume").status(), StatusCode::OK);
    let recovered = recover(&app, id, &json!({"since": since, "statuses": ["skipped"]})).await;
    assert_eq!(recovered["deliveries"], 5, "{recovered}");
    receiver.wait_for(5, PATIENCE).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let expected: BTreeMap<String, usize> = events.iter().map(|e| (e.clone(), 1)).collect();
    assert_eq!(receiver.per_event(), expected, "{target:?}: the 5 skipped events, once each");

    let log =
        app.deliveries_when(id, PATIENCE, |log| log.iter().filter(|d| d["status"] == "succeeded").count() == 5).await;
    let first = log.iter().find(|d| d["status"] == "succeeded").expect("a succeeded delivery");
    let path = format!("{}/deliveries/{}/resend", app.webhook(id), first["deliveryId"].as_str().expect("id"));
    let resent = TestApp::send_within_limits(app.request(Method::POST, &path)).await;
    assert_eq!(resent.status(), StatusCode::ACCEPTED);
    let resent: Value = resent.json().await.expect("JSON");
    assert_ne!(resent["deliveryId"], first["deliveryId"], "a new delivery");
    receiver.wait_for(6, PATIENCE).await;
    assert_eq!(receiver.per_event()[first["eventId"].as_str().expect("event")], 2, "sent once more");
    let missing = format!("{}/deliveries/{}/resend", app.webhook(id), uuid::Uuid::now_v7());
    assert_eq!(app.request(Method::POST, &missing).send().await.expect("resend").status(), StatusCode::NOT_FOUND);
}
