//! Publish -> queue -> deliver -> a real receiver, on every target: the runner on memory and
//! on DynamoDB Local with the SQS emulator, and the deployed stack.

use std::time::Duration;

use rstest::rstest;
use rstest_reuse::apply;
use serde_json::{Value, json};

use crate::helpers::{ATTEMPTS, TIMEOUT, Target, TestApp, targets};
use crate::receiver::{Answer, Receiver};

/// Generous: the tests share one single-threaded SQS emulator, or the deployed stack.
const PATIENCE: Duration = Duration::from_secs(60);

fn booking(id: Option<&str>) -> Value {
    let mut event = json!({"type": "booking.created", "data": {"bookingId": "b-1", "total": {"amount": "742.50"}}});
    if let Some(id) = id {
        event["id"] = json!(id);
    }
    event
}

async fn webhook_to(app: &TestApp, receiver: &Receiver, extra: Value) -> Value {
    let mut body = json!({"name": "Receiver", "eventUrl": receiver.url()});
    body.as_object_mut().expect("object").extend(extra.as_object().cloned().unwrap_or_default());
    app.create_with(&body).await
}

#[apply(targets)]
#[tokio::test]
async fn a_published_event_arrives_signed_with_the_documented_body(#[case] target: Target) {
    let app = TestApp::on(target).await;
    let receiver = Receiver::start(&[Answer::Status(200)]).await;
    let webhook = webhook_to(&app, &receiver, json!({"eventList": ["booking.created"]})).await;
    let published = app.publish(&booking(None)).await;
    assert_eq!(published.status(), 202, "{target:?}");
    let published: Value = published.json().await.expect("JSON");
    assert_eq!(published["deliveries"], 1);

    let received = receiver.wait_for(1, PATIENCE).await;
    assert_eq!(received.len(), 1, "{target:?}: one POST");
    let request = &received[0];
    let secret = webhook["secret"].as_str().expect("secret");
    standardwebhooks::Webhook::new(secret)
        .expect("secret")
        .verify(&request.body, &request.headers)
        .unwrap_or_else(|e| panic!("{target:?}: the signature does not verify: {e:?}"));
    assert_eq!(request.headers["webhook-id"], published["eventId"].as_str().expect("event id"));
    assert_eq!(request.headers["content-type"], "application/json");
    let body: Value = serde_json::from_slice(&request.body).expect("JSON body");
    let mut keys: Vec<&str> = body.as_object().expect("object").keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(keys, ["data", "id", "occurredAt", "ownerIdentifier", "type", "webhookId"]);
    assert_eq!(body["type"], "booking.created");
    assert_eq!(body["ownerIdentifier"], app.entity.as_str());
    assert_eq!(body["webhookId"], webhook["id"]);
    assert_eq!(body["data"]["bookingId"], "b-1");

    let id = webhook["id"].as_str().expect("id");
    let log = app.deliveries_when(id, PATIENCE, |d| d.first().is_some_and(|d| d["status"] == "succeeded")).await;
    assert_eq!(log[0]["status"], "succeeded", "{target:?}: {log:?}");
    assert_eq!(log[0]["attempts"][0]["statusCode"], 200);
}

#[apply(targets)]
#[tokio::test]
async fn only_matching_enabled_webhooks_receive_and_thin_payloads_carry_no_data(#[case] target: Target) {
    let app = TestApp::on(target).await;
    let (payments, paused, thin) = (
        Receiver::start(&[Answer::Status(200)]).await,
        Receiver::start(&[Answer::Status(200)]).await,
        Receiver::start(&[Answer::Status(200)]).await,
    );
    webhook_to(&app, &payments, json!({"eventList": ["payment.*"]})).await;
    let paused_hook = webhook_to(&app, &paused, json!({"eventList": ["booking.*"], "enabled": false})).await;
    webhook_to(&app, &thin, json!({"eventList": [], "sendData": false})).await;

    let published: Value = app.publish(&booking(None)).await.json().await.expect("JSON");
    assert_eq!(published["deliveries"], 1, "{target:?}: only the thin webhook is due a POST");
    let received = thin.wait_for(1, PATIENCE).await;
    let body: Value = serde_json::from_slice(&received[0].body).expect("JSON");
    assert!(body.get("data").is_none() && body["id"] == published["eventId"], "{body}");

    let paused_id = paused_hook["id"].as_str().expect("id");
    let log = app.deliveries(paused_id).await;
    assert_eq!(log.len(), 1);
    assert_eq!((log[0]["status"].clone(), log[0]["attempts"].clone()), (json!("skipped"), json!([])));
    // Give a wrong delivery time to show up before concluding it never will.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(payments.received().is_empty() && paused.received().is_empty(), "{target:?}");
}

