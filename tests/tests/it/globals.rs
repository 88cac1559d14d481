//! Global webhooks (docs/contract.md 11) on every target: one webhook receives the events of each
//! entity it covers, each body naming its entity, and only a caller of its account managing
//! every one of them may see or change it.

use std::collections::BTreeSet;
use std::time::Duration;

use reqwest::{Method, StatusCode};
use rstest::rstest;
use rstest_reuse::apply;
use serde_json::{Value, json};

use crate::helpers::{Target, TestApp, targets};
use crate::receiver::{Answer, Receiver};

const PATIENCE: Duration = Duration::from_secs(60);
/// How long a deployed publish function may go on trusting that it found no `"*"` webhook
/// (`NO_STAR_RECHECK` in the DynamoDB store), with a second to spare.
const STAR_RECHECK: Duration = Duration::from_secs(11);

fn new_entity() -> String {
    uuid::Uuid::new_v4().to_string()
}

fn global(id: &str) -> String {
    format!("/api/webhook/{id}")
}

async fn send(app: &TestApp, token: &str, method: Method, path: &str, body: Option<&Value>) -> reqwest::Response {
    let request = app.client.request(method, format!("{}{path}", app.base)).bearer_auth(token);
    let request = match body {
        Some(body) => request.json(body),
        None => request,
    };
    TestApp::send_within_limits(request).await
}

async fn create_global(app: &TestApp, token: &str, body: &Value) -> Value {
    let response = send(app, token, Method::POST, "/api/webhook", Some(body)).await;
    assert_eq!(response.status(), StatusCode::CREATED, "{body}");
    let id = response.headers()["location"].to_str().expect("Location").rsplit('/').next().map(String::from);
    let created: Value = response.json().await.expect("JSON");
    assert_eq!(id.as_deref(), created["id"].as_str(), "Location is /api/webhook/{{id}}");
    created
}

async fn publish_for(app: &TestApp, entity: &str, event: &Value) -> Value {
    let path = format!("/api/managing-entity/{entity}/event");
    let response = send(app, &app.token, Method::POST, &path, Some(event)).await;
    assert_eq!(response.status(), StatusCode::ACCEPTED, "{event}");
    response.json().await.expect("JSON")
}

/// What the receiver got, as (ownerIdentifier, data.n) of each body.
fn received(receiver: &Receiver) -> Vec<(String, u64)> {
    let bodies = receiver.received().into_iter().map(|r| serde_json::from_slice::<Value>(&r.body).expect("JSON body"));
    bodies
        .map(|b| (b["ownerIdentifier"].as_str().unwrap_or("null").to_string(), b["data"]["n"].as_u64().unwrap_or(0)))
        .collect()
}

#[apply(targets)]
#[tokio::test]
async fn a_global_webhook_receives_the_events_of_each_entity_it_covers_and_of_no_other(#[case] target: Target) {
    let app = TestApp::on(target).await;
    let (a, b, c) = (app.entity.clone(), new_entity(), new_entity());
    let receiver = Receiver::start(&[Answer::Status(200)]).await;
    let body =
        json!({"name": "Channel manager", "eventUrl": receiver.url(), "eventList": ["booking.*"], "entities": [a, b]});
    let created = create_global(&app, &app.token, &body).await;
    assert_eq!(created["ownerIdentifier"], Value::Null);
    let expected: BTreeSet<&str> = [a.as_str(), b.as_str()].into();
    let entities: BTreeSet<&str> =
        created["entities"].as_array().expect("a list").iter().filter_map(Value::as_str).collect();
    assert_eq!(entities, expected);
    let id = created["id"].as_str().expect("id");

    let event = |n: u64| json!({"type": "booking.created", "data": {"n": n}});
    assert_eq!(publish_for(&app, &c, &event(3)).await["deliveries"], 0, "C is not covered");
    assert_eq!(publish_for(&app, &a, &event(1)).await["deliveries"], 1);
    assert_eq!(publish_for(&app, &b, &event(2)).await["deliveries"], 1);
    receiver.wait_for(2, PATIENCE).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut got = received(&receiver);
    got.sort_by_key(|(_, n)| *n);
    assert_eq!(got, [(a.clone(), 1), (b.clone(), 2)], "each body names its entity, and nothing of C's");
    assert!(
        receiver.received().iter().all(|r| serde_json::from_slice::<Value>(&r.body).expect("JSON")["webhookId"] == id)
    );

    let log: Value = send(&app, &app.token, Method::GET, &format!("{}/deliveries", global(id)), None)
        .await
        .json()
        .await
        .expect("JSON");
    let statuses: Vec<&Value> = log["items"].as_array().expect("items").iter().map(|d| &d["status"]).collect();
    assert_eq!(statuses, [&json!("succeeded"), &json!("succeeded")], "{log}");
    let tested = send(&app, &app.token, Method::POST, &format!("{}/test", global(id)), None).await;
    let tested: Value = tested.json().await.expect("JSON");
    assert_eq!(tested["delivered"], true, "{tested}");
    let event_view = format!(
        "/api/managing-entity/{a}/event/{}",
        publish_for(&app, &a, &event(4)).await["eventId"].as_str().expect("id")
    );
    let view: Value = send(&app, &app.token, Method::GET, &event_view, None).await.json().await.expect("JSON");
    assert_eq!(view["deliveries"][0]["webhookId"], id, "the entity's event view shows the global delivery");
}

