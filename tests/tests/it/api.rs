//! The API over HTTP, each scenario on every target: the runner on memory and on DynamoDB
//! Local, and the deployed stack behind API Gateway. Creating, reading, listing and deleting
//! run through `sam local start-api` too.

use std::sync::Arc;

use reqwest::{Method, StatusCode};
use rstest::rstest;
use rstest_reuse::apply;
use serde_json::{Value, json};

use crate::helpers::{Target, TestApp, targets};

async fn problem(response: reqwest::Response) -> (StatusCode, Value) {
    let status = response.status();
    let content_type = response.headers().get("content-type").cloned();
    let body: Value = response.json().await.expect("JSON body");
    assert_eq!(content_type.as_ref().map(|v| v.to_str().unwrap_or("")), Some("application/problem+json"), "{body}");
    (status, body)
}

#[apply(targets)]
#[ignore = "SAM local: run by scripts/sam-local.sh"]
#[case::sam_local(Target::SamLocal)]
#[tokio::test]
async fn create_get_list_and_the_secret_shown_once(#[case] target: Target) {
    let app = TestApp::on(target).await;
    let response = app
        .request(Method::POST, &app.webhooks())
        .json(&json!({"name": "Sync", "eventUrl": "https://api.example.com/hooks"}))
        .send()
        .await
        .expect("create");
    assert_eq!(response.status(), 201);
    assert_eq!(response.headers()["etag"], "\"1\"");
    let location = response.headers()["location"].to_str().expect("ascii").to_string();
    let created: Value = response.json().await.expect("JSON");
    assert_eq!(created["version"], 1);
    assert!(created["secret"].as_str().expect("secret").starts_with("whsec_"));
    let id = created["id"].as_str().expect("id");
    assert_eq!(location, app.webhook(id));

    let got = app.request(Method::GET, &location).send().await.expect("get");
    assert_eq!(got.status(), 200);
    let list = app.request(Method::GET, &app.webhooks()).send().await.expect("list");
    for text in [got.text().await.expect("body"), list.text().await.expect("body")] {
        assert!(text.contains(id) && !text.contains("whsec_") && !text.contains("\"secret\""), "{text}");
    }
}

#[apply(targets)]
#[tokio::test]
async fn list_pages_through_45_webhooks(#[case] target: Target) {
    let app = TestApp::on(target).await;
    let mut created = Vec::new();
    for i in 0..45 {
        created.push(app.create(&format!("Hook {i}")).await["id"].as_str().expect("id").to_string());
    }
    let (mut seen, mut cursor) = (Vec::new(), None::<String>);
    loop {
        let mut query = vec![("limit", "20".to_string())];
        query.extend(cursor.clone().map(|c| ("cursor", c)));
        let list = app.request(Method::GET, &app.webhooks()).query(&query);
        let page: Value = TestApp::send_within_limits(list).await.json().await.expect("JSON");
        seen.extend(page["items"].as_array().expect("items").iter().map(|w| w["id"].as_str().expect("id").to_string()));
        match page["nextCursor"].as_str() {
            Some(next) => cursor = Some(next.to_string()),
            None => break,
        }
    }
    assert_eq!(seen, created, "45 webhooks, none lost, none repeated, in creation order");
}

#[apply(targets)]
#[tokio::test]
async fn optimistic_locking_and_pause(#[case] target: Target) {
    let app = TestApp::on(target).await;
    let created = app.create("Locked").await;
    let id = created["id"].as_str().expect("id");
    let path = app.webhook(id);
    let mut body = created.clone();
    body["version"] = json!(1);
    body["name"] = json!("Renamed");

    let fresh = app.request(Method::PUT, &path).json(&body).send().await.expect("put");
    assert_eq!(fresh.status(), 200);
    assert_eq!(fresh.json::<Value>().await.expect("JSON")["version"], 2);

    let (status, stale) = problem(app.request(Method::PUT, &path).json(&body).send().await.expect("put")).await;
    assert_eq!((status.as_u16(), &stale["properties"]["currentVersion"]), (409, &json!(2)));

    let stale_if_match = app.request(Method::PUT, &path).header("If-Match", "\"1\"").json(&created).send().await;
    let (status, _) = problem(stale_if_match.expect("put")).await;
    assert_eq!(status, 412);

    let paused =
        app.request(Method::PATCH, &path).json(&json!({"enabled": false, "version": 2})).send().await.expect("patch");
    assert_eq!(paused.status(), 200);
    assert_eq!(paused.headers()["etag"], "\"3\"");
    let stored: Value = app.get(id).await.json().await.expect("JSON");
    assert_eq!((stored["enabled"].clone(), stored["version"].clone()), (json!(false), json!(3)));
    assert_eq!(stored["name"], "Renamed");
}