#[apply(targets)]
#[tokio::test]
async fn retries_until_success_then_stops(#[case] target: Target) {
    let app = TestApp::on(target).await;
    let receiver = Receiver::start(&[Answer::Status(500), Answer::Status(500), Answer::Status(200)]).await;
    let webhook = webhook_to(&app, &receiver, json!({})).await;
    let id = webhook["id"].as_str().expect("id");
    assert_eq!(app.publish(&booking(None)).await.status(), 202);

    let log = app.deliveries_when(id, PATIENCE, |d| d.first().is_some_and(|d| d["status"] == "succeeded")).await;
    assert_eq!(log[0]["status"], "succeeded", "{target:?}: {log:?}");
    let codes: Vec<Value> =
        log[0]["attempts"].as_array().expect("attempts").iter().map(|a| a["statusCode"].clone()).collect();
    assert_eq!(codes, [json!(500), json!(500), json!(200)]);
    let numbers: Vec<Value> =
        log[0]["attempts"].as_array().expect("attempts").iter().map(|a| a["attempt"].clone()).collect();
    assert_eq!(numbers, [json!(1), json!(2), json!(3)]);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(receiver.received().len(), 3, "{target:?}: no attempt after success");
    let ids: Vec<_> = receiver.received().iter().map(|r| r.headers["webhook-id"].clone()).collect();
    assert!(ids.windows(2).all(|w| w[0] == w[1]), "the same webhook-id on every retry");
}

#[apply(targets)]
#[tokio::test]
async fn gives_up_after_the_last_attempt(#[case] target: Target) {
    let app = TestApp::on(target).await;
    let receiver = Receiver::start(&[Answer::Sized(500, 4096)]).await;
    let id = webhook_to(&app, &receiver, json!({})).await["id"].as_str().expect("id").to_string();
    assert_eq!(app.publish(&booking(None)).await.status(), 202);

    let log = app.deliveries_when(&id, PATIENCE, |d| d.first().is_some_and(|d| d["status"] == "failed")).await;
    assert_eq!(log[0]["status"], "failed", "{target:?}: {log:?}");
    let attempts = log[0]["attempts"].as_array().expect("attempts");
    assert_eq!(attempts.len(), ATTEMPTS);
    // The first 1 KiB of each answer is kept (docs/contract.md 5.2).
    let kept: Vec<usize> = attempts.iter().map(|a| a["responseBody"].as_str().map_or(0, str::len)).collect();
    assert_eq!(kept, [1024; ATTEMPTS], "{target:?}");
    assert_eq!(log[0]["lastStatusCode"], 500);
    assert_eq!(log[0]["nextAttemptAt"], Value::Null);
    let by_status = |status: &str| {
        let path = format!("{}/deliveries?status={status}", app.webhook(&id));
        app.request(reqwest::Method::GET, &path).send()
    };
    let failed: Value = by_status("failed").await.expect("failed").json().await.expect("JSON");
    assert_eq!(failed["items"].as_array().map(Vec::len), Some(1), "{target:?}: {failed}");
    let succeeded: Value = by_status("succeeded").await.expect("succeeded").json().await.expect("JSON");
    assert_eq!(succeeded["items"], json!([]), "{target:?}");
    assert_eq!(by_status("lost").await.expect("bad status").status(), 400);
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(receiver.received().len(), ATTEMPTS, "{target:?}: nothing after the last attempt");
}

