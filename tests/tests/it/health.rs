//! Keeping endpoints healthy (docs/contract.md 12) on every target: a webhook failing for the
//! disable-after is disabled with its reason and its entity told, and each webhook's stats.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use rstest::rstest;
use rstest_reuse::apply;
use serde_json::{Value, json};

use crate::helpers::{ATTEMPTS, Target, TestApp, targets};
use crate::receiver::{Answer, Receiver};

const PATIENCE: Duration = Duration::from_secs(90);

fn body_of(request: &crate::receiver::Received) -> Value {
    serde_json::from_slice(&request.body).expect("a JSON body")
}

#[apply(targets)]
#[tokio::test]
async fn a_webhook_failing_for_the_disable_after_is_disabled_and_its_entity_told(#[case] target: Target) {
    // On the deployed stack, its `DisableAfter` (helpers::DISABLE_AFTER) applies.
    let app = TestApp::disabling_after(target, Duration::from_secs(2)).await;
    let (failing, told, told_globally, everything) = (
        Receiver::start(&[Answer::Status(500)]).await,
        Receiver::start(&[Answer::Status(200)]).await,
        Receiver::start(&[Answer::Status(200)]).await,
        Receiver::start(&[Answer::Status(200)]).await,
    );
    let webhook = app.create_with(&json!({"name": "Always failing", "eventUrl": failing.url()})).await;
    let id = webhook["id"].as_str().expect("id");
    let notices = json!({"name": "Ops", "eventUrl": told.url(), "eventList": ["webhook.disabled"]});
    app.create_with(&notices).await;
    app.create_with(&json!({"name": "Every event", "eventUrl": everything.url()})).await;
    // A global webhook covering the entity is not told: the notice is the entity's own, and
    // the partner's webhook would learn of the hotel's other endpoints.
    let global = app.request(Method::POST, "/api/webhook").json(&json!({
        "name": "Ops of every hotel", "eventUrl": told_globally.url(), "eventList": ["webhook.*"], "entities": [app.entity]
    }));
    assert_eq!(TestApp::send_within_limits(global).await.status(), StatusCode::CREATED);

    // Failing events, one a second, until the webhook has failed for the disable-after.
    let deadline = tokio::time::Instant::now() + PATIENCE;
    let disabled = loop {
        let current: Value = app.get(id).await.json().await.expect("JSON");
        if current["enabled"] == false || tokio::time::Instant::now() > deadline {
            break current;
        }
        assert_eq!(app.publish(&json!({"type": "booking.created", "data": {}})).await.status(), StatusCode::ACCEPTED);
        tokio::time::sleep(Duration::from_secs(1)).await;
    };
    assert_eq!(disabled["enabled"], false, "{target:?}: never disabled: {disabled}");
    let reason = disabled["disabledReason"].as_str().expect("a disabledReason");
    assert!(reason.starts_with("failing since ") && reason.ends_with(": the receiver answered 500"), "{reason}");
    assert_eq!(disabled["userIdentifier"], "auto-disable");

    let notice = told.wait_for(1, PATIENCE).await;
    assert_eq!(notice.len(), 1, "{target:?}: the entity's subscriber is told once");
    let notice = body_of(&notice[0]);
    // Deliveries of one publish go out together: a second is ample for a global one to show.
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(told_globally.received().is_empty(), "{target:?}: a global webhook is not told");
    assert_eq!((&notice["type"], &notice["ownerIdentifier"]), (&json!("webhook.disabled"), &json!(app.entity)));
    assert_eq!(notice["data"]["webhookId"], id);
    assert_eq!(notice["data"]["reason"], reason);
    assert!(reason.contains(notice["data"]["failingSince"].as_str().expect("failingSince")), "{notice}");
    let types =
        |receiver: &Receiver| receiver.received().iter().map(|r| body_of(r)["type"].clone()).collect::<Vec<_>>();
    assert!(types(&failing).iter().all(|t| t == "booking.created"), "never told about itself");
    assert!(types(&everything).iter().all(|t| t == "booking.created"), "not a notice for every event");

    let path = app.webhook(id);
    let version = disabled["version"].to_string();
    let enable = app.request(Method::PATCH, &path).header("if-match", version).json(&json!({"enabled": true}));
    let enabled: Value = TestApp::send_within_limits(enable).await.json().await.expect("JSON");
    assert_eq!((&enabled["enabled"], &enabled["disabledReason"]), (&json!(true), &Value::Null), "{enabled}");
}