#[apply(targets)]
#[ignore = "SAM local: run by scripts/sam-local.sh"]
#[case::sam_local(Target::SamLocal)]
#[tokio::test]
async fn patch_and_delete_with_if_match(#[case] target: Target) {
    let app = TestApp::on(target).await;
    let id = app.create("Short-lived").await["id"].as_str().expect("id").to_string();
    let item = app.webhook(&id);
    let patched =
        app.request(Method::PATCH, &item).header("If-Match", "\"1\"").json(&json!({"sendData": false})).send().await;
    let patched = patched.expect("patch");
    assert_eq!((patched.status().as_u16(), patched.headers()["etag"].to_str().expect("etag")), (200, "\"2\""));

    let stale = app.request(Method::DELETE, &item).header("If-Match", "\"1\"").send().await.expect("delete");
    assert_eq!(problem(stale).await.0, 412);
    assert_eq!(app.get(&id).await.status(), 200, "a refused delete deletes nothing");
    let deleted = app.request(Method::DELETE, &item).header("If-Match", "\"2\"").send().await.expect("delete");
    assert_eq!(deleted.status(), 204);
    assert_eq!(problem(app.get(&id).await).await.0, 404);
    assert_eq!(problem(app.request(Method::DELETE, &item).send().await.expect("delete")).await.0, 404);
}

#[apply(targets)]
#[tokio::test]
async fn twenty_concurrent_puts_of_one_version_one_wins(#[case] target: Target) {
    let app = Arc::new(TestApp::on(target).await);
    let created = app.create("Contended").await;
    let id = created["id"].as_str().expect("id").to_string();
    let puts = (0..20).map(|i| {
        let (app, id) = (app.clone(), id.clone());
        tokio::spawn(async move {
            let body =
                json!({"name": format!("Writer {i}"), "eventUrl": "https://api.example.com/hooks", "version": 1});
            app.request(Method::PUT, &app.webhook(&id)).json(&body).send().await.map(|r| r.status())
        })
    });
    let mut statuses = Vec::new();
    for put in puts.collect::<Vec<_>>() {
        statuses.push(put.await.expect("task").expect("response").as_u16());
    }
    let ok = statuses.iter().filter(|s| **s == 200).count();
    let conflicts = statuses.iter().filter(|s| **s == 409).count();
    assert_eq!((ok, conflicts), (1, 19), "{statuses:?}");
    let stored: Value = app.get(&id).await.json().await.expect("JSON");
    assert_eq!(stored["version"], 2);
}