#[apply(targets)]
#[tokio::test]
async fn a_receiver_that_never_answers_is_cut_off_at_the_timeout(#[case] target: Target) {
    let app = TestApp::on(target).await;
    let receiver = Receiver::start(&[Answer::Hang(Duration::from_secs(30))]).await;
    let id = webhook_to(&app, &receiver, json!({})).await["id"].as_str().expect("id").to_string();
    assert_eq!(app.publish(&booking(None)).await.status(), 202);
    let log = app.deliveries_when(&id, PATIENCE, |d| d.first().is_some_and(|d| d["status"] == "failed")).await;
    assert_eq!(log[0]["status"], "failed", "{target:?}: {log:?}");
    let limit = TIMEOUT.as_millis() as u64;
    for attempt in log[0]["attempts"].as_array().expect("attempts") {
        assert_eq!(attempt["statusCode"], Value::Null);
        let error = attempt["error"].as_str().expect("error");
        assert!(error.contains(&format!("timed out after {}s", TIMEOUT.as_secs())), "{attempt}");
        let took = attempt["durationMs"].as_u64().expect("duration");
        assert!((limit * 9 / 10..limit * 5).contains(&took), "cut off near the timeout, took {took} ms");
    }
}

#[apply(targets)]
#[tokio::test]
async fn the_same_event_id_is_delivered_once(#[case] target: Target) {
    let app = TestApp::on(target).await;
    let receiver = Receiver::start(&[Answer::Status(200)]).await;
    webhook_to(&app, &receiver, json!({})).await;
    let first = app.publish(&booking(Some("evt-42"))).await;
    assert_eq!(first.status(), 202);
    let second = app.publish(&booking(Some("evt-42"))).await;
    assert_eq!(second.status(), 200);
    let second: Value = second.json().await.expect("JSON");
    assert_eq!(second, json!({"eventId": "evt-42", "duplicate": true}));
    receiver.wait_for(1, PATIENCE).await;
    tokio::time::sleep(Duration::from_millis(1000)).await;
    assert_eq!(receiver.received().len(), 1, "{target:?}");
    assert_eq!(receiver.received()[0].headers["webhook-id"], "evt-42");
}

#[apply(targets)]
#[tokio::test]
async fn the_test_route_makes_one_signed_attempt_and_reports_it(#[case] target: Target) {
    let app = TestApp::on(target).await;
    let receiver = Receiver::start(&[Answer::Status(204), Answer::Status(503)]).await;
    let webhook = webhook_to(&app, &receiver, json!({})).await;
    let path = format!("{}/test", app.webhook(webhook["id"].as_str().expect("id")));
    let ok: Value = app.request(reqwest::Method::POST, &path).send().await.expect("test").json().await.expect("JSON");
    assert_eq!((ok["delivered"].clone(), ok["statusCode"].clone()), (json!(true), json!(204)), "{ok}");
    let request = &receiver.received()[0];
    standardwebhooks::Webhook::new(webhook["secret"].as_str().expect("secret"))
        .expect("secret")
        .verify(&request.body, &request.headers)
        .expect("the test event is signed");
    let body: Value = serde_json::from_slice(&request.body).expect("JSON");
    assert_eq!(body["type"], "webhook.test");

    let typed = app.request(reqwest::Method::POST, &path).json(&json!({"eventType": "payment.refunded"})).send().await;
    let failed: Value = typed.expect("test").json().await.expect("JSON");
    assert_eq!((failed["delivered"].clone(), failed["statusCode"].clone()), (json!(false), json!(503)), "{failed}");
    let body: Value = serde_json::from_slice(&receiver.received()[1].body).expect("JSON");
    assert_eq!((body["type"].clone(), body["data"]["status"].clone()), (json!("payment.refunded"), json!("refunded")));
    assert!(app.deliveries(webhook["id"].as_str().expect("id")).await.is_empty(), "tests are not deliveries");
}

#[tokio::test]
async fn private_targets_are_refused_at_create() {
    let app = TestApp::memory().await;
    for url in ["https://127.0.0.1/hooks", "https://10.0.0.1/hooks", "https://169.254.169.254/latest/meta-data"] {
        let path = app.webhooks();
        let response =
            app.request(reqwest::Method::POST, &path).json(&json!({"name": "SSRF", "eventUrl": url})).send().await;
        let response = response.expect("create");
        assert_eq!(response.status(), 422, "{url}");
        let body: Value = response.json().await.expect("JSON");
        assert_eq!(body["properties"]["errors"][0]["field"], "eventUrl");
    }
}

