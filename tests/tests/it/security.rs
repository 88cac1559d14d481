//! What an attacker or a careless client might try: other tenants' ids, header injection,
//! redirects to elsewhere, private addresses in other spellings, and what a receiver URL's
//! query holds leaking into error texts.

use std::time::Duration;

use reqwest::Method;
use rstest::rstest;
use rstest_reuse::apply;
use serde_json::{Value, json};

use crate::helpers::{Custom, Target, TestApp, targets};
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

#[rstest]
#[case::memory(Target::Memory)]
#[case::dynamodb(Target::DynamoDb)]
#[tokio::test]
async fn private_addresses_in_ipv6_spellings_are_refused(#[case] target: Target) {
    let app = TestApp::custom(target, Custom { production_urls: true, ..Custom::default() }).await;
    let spellings = [
        "https://[::7f00:1]/hook",
        "https://[2002:7f00:1::1]/hook",
        "https://[2002:a9fe:a9fe::1]/latest/meta-data",
        "https://[fec0::1]/hook",
        "https://[64:ff9b:1::a00:1]/hook",
    ];
    for url in spellings {
        let request = app.request(Method::POST, &app.webhooks()).json(&json!({"name": "Sneaky", "eventUrl": url}));
        let response = TestApp::send_within_limits(request).await;
        assert_eq!(response.status(), 422, "{target:?}: {url}");
    }
    let list: Value = app.request(Method::GET, &app.webhooks()).send().await.expect("send").json().await.expect("JSON");
    assert_eq!(list["items"], json!([]), "{target:?}: nothing was created");
}

#[apply(targets)]
#[tokio::test]
async fn a_receiver_urls_query_stays_out_of_the_attempt_log(#[case] target: Target) {
    let app = TestApp::on(target).await;
    let closed = std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("a free port");
    let url = format!("http://127.0.0.1:{}/hook?token=query-secret-{}", closed.port(), uuid::Uuid::new_v4().simple());
    let webhook = app.create_with(&json!({"name": "Token in the query", "eventUrl": url})).await;
    let id = webhook["id"].as_str().expect("id");
    assert_eq!(app.publish(&json!({"type": "booking.created", "data": {}})).await.status(), 202);
    let attempted = |log: &[Value]| log.iter().any(|d| d["attempts"].as_array().is_some_and(|a| !a.is_empty()));
    let log = app.deliveries_when(id, Duration::from_secs(60), attempted).await;
    assert!(attempted(&log), "{target:?}: {log:?}");
    let text = serde_json::to_string(&log).expect("JSON");
    assert!(!text.contains("query-secret"), "{target:?}: the query leaked: {text}");
    assert!(text.contains(&format!("127.0.0.1:{}/hook", closed.port())), "{target:?}: names the host: {text}");
}

#[apply(targets)]
#[tokio::test]
async fn the_test_route_sends_no_event_of_the_callers_making_without_the_right_to_publish(#[case] target: Target) {
    let app = TestApp::on(target).await;
    let receiver = Receiver::start(&[Answer::Status(200)]).await;
    let webhook = app.create_with(&json!({"name": "Tested", "eventUrl": receiver.url()})).await;
    let path = format!("{}/test", app.webhook(webhook["id"].as_str().expect("id")));
    let mut claims = app.tokens.claims(&app.entity);
    claims["scope"] = json!("");
    let manager = app.tokens.sign(&claims);
    let forged =
        json!({"eventType": "payment.completed", "data": {"amount": {"amount": "1000000.00", "currency": "EUR"}}});
    let send = |token: &str, body: &Value| {
        let request = app.client.post(format!("{}{path}", app.base)).bearer_auth(token).json(body);
        TestApp::send_within_limits(request)
    };
    assert_eq!(send(&manager, &forged).await.status(), 403, "{target:?}: custom data needs events:publish");
    let refused = [
        json!({"eventType": "booking.created", "data": {"guests": {"adults": -1}}}),
        json!({"eventType": "webhook.disabled", "data": {"webhookId": "someone else's", "reason": "forged"}}),
        json!({"data": {"message": "no type"}}),
    ];
    for body in &refused {
        assert_eq!(send(&app.token, body).await.status(), 422, "{target:?}: {body}");
    }
    assert!(receiver.received().is_empty(), "{target:?}: nothing refused was sent");
    assert_eq!(
        send(&manager, &json!({"eventType": "payment.completed"})).await.status(),
        200,
        "the example needs no scope"
    );
    assert_eq!(send(&app.token, &forged).await.status(), 200, "{target:?}: a publisher may test its own data");
    assert_eq!(app.publish(&json!({"type": "booking.created", "data": {}})).await.status(), 202);
    let bodies: Vec<Value> = receiver
        .wait_for(3, Duration::from_secs(60))
        .await
        .iter()
        .map(|r| serde_json::from_slice(&r.body).expect("JSON"))
        .collect();
    let tests: Vec<bool> = bodies.iter().map(|b| b["test"] == json!(true)).collect();
    let published = bodies.iter().filter(|b| b["type"] == "booking.created").collect::<Vec<_>>();
    assert_eq!(tests.iter().filter(|t| **t).count(), 2, "{target:?}: each test send says so: {bodies:?}");
    assert!(
        published.iter().all(|b| b.get("test").is_none()),
        "{target:?}: a published event never does: {published:?}"
    );
}