#[apply(targets)]
#[tokio::test]
async fn only_a_caller_managing_every_covered_entity_sees_or_changes_a_global_webhook(#[case] target: Target) {
    let app = TestApp::on(target).await;
    let (a, b) = (app.entity.clone(), new_entity());
    let (only_a, a_and_b) = (app.token_for(&a), app.token_for(&format!("{a} {b}")));
    let body = |entities: Value| json!({"name": "Partner", "eventUrl": "https://partner.example.com/hooks", "eventList": ["payment.failed"], "entities": entities});
    let both = create_global(&app, &a_and_b, &body(json!([a, b]))).await;
    let (id, path) = (both["id"].as_str().expect("id"), global(both["id"].as_str().expect("id")));

    for (method, suffix, body) in [
        (Method::GET, "", None),
        (Method::PATCH, "", Some(json!({"enabled": false, "version": 1}))),
        (Method::PUT, "", Some(body(json!([a])))),
        (Method::GET, "/deliveries", None),
        (Method::POST, "/test", None),
        (Method::DELETE, "", None),
    ] {
        let response = send(&app, &only_a, method.clone(), &format!("{path}{suffix}"), body.as_ref()).await;
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "{method} {suffix} with a token for A only");
    }
    let listed = |token: String| {
        let app = &app;
        async move {
            let page: Value = send(app, &token, Method::GET, "/api/webhook", None).await.json().await.expect("JSON");
            page["items"]
                .as_array()
                .expect("items")
                .iter()
                .filter_map(|w| w["id"].as_str().map(String::from))
                .collect::<Vec<_>>()
        }
    };
    assert!(!listed(only_a.clone()).await.contains(&id.to_string()), "not listed for a token for A only");
    assert!(listed(a_and_b.clone()).await.contains(&id.to_string()));
    let refused = send(&app, &only_a, Method::POST, "/api/webhook", Some(&body(json!([a, b])))).await;
    assert_eq!(refused.status(), StatusCode::NOT_FOUND, "A's token cannot cover B");
    let star = send(&app, &a_and_b, Method::POST, "/api/webhook", Some(&body(json!("*")))).await;
    assert_eq!(star.status(), StatusCode::NOT_FOUND, "\"*\" needs a * token");
    let starred = create_global(&app, &app.token, &body(json!("*"))).await;
    let hidden = send(&app, &a_and_b, Method::GET, &global(starred["id"].as_str().expect("id")), None).await;
    assert_eq!(hidden.status(), StatusCode::NOT_FOUND);
    let bad = send(&app, &app.token, Method::POST, "/api/webhook", Some(&body(json!([])))).await;
    assert_eq!(bad.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let problem: Value = bad.json().await.expect("problem");
    assert_eq!(problem["properties"]["errors"][0]["field"], "entities", "{problem}");

    let narrowed = send(&app, &a_and_b, Method::PATCH, &path, Some(&json!({"entities": [a], "version": 1}))).await;
    assert_eq!(narrowed.status(), StatusCode::OK);
    assert_eq!(send(&app, &only_a, Method::GET, &path, None).await.status(), StatusCode::OK, "now A's token covers it");
    assert_eq!(send(&app, &only_a, Method::DELETE, &path, None).await.status(), StatusCode::NO_CONTENT);
    assert_eq!(send(&app, &app.token, Method::GET, &path, None).await.status(), StatusCode::NOT_FOUND);
    send(&app, &app.token, Method::DELETE, &global(starred["id"].as_str().expect("id")), None).await;
}