#[apply(targets)]
#[tokio::test]
async fn an_event_fans_out_to_twelve_webhooks_in_more_than_one_batch(#[case] target: Target) {
    let app = TestApp::on(target).await;
    let receiver = Receiver::start(&[Answer::Status(200)]).await;
    let mut secrets = std::collections::HashMap::new();
    for _ in 0..12 {
        let webhook = webhook_to(&app, &receiver, json!({"eventList": ["booking.*"]})).await;
        secrets.insert(webhook["id"].as_str().expect("id").to_string(), webhook["secret"].clone());
    }
    let published = app.publish(&booking(None)).await;
    assert_eq!(published.status(), 202, "{target:?}");
    assert_eq!(published.json::<Value>().await.expect("JSON")["deliveries"], 12);

    let received = receiver.wait_for(12, PATIENCE).await;
    let mut reached: Vec<String> = received
        .iter()
        .map(|request| {
            let body: Value = serde_json::from_slice(&request.body).expect("JSON");
            let id = body["webhookId"].as_str().expect("webhookId").to_string();
            let secret = secrets[&id].as_str().expect("secret");
            let verified =
                standardwebhooks::Webhook::new(secret).expect("secret").verify(&request.body, &request.headers);
            verified.unwrap_or_else(|e| panic!("{target:?}: {id}'s delivery does not verify with its secret: {e:?}"));
            id
        })
        .collect();
    reached.sort();
    let mut expected: Vec<String> = secrets.keys().cloned().collect();
    expected.sort();
    assert_eq!(reached, expected, "{target:?}: each of the 12 webhooks once");
}

#[apply(targets)]
#[tokio::test]
async fn the_event_view_shows_the_data_and_every_planned_delivery(#[case] target: Target) {
    let app = TestApp::on(target).await;
    let (ok, failing) = (Receiver::start(&[Answer::Status(200)]).await, Receiver::start(&[Answer::Status(500)]).await);
    let delivered = webhook_to(&app, &ok, json!({})).await["id"].clone();
    let failed = webhook_to(&app, &failing, json!({})).await["id"].clone();
    let paused = webhook_to(&app, &ok, json!({"enabled": false})).await["id"].clone();
    assert_eq!(app.publish(&booking(Some("evt-view"))).await.status(), 202);

    let path = format!("/api/managing-entity/{}/event/evt-view", app.entity);
    let view = || async { app.request(reqwest::Method::GET, &path).send().await.expect("event view") };
    let first: Value = view().await.json().await.expect("JSON");
    assert_eq!((first["id"].clone(), first["type"].clone()), (json!("evt-view"), json!("booking.created")));
    assert_eq!(first["data"], booking(None)["data"], "{target:?}: the data as published");
    let status_of = |view: &Value, webhook: &Value| {
        let deliveries = view["deliveries"].as_array().cloned().unwrap_or_default();
        deliveries.iter().find(|d| d["webhookId"] == *webhook).map(|d| d["status"].clone())
    };
    assert_eq!(first["deliveries"].as_array().map(Vec::len), Some(3), "{target:?}: every planned delivery: {first}");
    assert_eq!(status_of(&first, &paused), Some(json!("skipped")));

    let deadline = tokio::time::Instant::now() + PATIENCE;
    let last = loop {
        let now: Value = view().await.json().await.expect("JSON");
        let done = status_of(&now, &failed) == Some(json!("failed"));
        if done || tokio::time::Instant::now() > deadline {
            break now;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(status_of(&last, &delivered), Some(json!("succeeded")), "{target:?}: {last}");
    assert_eq!(status_of(&last, &failed), Some(json!("failed")), "{target:?}: {last}");
    let elsewhere =
        app.request(reqwest::Method::GET, &format!("/api/managing-entity/{}/event/evt-view", uuid::Uuid::new_v4()));
    assert_eq!(elsewhere.send().await.expect("send").status(), 404, "another entity's event is not there");
}