#[rstest]
#[case::memory(Target::Memory)]
#[case::dynamodb(Target::DynamoDb)]
#[tokio::test]
async fn the_runner_answers_only_to_loopback_host_names(#[case] target: Target) {
    let app = TestApp::on(target).await;
    let port = app.base.rsplit(':').next().expect("a port").to_string();
    let list = |host: String| app.request(Method::GET, &app.webhooks()).header("host", host).send();
    let rebound = list(format!("rebound.example.com:{port}")).await.expect("send");
    assert_eq!(rebound.status(), 421, "{target:?}: a name rebound to loopback");
    assert_eq!(rebound.headers()["content-type"], "application/problem+json");
    assert_eq!(list(format!("localhost:{port}")).await.expect("send").status(), 200, "{target:?}");
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

/// Finding 4: every secret a webhook holds (signing secrets, current and previous; a password, a
/// token, a client secret; a kept access token) is sealed where it is stored, and still works.
#[apply(targets)]
#[tokio::test]
async fn the_table_holds_no_secret_in_the_clear(#[case] target: Target) {
    use base64::Engine as _;
    let app = TestApp::on(target).await;
    let (password, token, client_secret) = ("pw-sealed-4b1d", "tok-sealed-93ce", "cs-sealed-7a02");
    let basic = Receiver::start(&[Answer::Status(200)]).await;
    basic.demand(&format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("u:{password}"))));
    let bearer = Receiver::start(&[Answer::Status(200)]).await;
    bearer.demand(&format!("Bearer {token}"));
    let oauth = Receiver::start(&[Answer::Status(200)]).await;
    oauth.demand("Bearer token-1");
    let create = |receiver: &Receiver, auth: Value| json!({"name": "Sealed", "eventUrl": receiver.url(), "auth": auth});
    let created = [
        app.create_with(&create(&basic, json!({"type": "basic", "username": "u", "password": password}))).await,
        app.create_with(&create(&bearer, json!({"type": "bearer", "token": token}))).await,
        app.create_with(&create(
            &oauth,
            json!({"type": "oauth2", "tokenUrl": oauth.token_url(), "clientId": "c",
                                               "clientSecret": client_secret}),
        ))
        .await,
    ];
    let mut secrets: Vec<String> = created.iter().map(|w| w["secret"].as_str().expect("secret").into()).collect();
    let id = created[0]["id"].as_str().expect("id");
    let rotated =
        app.request(Method::POST, &format!("{}/secret/rotate", app.webhook(id))).send().await.expect("rotate");
    assert_eq!(rotated.status(), 200, "{target:?}");
    let rotated: Value = rotated.json().await.expect("JSON");
    secrets.push(rotated["secret"].as_str().expect("the new secret").into());

    assert_eq!(app.publish(&json!({"type": "booking.created", "data": {}})).await.status(), 202);
    for receiver in [&basic, &bearer, &oauth] {
        assert_eq!(receiver.wait_for(1, Duration::from_secs(60)).await.len(), 1, "{target:?}: it let the attempt in");
    }
    let signed = &basic.received()[0];
    assert!(crate::rotation::verifies(&secrets[0], signed) && crate::rotation::verifies(&secrets[3], signed));

    let Some(stored) = app.stored_items().await else { return };
    let keys = secrets.iter().map(|s| s.trim_start_matches("whsec_").to_string());
    let clear = [password, token, client_secret, "token-1"].map(String::from).into_iter().chain(secrets.clone());
    for secret in clear.chain(keys) {
        assert!(!stored.contains(&secret), "{target:?}: the table holds {secret} in the clear");
    }
    assert!(stored.contains("TOKEN#"), "{target:?}: the access token was kept (sealed)");
}