#[apply(targets)]
#[tokio::test]
async fn refused_requests_change_nothing(#[case] target: Target) {
    let app = TestApp::on(target).await;
    let created = app.create("Guarded").await;
    let id = created["id"].as_str().expect("id").to_string();
    let before: Value = app.get(&id).await.json().await.expect("JSON");
    let item = app.webhook(&id);
    let collection = app.webhooks();
    let outsider = app.token_for(&uuid::Uuid::new_v4().to_string());
    let body = json!({"name": "Hijack", "eventUrl": "https://evil.example.com", "version": 1});

    let every_route = [
        (Method::POST, collection.clone()),
        (Method::GET, collection.clone()),
        (Method::GET, item.clone()),
        (Method::PUT, item.clone()),
        (Method::PATCH, item.clone()),
        (Method::DELETE, item.clone()),
    ];
    for (method, path) in &every_route {
        let url = format!("{}{path}", app.base);
        let foreign = app.client.request(method.clone(), &url).bearer_auth(&outsider).json(&body).send().await;
        assert_eq!(problem(foreign.expect("send")).await.0, 404, "{method} {path} with another tenant's token");
        // Only the status: in AWS the authorizer answers, not the handler.
        let anonymous = app.client.request(method.clone(), &url).json(&body).send().await;
        assert_eq!(anonymous.expect("send").status(), 401, "{method} {path} without a token");
    }

    let post = |body: reqwest::Body| {
        app.request(Method::POST, &collection).header("content-type", "application/json").body(body).send()
    };
    assert_eq!(problem(post("{\"name\":".into()).await.expect("send")).await.0, 400);
    let (status, invalid) = problem(
        post(json!({"name": " ", "eventUrl": "not a URL", "headers": {"Host": "a"}}).to_string().into())
            .await
            .expect("send"),
    )
    .await;
    assert_eq!(status, 422);
    let fields: Vec<&str> = invalid["properties"]["errors"]
        .as_array()
        .expect("errors")
        .iter()
        .filter_map(|e| e["field"].as_str())
        .collect();
    assert_eq!(fields, ["name", "eventUrl", "headers"]);
    let huge = json!({"name": "Huge", "eventUrl": "https://a.example.com", "pad": "x".repeat(300 * 1024)});
    assert_eq!(problem(post(huge.to_string().into()).await.expect("send")).await.0, 413);
    let versioned =
        app.request(Method::PATCH, &item).header("Wink-Version", "9.9").json(&json!({"version": 1})).send().await;
    assert_eq!(problem(versioned.expect("send")).await.0, 400);

    let after: Value = app.get(&id).await.json().await.expect("JSON");
    assert_eq!(after, before, "nothing refused changed the webhook");
    let list: Value = app.request(Method::GET, &collection).send().await.expect("list").json().await.expect("JSON");
    assert_eq!(list["items"].as_array().expect("items").len(), 1, "nothing refused created a webhook");
}

#[apply(targets)]
#[tokio::test]
async fn tokens_the_authorizer_would_refuse_get_401(#[case] target: Target) {
    use base64::Engine as _;
    let app = TestApp::on(target).await;
    let valid = app.tokens.claims("*");
    let with = |name: &str, value: Value| {
        let mut claims = valid.clone();
        claims[name] = value;
        claims
    };
    let segment = |value: &Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(value.to_string());
    let unsigned = format!("{}.{}.", segment(&json!({"alg": "none", "typ": "JWT"})), segment(&valid));
    let an_hour_ago = chrono::Utc::now().timestamp() - 3600;
    let refused = [
        ("alg none", unsigned),
        ("wrong key", app.tokens.forge(&valid)),
        ("expired", app.tokens.sign(&with("exp", json!(an_hour_ago)))),
        ("wrong audience", app.tokens.sign(&with("aud", json!("another-api")))),
        ("wrong issuer", app.tokens.sign(&with("iss", json!("https://issuer.example.com")))),
    ];
    for (what, token) in refused {
        let response = app.client.get(format!("{}{}", app.base, app.webhooks())).bearer_auth(token).send().await;
        assert_eq!(response.expect("send").status(), 401, "{what}");
    }
    let good = app.client.get(format!("{}{}", app.base, app.webhooks())).bearer_auth(app.tokens.sign(&valid));
    assert_eq!(good.send().await.expect("send").status(), 200);
}

#[apply(targets)]
#[tokio::test]
async fn the_event_catalog_lists_every_type_with_an_example(#[case] target: Target) {
    let app = TestApp::on(target).await;
    let response = app.request(Method::GET, "/api/event-types").send().await.expect("event types");
    assert_eq!(response.status(), 200);
    let catalog: Value = response.json().await.expect("JSON");
    let items = catalog["items"].as_array().expect("items");
    let names: Vec<&str> = items.iter().filter_map(|t| t["name"].as_str()).collect();
    for name in ["booking.created", "booking.cancelled", "payment.completed"] {
        assert!(names.contains(&name), "{name} in {names:?}");
    }
    assert!(items.iter().all(|t| t["description"].is_string() && t["example"].is_object()), "{catalog}");
}

#[tokio::test]
async fn unknown_routes_are_404_like_api_gateway() {
    let app = TestApp::memory().await;
    let response = app.request(Method::GET, "/api/nothing-here").send().await.expect("send");
    assert_eq!(response.status(), 404);
}