#[apply(targets)]
#[tokio::test]
async fn a_global_webhook_is_its_accounts_and_no_caller_of_another_account_reaches_it(#[case] target: Target) {
    let app = TestApp::on(target).await;
    let (a, b) = (app.entity.clone(), new_entity());
    let partner_account = format!("channel-manager-{}", uuid::Uuid::new_v4().simple());
    let partner = app.token_of(&partner_account, &format!("{a} {b}"));
    // A hotel managing entity A, and even a token of another account managing every entity.
    let (hotel, everyone) = (app.token_of("hotel-a", &a), app.token_of("another-platform", "*"));
    let body = json!({"name": "Channel manager", "eventUrl": "https://cm.example.com/hooks", "entities": [a],
        "headers": {"X-Partner-Key": "partner-header-value"}, "auth": {"type": "basic", "username": "cm", "password": "pw"}});
    let created = create_global(&app, &partner, &body).await;
    assert_eq!(created["accountIdentifier"], partner_account.as_str(), "{created}");
    let (id, path) = (created["id"].as_str().expect("id"), global(created["id"].as_str().expect("id")));
    let delivery = format!("{path}/deliveries/{}/resend", uuid::Uuid::now_v7());

    for token in [&hotel, &everyone] {
        for (method, suffix, body) in [
            (Method::GET, path.clone(), None),
            (Method::PATCH, path.clone(), Some(json!({"eventUrl": "https://hotel.example.com/steal"}))),
            (Method::PUT, path.clone(), Some(body.clone())),
            (Method::GET, format!("{path}/deliveries"), None),
            (Method::GET, format!("{path}/stats"), None),
            (Method::POST, format!("{path}/test"), None),
            (Method::POST, format!("{path}/secret/rotate"), None),
            (
                Method::POST,
                format!("{path}/recover"),
                Some(json!({"since": (chrono::Utc::now() - chrono::Duration::hours(1)).to_rfc3339()})),
            ),
            (Method::POST, delivery.clone(), None),
            (Method::DELETE, path.clone(), None),
        ] {
            let response = send(&app, token, method.clone(), &suffix, body.as_ref()).await;
            assert_eq!(response.status(), StatusCode::NOT_FOUND, "{method} {suffix} by another account");
        }
        let page: Value = send(&app, token, Method::GET, "/api/webhook", None).await.json().await.expect("JSON");
        assert!(!page.to_string().contains(id), "listed for another account: {page}");
    }
    let published: Value =
        app.publish(&json!({"type": "booking.created", "data": {}})).await.json().await.expect("JSON");
    let view = format!("/api/managing-entity/{a}/event/{}", published["eventId"].as_str().expect("event id"));
    let view: Value = send(&app, &hotel, Method::GET, &view, None).await.json().await.expect("JSON");
    assert!(view["deliveries"].is_array() && !view.to_string().contains(id), "the hotel's event view: {view}");
    let kept = send(&app, &partner, Method::GET, &path, None).await;
    assert_eq!(kept.status(), StatusCode::OK);
    let kept: Value = kept.json().await.expect("JSON");
    assert_eq!((&kept["version"], &kept["eventUrl"]), (&json!(1), &json!("https://cm.example.com/hooks")));
    let page: Value = send(&app, &partner, Method::GET, "/api/webhook", None).await.json().await.expect("JSON");
    let listed: Vec<&str> = page["items"].as_array().expect("items").iter().filter_map(|w| w["id"].as_str()).collect();
    assert_eq!(listed, [id], "the account's list holds its one webhook");
    assert_eq!(send(&app, &partner, Method::DELETE, &path, None).await.status(), StatusCode::NO_CONTENT);
}

#[apply(targets)]
#[tokio::test]
async fn a_star_webhook_receives_every_entitys_events_until_narrowed_to_a_list(#[case] target: Target) {
    let app = TestApp::on(target).await;
    let (a, d) = (app.entity.clone(), new_entity());
    let receiver = Receiver::start(&[Answer::Status(200)]).await;
    // A type no other test publishes: on the shared deployed stack, a "*" webhook sees them all.
    let body = json!({"name": "Every property", "eventUrl": receiver.url(), "eventList": ["payment.refunded"], "entities": "*"});
    let created = create_global(&app, &app.token, &body).await;
    let path = global(created["id"].as_str().expect("id"));
    if target == Target::Stack {
        tokio::time::sleep(STAR_RECHECK).await;
    }
    let event = |n: u64| json!({"type": "payment.refunded", "data": {"n": n}});
    publish_for(&app, &a, &event(1)).await;
    publish_for(&app, &d, &event(2)).await;
    receiver.wait_for(2, PATIENCE).await;

    let narrowed = send(&app, &app.token, Method::PATCH, &path, Some(&json!({"entities": [a], "version": 1}))).await;
    assert_eq!(narrowed.status(), StatusCode::OK);
    publish_for(&app, &d, &event(3)).await;
    publish_for(&app, &a, &event(4)).await;
    receiver.wait_for(3, PATIENCE).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut got = received(&receiver);
    got.sort_by_key(|(_, n)| *n);
    assert_eq!(got, [(a.clone(), 1), (d.clone(), 2), (a.clone(), 4)], "D's event after the narrowing is not sent");
    send(&app, &app.token, Method::DELETE, &path, None).await;
}
