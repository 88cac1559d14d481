//! What an attacker or a careless client might try: other tenants' ids, header injection,
//! redirects to elsewhere.

use std::time::Duration;

use reqwest::Method;
use rstest::rstest;
use rstest_reuse::apply;
use serde_json::{Value, json};

use crate::helpers::{Target, TestApp, targets};
use crate::receiver::{Answer, Receiver};

#[apply(targets)]
#[tokio::test]
async fn another_tenant_gets_404_on_publish_test_and_deliveries(#[case] target: Target) {
    let app = TestApp::on(target).await;
    let receiver = Receiver::start(&[Answer::Status(200)]).await;
    let webhook = app.create_with(&json!({"name": "Mine", "eventUrl": receiver.url()})).await;
    let id = webhook["id"].as_str().expect("id");
    let other_entity = uuid::Uuid::new_v4().to_string();
    let outsider = app.token_for(&other_entity);
    let routes = [
        (
            Method::POST,
            format!("/api/managing-entity/{}/event", app.entity),
            json!({"type": "booking.created", "data": {}}),
        ),
        (Method::POST, format!("{}/test", app.webhook(id)), json!({})),
        (Method::GET, format!("{}/deliveries", app.webhook(id)), Value::Null),
    ];
    for (method, path, body) in routes {
        let mut request = app.client.request(method.clone(), format!("{}{path}", app.base)).bearer_auth(&outsider);
        if !body.is_null() {
            request = request.json(&body);
        }
        let response = request.send().await.expect("send");
        assert_eq!(response.status(), 404, "{method} {path}");
    }
    // The outsider's own entity does not reach this webhook either.
    let own_path = format!("{}/deliveries", TestApp::webhook_path(&other_entity, id));
    let response = app.client.get(format!("{}{own_path}", app.base)).bearer_auth(&outsider).send().await.expect("send");
    assert_eq!(response.status(), 404, "a webhook id under another entity");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(receiver.received().is_empty(), "nothing was sent for the outsider");
}

#[tokio::test]
async fn header_values_with_line_breaks_are_refused() {
    let app = TestApp::memory().await;
    for value in ["a\r\nHost: evil.example.com", "a\nX-Injected: 1", "caf\u{e9}"] {
        let body =
            json!({"name": "Injected", "eventUrl": "https://api.example.com/hooks", "headers": {"X-Api-Key": value}});
        let response = app.request(Method::POST, &app.webhooks()).json(&body).send().await.expect("send");
        assert_eq!(response.status(), 422, "{value:?}");
        let problem: Value = response.json().await.expect("JSON");
        assert_eq!(problem["properties"]["errors"][0]["field"], "headers");
    }
}

#[apply(targets)]
#[tokio::test]
async fn redirects_are_not_followed(#[case] target: Target) {
    let app = TestApp::on(target).await;
    let elsewhere = Receiver::start(&[Answer::Status(200)]).await;
    let redirecting = Receiver::start(&[Answer::Redirect(elsewhere.url())]).await;
    let webhook = app.create_with(&json!({"name": "Redirects", "eventUrl": redirecting.url()})).await;
    let path = format!("{}/test", app.webhook(webhook["id"].as_str().expect("id")));
    let result: Value = app.request(Method::POST, &path).send().await.expect("test").json().await.expect("JSON");
    assert_eq!((result["delivered"].clone(), result["statusCode"].clone()), (json!(false), json!(302)), "{result}");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(redirecting.received().len(), 1);
    assert!(elsewhere.received().is_empty(), "the redirect was not followed");
}

#[apply(targets)]
#[tokio::test]
async fn publishing_needs_the_events_publish_scope(#[case] target: Target) {
    let app = TestApp::on(target).await;
    let receiver = Receiver::start(&[Answer::Status(200)]).await;
    app.create_with(&json!({"name": "Mine", "eventUrl": receiver.url()})).await;
    let mut claims = app.tokens.claims(&app.entity);
    claims["scope"] = json!("event-types:write");
    let without = app.tokens.sign(&claims);
    let path = format!("/api/managing-entity/{}/event", app.entity);
    let event = json!({"id": "evt-unscoped", "type": "booking.created", "data": {}});
    let refused = app.client.post(format!("{}{path}", app.base)).bearer_auth(&without).json(&event).send().await;
    let refused = refused.expect("send");
    // API Gateway's JWT authorizer refuses it itself in AWS; the handler refuses it everywhere.
    assert_eq!(refused.status(), 403, "{target:?}");
    let stored = app.request(Method::GET, &format!("{path}/evt-unscoped")).send().await.expect("get");
    assert_eq!(stored.status(), 404, "nothing was published");
    // Managing webhooks needs no scope.
    let listed = app.client.get(format!("{}{}", app.base, app.webhooks())).bearer_auth(&without).send().await;
    assert_eq!(listed.expect("send").status(), 200);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(receiver.received().is_empty());
}
