//! A webhook's `rateLimit` (docs/contract.md 14) on every target: every event arrives, never faster
//! than the rate by the receiver's clock, and waiting for a turn is not an attempt; two deliver
//! processes on one table share the limit.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use rstest::rstest;
use rstest_reuse::apply;
use serde_json::{Value, json};

use crate::helpers::{Target, TestApp, targets};
use crate::receiver::{Answer, Receiver, busiest_second};

const RATE: usize = 5;
const PATIENCE: Duration = Duration::from_secs(120);

async fn publish_to(app: &TestApp, base: &str, entity: &str, n: usize) {
    let path = format!("{base}/api/managing-entity/{entity}/event");
    let event = json!({"type": "booking.created", "data": {"n": n}});
    let response = TestApp::send_within_limits(app.client.post(path).bearer_auth(&app.token).json(&event)).await;
    assert_eq!(response.status(), StatusCode::ACCEPTED);
}

/// Every delivery of `id` (at most 100) succeeded with its first attempt.
async fn each_delivered_in_one_attempt(app: &TestApp, id: &str, count: usize) {
    let path = format!("{}/deliveries?limit=100", app.webhook(id));
    let page: Value = TestApp::send_within_limits(app.request(Method::GET, &path)).await.json().await.expect("JSON");
    let deliveries = page["items"].as_array().expect("items");
    assert_eq!(deliveries.len(), count);
    for delivery in deliveries {
        assert_eq!(delivery["status"], "succeeded", "{delivery}");
        assert_eq!(delivery["attempts"].as_array().map(Vec::len), Some(1), "waiting is not an attempt: {delivery}");
    }
}

#[apply(targets)]
#[tokio::test]
async fn a_rate_limited_webhook_gets_every_event_never_faster_than_its_rate(#[case] target: Target) {
    let app = TestApp::on(target).await;
    let receiver = Receiver::start(&[Answer::Status(200)]).await;
    let webhook = app.create_with(&json!({"name": "Small PMS", "eventUrl": receiver.url(), "rateLimit": RATE})).await;
    assert_eq!(webhook["rateLimit"], RATE, "{target:?}");
    for n in 0..100 {
        publish_to(&app, &app.base, &app.entity, n).await;
    }
    let received = receiver.wait_for(100, PATIENCE).await;
    assert_eq!(received.len(), 100, "{target:?}: every event arrives");
    let busiest = busiest_second(&received.iter().map(|r| r.at).collect::<Vec<_>>());
    assert!(busiest <= RATE + 1, "{target:?}: {busiest} in one second");
    each_delivered_in_one_attempt(&app, webhook["id"].as_str().expect("id"), 100).await;
}

#[tokio::test]
async fn two_deliver_processes_on_one_table_share_a_webhooks_rate_limit() {
    let (first, second) = TestApp::two_on_one_table().await;
    let receiver = Receiver::start(&[Answer::Status(200)]).await;
    let webhook = first.create_with(&json!({"name": "Shared", "eventUrl": receiver.url(), "rateLimit": RATE})).await;
    // Each process's publish goes to its own queue, and its own deliver loop takes it.
    for n in 0..30 {
        publish_to(&first, &first.base, &first.entity, n).await;
        publish_to(&first, &second.base, &first.entity, n + 30).await;
    }
    let received = receiver.wait_for(60, PATIENCE).await;
    assert_eq!(received.len(), 60);
    let busiest = busiest_second(&received.iter().map(|r| r.at).collect::<Vec<_>>());
    assert!(busiest <= RATE + 1, "{busiest} in one second across both processes");
    each_delivered_in_one_attempt(&first, webhook["id"].as_str().expect("id"), 60).await;
}
