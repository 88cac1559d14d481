//! The event catalog as data (docs/contract.md 13) on every target: the defaults on a fresh start, an
//! operator's type with a JSON Schema that publishing checks, and archiving it.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use rstest::rstest;
use rstest_reuse::apply;
use serde_json::{Value, json};

use crate::helpers::{Target, TestApp, targets};
use crate::receiver::{Answer, Receiver};

const PATIENCE: Duration = Duration::from_secs(60);
const TYPE: &str = "/api/event-types/review.posted";

async fn catalog(app: &TestApp) -> Vec<Value> {
    let listed = TestApp::send_within_limits(app.request(Method::GET, "/api/event-types")).await;
    listed.json::<Value>().await.expect("JSON")["items"].as_array().cloned().expect("items")
}

#[apply(targets)]
#[tokio::test]
async fn an_operators_type_checks_what_is_published_and_archiving_it_keeps_its_subscribers(#[case] target: Target) {
    let app = TestApp::on(target).await;
    let names: Vec<Value> = catalog(&app).await.iter().map(|t| t["name"].clone()).collect();
    for default in ["booking.created", "booking.cancelled", "payment.refunded", "webhook.disabled"] {
        assert!(names.contains(&json!(default)), "{target:?}: {default} in {names:?}");
    }

    let review = json!({
        "description": "A guest posted a review of their stay.",
        "schema": {"type": "object", "required": ["rating"],
                   "properties": {"rating": {"type": "integer", "minimum": 1, "maximum": 5}}},
        "example": {"rating": 5}
    });
    let mut claims = app.tokens.claims(&app.entity);
    claims["scope"] = json!("events:publish");
    let publisher = app.tokens.sign(&claims);
    let refused = app.client.put(format!("{}{TYPE}", app.base)).bearer_auth(&publisher).json(&review).send().await;
    assert_eq!(refused.expect("send").status(), StatusCode::FORBIDDEN, "{target:?}: the operator's scope only");
    let put = TestApp::send_within_limits(app.request(Method::PUT, TYPE).json(&review)).await;
    assert_eq!(put.status(), StatusCode::OK, "{target:?}");

    let receiver = Receiver::start(&[Answer::Status(200)]).await;
    let webhook =
        app.create_with(&json!({"name": "Reviews", "eventUrl": receiver.url(), "eventList": ["review.*"]})).await;
    let published = app.publish(&json!({"type": "review.posted", "data": {"rating": 4}})).await;
    assert_eq!(published.status(), StatusCode::ACCEPTED);
    assert_eq!(published.json::<Value>().await.expect("JSON")["deliveries"], 1);
    let invalid = app.publish(&json!({"type": "review.posted", "data": {"rating": 9}})).await;
    assert_eq!(invalid.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let problem: Value = invalid.json().await.expect("JSON");
    assert_eq!(problem["properties"]["errors"][0]["field"], "/data/rating", "{problem}");

    let archived = TestApp::send_within_limits(app.request(Method::DELETE, TYPE)).await;
    assert_eq!(archived.status(), StatusCode::NO_CONTENT);
    let listed = catalog(&app).await;
    let entry = listed.iter().find(|t| t["name"] == "review.posted").expect("still listed");
    assert_eq!(entry["archived"], true);
    let again = app.publish(&json!({"type": "review.posted", "data": {"rating": 5}})).await;
    assert_eq!(again.json::<Value>().await.expect("JSON")["deliveries"], 1, "its subscriber keeps receiving it");
    let ratings: Vec<Value> = receiver
        .wait_for(2, PATIENCE)
        .await
        .iter()
        .map(|r| serde_json::from_slice::<Value>(&r.body).expect("JSON")["data"]["rating"].clone())
        .collect();
    assert_eq!(ratings.len(), 2, "{target:?}");
    assert!(ratings.contains(&json!(4)) && ratings.contains(&json!(5)), "{ratings:?}");

    for list in [json!(["review.posted"]), json!(["review.*"])] {
        let create = app.request(Method::POST, &app.webhooks()).json(&json!({
            "name": "Late", "eventUrl": receiver.url(), "eventList": list
        }));
        let response = TestApp::send_within_limits(create).await;
        assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY, "{list}");
        let problem: Value = response.json().await.expect("JSON");
        assert_eq!(problem["properties"]["errors"][0]["field"], "eventList", "{problem}");
    }
    let id = webhook["id"].as_str().expect("id");
    let rename = json!({"name": "Reviews, kept", "version": webhook["version"]});
    let renamed = TestApp::send_within_limits(app.request(Method::PATCH, &app.webhook(id)).json(&rename)).await;
    assert_eq!(
        renamed.status(),
        StatusCode::OK,
        "its own list stays as written: {}",
        renamed.text().await.expect("text")
    );
}