#[apply(targets)]
#[tokio::test]
async fn stats_count_each_delivery_once_by_its_status(#[case] target: Target) {
    let app = TestApp::on(target).await;
    let since = (chrono::Utc::now() - chrono::Duration::minutes(5)).to_rfc3339();
    // Every attempt of the first 5 events fails; then every one succeeds.
    let mut script = vec![Answer::Status(500); 5 * ATTEMPTS];
    script.push(Answer::Status(200));
    let receiver = Receiver::start(&script).await;
    let webhook = app.create_with(&json!({"name": "Mostly up", "eventUrl": receiver.url()})).await;
    let id = webhook["id"].as_str().expect("id");
    let publish = async |n: usize| app.publish(&json!({"type": "booking.created", "data": {"n": n}})).await.status();
    for n in 0..5 {
        assert_eq!(publish(n).await, StatusCode::ACCEPTED);
    }
    let failed = |log: &[Value]| log.iter().filter(|d| d["status"] == "failed").count();
    assert_eq!(failed(&app.deliveries_when(id, PATIENCE, |log| failed(log) == 5).await), 5, "{target:?}");
    for n in 5..25 {
        assert_eq!(publish(n).await, StatusCode::ACCEPTED);
    }
    receiver.wait_for(5 * ATTEMPTS + 20, PATIENCE).await;

    let stats_path = format!("{}/stats?since={}", app.webhook(id), urlencode(&since));
    let deadline = tokio::time::Instant::now() + PATIENCE;
    let stats = loop {
        let stats: Value =
            app.request(Method::GET, &stats_path).send().await.expect("stats").json().await.expect("JSON");
        if stats["counts"]["succeeded"] == 20 || tokio::time::Instant::now() > deadline {
            break stats;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(stats["counts"], json!({"succeeded": 20, "failed": 5, "pending": 0, "skipped": 0}), "{target:?}");
    assert_eq!(stats["successRate"], 0.8);
    assert!(stats["latencyMs"]["p50"].as_u64().is_some() && stats["latencyMs"]["p95"].as_u64().is_some(), "{stats}");
    let series = stats["series"].as_array().expect("series");
    let sum = |name: &str| series.iter().map(|p| p[name].as_u64().expect("a count")).sum::<u64>();
    assert_eq!((sum("succeeded"), sum("failed")), (20, 5), "{stats}");
    assert!((1..=2).contains(&series.len()), "one entry per hour of the 5 minutes: {stats}");

    let too_old = (chrono::Utc::now() - chrono::Duration::days(31)).to_rfc3339();
    let held = app.request(Method::GET, &format!("{}/stats?since={}", app.webhook(id), urlencode(&too_old)));
    let held: Value = held.send().await.expect("stats").json().await.expect("JSON");
    assert_eq!(
        held["series"].as_array().map(Vec::len),
        Some(30 * 24 + 1),
        "held to the 30 days kept: {}",
        held["since"]
    );
    let garbled = app.request(Method::GET, &format!("{}/stats?since=yesterday", app.webhook(id)));
    assert_eq!(garbled.send().await.expect("stats").status(), StatusCode::BAD_REQUEST);
    let global = app.request(Method::POST, "/api/webhook").json(&json!({
        "name": "Channel manager", "eventUrl": receiver.url(), "entities": [app.entity]
    }));
    let global: Value = TestApp::send_within_limits(global).await.json().await.expect("JSON");
    let path = format!("/api/webhook/{}/stats", global["id"].as_str().expect("id"));
    let stats: Value = app.request(Method::GET, &path).send().await.expect("stats").json().await.expect("JSON");
    assert_eq!(stats["counts"], json!({"succeeded": 0, "failed": 0, "pending": 0, "skipped": 0}), "{stats}");
    assert_eq!((stats["successRate"].clone(), stats["series"].as_array().map(Vec::len)), (Value::Null, Some(25)));
}

fn urlencode(text: &str) -> String {
    text.replace('+', "%2B").replace(':', "%3A")
}
