//! Portal sessions (docs/contract.md 16) on every target: a session's token manages its one
//! entity's webhooks through the portal routes and reaches nothing else; a read-only one only
//! reads; an expired one is refused; opening one needs `portal:create` and the entity.

use std::time::Duration;

use reqwest::{Method, RequestBuilder, StatusCode};
use rstest::rstest;
use rstest_reuse::apply;
use serde_json::{Value, json};
use shared::api::{Authorizer, routes};

use crate::helpers::{Target, TestApp, targets};
use crate::receiver::{Answer, Receiver};

/// `POST .../portal-session` on `entity` with `token`: the status and body.
async fn open_with(app: &TestApp, token: &str, entity: &str, body: &Value) -> (StatusCode, Value) {
    let path = format!("/api/managing-entity/{entity}/portal-session");
    let request = app.client.post(format!("{}{path}", app.base)).bearer_auth(token).json(body);
    let response = TestApp::send_within_limits(request).await;
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// A session on the app's entity: its token.
async fn open(app: &TestApp, body: Value) -> String {
    let (status, session) = open_with(app, &app.token, &app.entity, &body).await;
    assert_eq!(status, StatusCode::CREATED, "{session}");
    session["token"].as_str().expect("a token").to_string()
}

/// The portal route of `entity`'s webhooks, and below it.
fn portal(entity: &str, below: &str) -> String {
    format!("/portal/api/managing-entity/{entity}/webhook{below}")
}

fn as_session(app: &TestApp, token: &str, method: Method, path: &str) -> RequestBuilder {
    app.client.request(method, format!("{}{path}", app.base)).bearer_auth(token)
}

async fn status(request: RequestBuilder) -> StatusCode {
    TestApp::send_within_limits(request).await.status()
}

fn webhook_body(url: &str, event_list: Value) -> Value {
    json!({"name": "Portal hook", "eventUrl": url, "eventList": event_list})
}

#[apply(targets)]
#[tokio::test]
async fn a_session_manages_its_entitys_webhooks_and_reaches_no_other_entity_nor_global_ones(#[case] target: Target) {
    let app = TestApp::on(target).await;
    let receiver = Receiver::start(&[Answer::Status(200)]).await;
    let (started, token) = (chrono::Utc::now(), open(&app, json!({"expiresIn": 600})).await);
    let (_, session) = open_with(&app, &app.token, &app.entity, &json!({})).await;
    assert!(
        session["url"]
            .as_str()
            .expect("url")
            .ends_with(&format!("/portal#token={}", session["token"].as_str().expect("token")))
    );
    let expires: chrono::DateTime<chrono::Utc> =
        session["expiresAt"].as_str().expect("expiresAt").parse().expect("a time");
    assert!((expires - started - chrono::Duration::seconds(3600)).num_seconds().abs() < 60, "an hour by default");

    // The entity's webhooks, through the portal routes: created, read, changed, tested, rotated, deleted.
    let create = as_session(&app, &token, Method::POST, &portal(&app.entity, ""))
        .json(&webhook_body(&receiver.url(), json!(["booking.created"])));
    let response = TestApp::send_within_limits(create).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let created: Value = response.json().await.expect("JSON");
    let id = created["id"].as_str().expect("id").to_string();
    assert_eq!(created["userIdentifier"], format!("portal:{}", app.entity));
    app.create("The platform's own").await;
    let listed: Value = TestApp::send_within_limits(as_session(&app, &token, Method::GET, &portal(&app.entity, "")))
        .await
        .json()
        .await
        .expect("JSON");
    assert_eq!(listed["items"].as_array().expect("items").len(), 2, "every webhook of the entity");
    for (method, below) in [(Method::GET, ""), (Method::GET, "/deliveries"), (Method::GET, "/stats")] {
        assert_eq!(
            status(as_session(&app, &token, method, &portal(&app.entity, &format!("/{id}{below}")))).await,
            StatusCode::OK,
            "{below}"
        );
    }
    let patch = as_session(&app, &token, Method::PATCH, &portal(&app.entity, &format!("/{id}")))
        .header("if-match", "\"1\"")
        .json(&json!({"name": "Renamed"}));
    assert_eq!(status(patch).await, StatusCode::OK);
    let test = as_session(&app, &token, Method::POST, &portal(&app.entity, &format!("/{id}/test")));
    let tested: Value = TestApp::send_within_limits(test).await.json().await.expect("JSON");
    assert_eq!(tested["delivered"], true, "{tested}");
    let rotate = as_session(&app, &token, Method::POST, &portal(&app.entity, &format!("/{id}/secret/rotate")));
    assert_eq!(status(rotate).await, StatusCode::OK);
    assert_eq!(status(as_session(&app, &token, Method::GET, "/portal/api/event-types")).await, StatusCode::OK);

    // Another entity's webhooks, by its path or by an id of its own under this entity's path: 404.
    let other = uuid::Uuid::new_v4().to_string();
    let theirs = app.client.post(format!("{}{}", app.base, TestApp::webhooks_path(&other))).bearer_auth(&app.token);
    let theirs =
        TestApp::send_within_limits(theirs.json(&webhook_body("https://api.example.com/hooks", json!(["booking.*"]))))
            .await;
    assert_eq!(theirs.status(), StatusCode::CREATED);
    let theirs: Value = theirs.json().await.expect("JSON");
    let their_id = theirs["id"].as_str().expect("id");
    for path in
        [portal(&other, ""), portal(&other, &format!("/{their_id}")), portal(&app.entity, &format!("/{their_id}"))]
    {
        assert_eq!(status(as_session(&app, &token, Method::GET, &path)).await, StatusCode::NOT_FOUND, "{path}");
    }
    let delete_theirs = as_session(&app, &token, Method::DELETE, &portal(&other, &format!("/{their_id}")));
    assert_eq!(status(delete_theirs).await, StatusCode::NOT_FOUND);

    // A global webhook covering the entity is not the session's: not listed, not reachable.
    let global = json!({"name": "Partner", "eventUrl": "https://api.example.com/partner", "entities": [app.entity]});
    let global = TestApp::send_within_limits(app.request(Method::POST, "/api/webhook").json(&global)).await;
    assert_eq!(global.status(), StatusCode::CREATED);
    let global: Value = global.json().await.expect("JSON");
    let global_id = global["id"].as_str().expect("id");
    let listed: Value = TestApp::send_within_limits(as_session(&app, &token, Method::GET, &portal(&app.entity, "")))
        .await
        .json()
        .await
        .expect("JSON");
    let ids: Vec<&str> = listed["items"].as_array().expect("items").iter().filter_map(|w| w["id"].as_str()).collect();
    assert!(!ids.contains(&global_id), "{ids:?}");
    let path = portal(&app.entity, &format!("/{global_id}"));
    assert_eq!(status(as_session(&app, &token, Method::GET, &path)).await, StatusCode::NOT_FOUND);

    // Every other route (global webhooks, the catalog's writes, publishing, events, opening a
    // session) has no portal twin (404), and the session's token is no token of the platform's
    // routes (401).
    let every = routes();
    let portal_twin =
        |method: &str, path: &str| every.iter().any(|r| r.method == method && r.path == format!("/portal{path}"));
    for route in every.iter().filter(|r| r.authorizer == Authorizer::Jwt) {
        let path = route.path.replace("{entityId}", &app.entity).replace("{webhookId}", global_id);
        let path =
            path.replace("{deliveryId}", global_id).replace("{eventId}", "evt-1").replace("{name}", "booking.created");
        let method = Method::from_bytes(route.method.as_bytes()).expect("a method");
        if !portal_twin(route.method, &route.path) {
            let under_portal = status(as_session(&app, &token, method.clone(), &format!("/portal{path}"))).await;
            assert_eq!(under_portal, StatusCode::NOT_FOUND, "{} /portal{path}", route.method);
        }
        assert_eq!(
            status(as_session(&app, &token, method, &path)).await,
            StatusCode::UNAUTHORIZED,
            "{} {path}",
            route.method
        );
    }
    // The platform's own token is no portal session's.
    assert_eq!(status(app.request(Method::GET, &portal(&app.entity, ""))).await, StatusCode::FORBIDDEN);
    assert_eq!(
        status(app.client.get(format!("{}{}", app.base, portal(&app.entity, "")))).await,
        StatusCode::UNAUTHORIZED
    );

    let delete = as_session(&app, &token, Method::DELETE, &portal(&app.entity, &format!("/{id}")));
    assert_eq!(status(delete).await, StatusCode::NO_CONTENT);
    assert_eq!(app.get(&id).await.status(), StatusCode::NOT_FOUND, "deleted for the platform too");
}

#[apply(targets)]
#[tokio::test]
async fn a_read_only_session_reads_and_each_write_is_forbidden_and_changes_nothing(#[case] target: Target) {
    let app = TestApp::on(target).await;
    let webhook = app.create("Read only").await;
    let id = webhook["id"].as_str().expect("id");
    let token = open(&app, json!({"readOnly": true})).await;
    for below in [String::new(), format!("/{id}"), format!("/{id}/deliveries"), format!("/{id}/stats")] {
        assert_eq!(
            status(as_session(&app, &token, Method::GET, &portal(&app.entity, &below))).await,
            StatusCode::OK,
            "{below}"
        );
    }
    let delivery = uuid::Uuid::now_v7();
    let writes = [
        (Method::POST, String::new(), webhook_body("https://api.example.com/hooks", json!(["booking.*"]))),
        (Method::PUT, format!("/{id}"), json!({"name": "x", "eventUrl": "https://api.example.com/x", "version": 1})),
        (Method::PATCH, format!("/{id}"), json!({"name": "Renamed", "version": 1})),
        (Method::DELETE, format!("/{id}"), json!({})),
        (Method::POST, format!("/{id}/test"), json!({})),
        (Method::POST, format!("/{id}/secret/rotate"), json!({})),
        (Method::POST, format!("/{id}/deliveries/{delivery}/resend"), json!({})),
        (Method::POST, format!("/{id}/recover"), json!({"since": "2026-01-01T00:00:00Z"})),
    ];
    for (method, below, body) in writes {
        let response = TestApp::send_within_limits(
            as_session(&app, &token, method.clone(), &portal(&app.entity, &below)).json(&body),
        )
        .await;
        assert_eq!(response.status(), StatusCode::FORBIDDEN, "{method} {below}");
        let problem: Value = response.json().await.expect("problem+json");
        assert_eq!(problem["detail"], "this portal session is read-only", "{method} {below}");
    }
    let now: Value = app.get(id).await.json().await.expect("JSON");
    assert_eq!(
        (now["version"].clone(), now["name"].clone()),
        (webhook["version"].clone(), webhook["name"].clone()),
        "unchanged"
    );
}

#[apply(targets)]
#[tokio::test]
async fn a_session_is_refused_once_it_expires_and_lists_only_the_event_types_it_grants(#[case] target: Target) {
    let app = TestApp::on(target).await;
    let token = open(&app, json!({"expiresIn": 2, "eventTypes": ["booking.*"]})).await;
    let create = |event_list: Value| {
        as_session(&app, &token, Method::POST, &portal(&app.entity, ""))
            .json(&webhook_body("https://api.example.com/hooks", event_list))
    };
    assert_eq!(status(create(json!(["booking.created"]))).await, StatusCode::CREATED);
    for refused in [json!(["payment.completed"]), json!(["*"]), json!([])] {
        assert_eq!(status(create(refused.clone())).await, StatusCode::UNPROCESSABLE_ENTITY, "{refused}");
    }
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(status(as_session(&app, &token, Method::GET, &portal(&app.entity, ""))).await, StatusCode::UNAUTHORIZED);
}

#[apply(targets)]
#[tokio::test]
async fn opening_a_session_needs_the_portal_scope_the_entity_and_a_valid_body(#[case] target: Target) {
    let app = TestApp::on(target).await;
    let mut claims = app.tokens.claims("*");
    claims["scope"] = json!("events:publish event-types:write");
    let unscoped = app.tokens.sign(&claims);
    assert_eq!(open_with(&app, &unscoped, &app.entity, &json!({})).await.0, StatusCode::FORBIDDEN);
    let elsewhere = app.token_for(&uuid::Uuid::new_v4().to_string());
    assert_eq!(open_with(&app, &elsewhere, &app.entity, &json!({})).await.0, StatusCode::NOT_FOUND);
    for body in [
        json!({"expiresIn": 86_401}),
        json!({"eventTypes": ["no.such.type"]}),
        json!({"allowedOrigin": "https://a.example/x"}),
    ] {
        let (status, problem) = open_with(&app, &app.token, &app.entity, &body).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}: {problem}");
    }
    let forged = app.tokens.forge(&app.tokens.claims("*"));
    assert_eq!(status(as_session(&app, &forged, Method::GET, &portal(&app.entity, ""))).await, StatusCode::FORBIDDEN);
}
