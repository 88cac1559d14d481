//! Receiver authentication (docs/contract.md 11) on every target: Basic, bearer and OAuth 2.0 client
//! credentials reach a receiver that demands them, and no answer ever shows their secrets.

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use reqwest::Method;
use rstest::rstest;
use rstest_reuse::apply;
use serde_json::{Value, json};

use crate::faults::{Api, aws_runner_env, new_queue};
use crate::helpers::{ENTITY, Target, TestApp, targets, unique_table};
use crate::process::RunnerProcess;
use crate::receiver::{Answer, Receiver};

const PATIENCE: Duration = Duration::from_secs(60);
const PASSWORD: &str = "pw-basic-5f1e";
const TOKEN: &str = "tok-bearer-77ad";
const CLIENT_SECRET: &str = "cs-oauth-c0de";

fn event(n: usize) -> Value {
    json!({"type": "booking.created", "data": {"bookingId": format!("b-{n}")}})
}

/// Publishes one event and waits until `receiver` has `count` requests.
async fn publish_and_wait(app: &TestApp, receiver: &Receiver, n: usize, count: usize) {
    assert_eq!(app.publish(&event(n)).await.status(), 202);
    let received = receiver.wait_for(count, PATIENCE).await;
    assert!(received.len() >= count, "the receiver got {} of {count} requests", received.len());
}

fn assert_no_secret(text: &str, what: &str) {
    for secret in [PASSWORD, TOKEN, CLIENT_SECRET] {
        assert!(!text.contains(secret), "{what} shows a secret: {text}");
    }
}

#[apply(targets)]
#[tokio::test]
async fn basic_and_bearer_receivers_get_their_credentials_and_no_answer_shows_them(#[case] target: Target) {
    let app = TestApp::on(target).await;
    let basic = Receiver::start(&[Answer::Status(200)]).await;
    basic.demand(&format!("Basic {}", STANDARD.encode(format!("wink:{PASSWORD}"))));
    let bearer = Receiver::start(&[Answer::Status(200)]).await;
    bearer.demand(&format!("Bearer {TOKEN}"));
    let body = |receiver: &Receiver, auth: Value| json!({"name": "Auth", "eventUrl": receiver.url(), "auth": auth});
    let created = [
        app.create_with(&body(&basic, json!({"type": "basic", "username": "wink", "password": PASSWORD}))).await,
        app.create_with(&body(&bearer, json!({"type": "bearer", "token": TOKEN}))).await,
    ];
    for webhook in &created {
        assert_no_secret(&webhook.to_string(), "the create response");
    }
    assert_eq!(created[0]["auth"], json!({"type": "basic", "username": "wink"}), "{target:?}");
    assert_eq!(created[1]["auth"], json!({"type": "bearer"}));

    // A PUT that leaves the password out keeps it: the receiver still lets it in.
    let id = created[0]["id"].as_str().expect("id");
    let put = json!({"name": "Renamed", "eventUrl": basic.url(), "auth": {"type": "basic", "username": "wink"},
                     "version": 1});
    let response = app.request(Method::PUT, &app.webhook(id)).json(&put).send().await.expect("put");
    assert_eq!(response.status(), 200, "{target:?}");
    assert_no_secret(&response.text().await.expect("body"), "the PUT response");

    publish_and_wait(&app, &basic, 1, 1).await;
    bearer.wait_for(1, PATIENCE).await;
    for (webhook, receiver) in created.iter().zip([&basic, &bearer]) {
        let id = webhook["id"].as_str().expect("id");
        let log = app.deliveries_when(id, PATIENCE, |d| d.first().is_some_and(|d| d["status"] == "succeeded")).await;
        assert_eq!(log[0]["status"], "succeeded", "{target:?}: {log:?}");
        assert_eq!(log[0]["attempts"][0]["statusCode"], 200, "{target:?}: {} let it in", receiver.url());
        assert_no_secret(&Value::Array(log).to_string(), "the delivery log");
        assert_no_secret(&app.get(id).await.text().await.expect("body"), "a GET");
    }
    let list = app.request(Method::GET, &app.webhooks()).send().await.expect("list");
    assert_no_secret(&list.text().await.expect("body"), "the list");
}

#[apply(targets)]
#[tokio::test]
async fn a_stored_secret_does_not_follow_a_new_origin_username_token_url_or_client_id(#[case] target: Target) {
    let app = TestApp::on(target).await;
    let (receiver, elsewhere) = (Receiver::start(&[Answer::Status(200)]).await, Receiver::start(&[]).await);
    let basic = json!({"type": "basic", "username": "wink", "password": PASSWORD});
    let webhook = app.create_with(&json!({"name": "Auth", "eventUrl": receiver.url(), "auth": basic})).await;
    let id = webhook["id"].as_str().expect("id");
    let oauth = json!({"type": "oauth2", "tokenUrl": receiver.token_url(), "clientId": "wink",
        "clientSecret": CLIENT_SECRET});
    let oauth_webhook = app.create_with(&json!({"name": "OAuth", "eventUrl": receiver.url(), "auth": oauth})).await;
    let oauth_id = oauth_webhook["id"].as_str().expect("id");
    let patch = |id: &str, body: Value| {
        TestApp::send_within_limits(app.request(Method::PATCH, &app.webhook(id)).header("If-Match", "*").json(&body))
    };
    let refused = [
        (id, json!({"eventUrl": elsewhere.url()}), "auth.password"),
        (id, json!({"auth": {"type": "basic", "username": "someone-else"}}), "auth.password"),
        (oauth_id, json!({"auth": {"tokenUrl": elsewhere.token_url()}}), "auth.clientSecret"),
        (oauth_id, json!({"auth": {"clientId": "another-client"}}), "auth.clientSecret"),
        (oauth_id, json!({"eventUrl": elsewhere.url()}), "auth.clientSecret"),
    ];
    for (id, body, field) in refused {
        let response = patch(id, body.clone()).await;
        assert_eq!(response.status(), 422, "{target:?}: {body}");
        let problem: Value = response.json().await.expect("problem");
        assert_eq!(problem["properties"]["errors"][0]["field"], field, "{target:?}: {body}: {problem}");
    }
    // Another path on the same origin keeps the secret, and the receiver still lets it in.
    let same_origin = patch(id, json!({"eventUrl": format!("{}/moved", receiver.url())})).await;
    assert_eq!(same_origin.status(), 200, "{target:?}");
    receiver.demand(&format!("Basic {}", STANDARD.encode(format!("wink:{PASSWORD}"))));
    let test = app.request(Method::POST, &format!("{}/test", app.webhook(id))).send().await.expect("test");
    assert_eq!(test.json::<Value>().await.expect("JSON")["statusCode"], 200, "{target:?}: the password was kept");
    assert!(elsewhere.received().is_empty(), "{target:?}: nothing went to the other origin");
}

#[apply(targets)]
#[tokio::test]
async fn an_oauth2_token_is_fetched_once_reused_and_fetched_again_after_a_401(#[case] target: Target) {
    let app = TestApp::on(target).await;
    let receiver = Receiver::start(&[Answer::Status(200)]).await;
    receiver.demand("Bearer token-1");
    let auth = json!({"type": "oauth2", "tokenUrl": receiver.token_url(), "clientId": "hooks",
                      "clientSecret": CLIENT_SECRET, "scope": "webhooks:receive"});
    let webhook = app.create_with(&json!({"name": "OAuth", "eventUrl": receiver.url(), "auth": auth})).await;
    assert_no_secret(&webhook.to_string(), "the create response");

    // One delivery at a time, so that each finds the token the one before cached.
    for n in 1..=11 {
        publish_and_wait(&app, &receiver, n, n).await;
    }
    let requests = receiver.token_requests();
    assert_eq!(requests.len(), 1, "{target:?}: one token for 11 deliveries");
    let client = format!("Basic {}", STANDARD.encode(format!("hooks:{CLIENT_SECRET}")));
    assert_eq!(requests[0].headers["authorization"], client.as_str(), "the client authenticates with Basic");
    let form = String::from_utf8_lossy(&requests[0].body).to_string();
    assert!(form.contains("grant_type=client_credentials") && form.contains("scope=webhooks%3Areceive"), "{form}");

    // The receiver stops taking token-1: its 401 drops it, and the retry gets token-2.
    receiver.demand("Bearer token-2");
    publish_and_wait(&app, &receiver, 12, 13).await;
    assert_eq!(receiver.token_requests().len(), 2, "{target:?}: a new token after the 401");
    let id = webhook["id"].as_str().expect("id");
    let log =
        app.deliveries_when(id, PATIENCE, |d| d.len() == 12 && d.iter().all(|d| d["status"] == "succeeded")).await;
    let statuses: Vec<&Value> =
        log[0]["attempts"].as_array().expect("attempts").iter().map(|a| &a["statusCode"]).collect();
    assert_eq!(statuses, [&json!(401), &json!(200)], "{target:?}: {log:?}");
    assert_no_secret(&Value::Array(log).to_string(), "the delivery log");
}

#[apply(targets)]
#[tokio::test]
async fn the_test_route_authenticates_as_deliveries_do(#[case] target: Target) {
    let app = TestApp::on(target).await;
    let receiver = Receiver::start(&[Answer::Status(200)]).await;
    receiver.demand("Bearer token-1");
    let auth = json!({"type": "oauth2", "tokenUrl": receiver.token_url(), "clientId": "hooks",
                      "clientSecret": CLIENT_SECRET});
    let webhook = app.create_with(&json!({"name": "OAuth", "eventUrl": receiver.url(), "auth": auth})).await;
    let path = format!("{}/test", app.webhook(webhook["id"].as_str().expect("id")));
    let test =
        || async { app.request(Method::POST, &path).send().await.expect("test").json::<Value>().await.expect("JSON") };
    assert_eq!(test().await["statusCode"], 200, "{target:?}: token-1 fetched and kept");
    receiver.demand("Bearer token-2");
    assert_eq!(test().await["statusCode"], 401, "{target:?}: token-1 refused, and dropped");
    let answer = test().await;
    assert_eq!(answer["statusCode"], 200, "{target:?}: token-2 fetched: {answer}");
    assert_eq!(receiver.token_requests().len(), 2);
    assert_no_secret(&answer.to_string(), "the test route's answer");
}

#[apply(targets)]
#[tokio::test]
async fn a_token_endpoint_that_refuses_is_a_failed_attempt_that_says_so(#[case] target: Target) {
    let app = TestApp::on(target).await;
    let receiver = Receiver::start(&[Answer::Status(200)]).await;
    let gone = Receiver::start(&[Answer::Status(401)]).await;
    let auth = json!({"type": "oauth2", "tokenUrl": gone.url(), "clientId": "hooks", "clientSecret": CLIENT_SECRET});
    let webhook = app.create_with(&json!({"name": "OAuth", "eventUrl": receiver.url(), "auth": auth})).await;
    assert_eq!(app.publish(&event(1)).await.status(), 202);
    let id = webhook["id"].as_str().expect("id");
    let log = app.deliveries_when(id, PATIENCE, |d| d.first().is_some_and(|d| d["attempts"][0].is_object())).await;
    let error = log[0]["attempts"][0]["error"].as_str().unwrap_or_default();
    assert_eq!(error, "could not get an access token: the token endpoint answered 401", "{target:?}: {log:?}");
    assert!(receiver.received().is_empty(), "the receiver is not called without a token");
}

#[tokio::test]
async fn auth_fields_are_validated_and_change_nothing_when_invalid() {
    let app = TestApp::memory().await;
    let bad = [
        (json!({"type": "basic", "username": "a:b", "password": "p"}), "auth.username"),
        (json!({"type": "bearer"}), "auth.token"),
        (
            json!({"type": "oauth2", "tokenUrl": "https://10.1.2.3/token", "clientId": "c", "clientSecret": "s"}),
            "auth.tokenUrl",
        ),
        (json!({"type": "digest"}), "auth.type"),
    ];
    for (auth, field) in bad {
        let body = json!({"name": "A", "eventUrl": "https://api.example.com/hooks", "auth": auth});
        let response = app.request(Method::POST, &app.webhooks()).json(&body).send().await.expect("create");
        assert_eq!(response.status(), 422, "{auth}");
        let problem: Value = response.json().await.expect("JSON");
        assert_eq!(problem["properties"]["errors"][0]["field"], field, "{problem}");
    }
    let body = json!({"name": "A", "eventUrl": "https://api.example.com/hooks", "headers": {"authorization": "x"},
                      "auth": {"type": "bearer", "token": "t"}});
    let response = app.request(Method::POST, &app.webhooks()).json(&body).send().await.expect("create");
    assert_eq!(response.status(), 422);
    let list: Value = app.request(Method::GET, &app.webhooks()).send().await.expect("list").json().await.expect("JSON");
    assert_eq!(list["items"], json!([]), "nothing was created");
}

/// The runner's deliverer takes the ten in one batch: they wait for one token request.
#[tokio::test]
async fn ten_deliveries_at_once_ask_for_one_token() {
    let app = TestApp::on(Target::Memory).await;
    let receiver = Receiver::start(&[Answer::Status(200)]).await;
    receiver.demand("Bearer token-1");
    let auth = json!({"type": "oauth2", "tokenUrl": receiver.token_url(), "clientId": "hooks",
                      "clientSecret": CLIENT_SECRET});
    app.create_with(&json!({"name": "OAuth", "eventUrl": receiver.url(), "auth": auth})).await;
    let events: Vec<Value> = (1..=10).map(event).collect();
    let published = futures::future::join_all(events.iter().map(|e| app.publish(e))).await;
    assert!(published.iter().all(|r| r.status() == 202));
    assert_eq!(receiver.wait_for(10, PATIENCE).await.len(), 10);
    assert_eq!(receiver.token_requests().len(), 1);
}

/// A runner process on DynamoDB Local and the SQS emulator, logging at debug level: through
/// create, PUT, GET, list, publish, delivery and the test route of all three kinds, no secret
/// reaches its log.
#[tokio::test]
async fn no_secret_reaches_the_debug_log() {
    let log = std::env::temp_dir().join(format!("webhooks-debug-{}.log", uuid::Uuid::new_v4()));
    let file = std::fs::File::create(&log).expect("log file");
    let queue = new_queue(Duration::from_secs(30)).await;
    let env = aws_runner_env(&unique_table(), &queue, &[("RUST_LOG", "debug".to_string())]);
    let runner = RunnerProcess::start_logging_to(&env, file.into()).await;
    let api = Api { client: reqwest::Client::new(), runner: &runner };
    let receiver = Receiver::start(&[Answer::Status(200)]).await;
    let auths = [
        json!({"type": "basic", "username": "wink", "password": PASSWORD}),
        json!({"type": "bearer", "token": TOKEN}),
        json!({"type": "oauth2", "tokenUrl": receiver.token_url(), "clientId": "c", "clientSecret": CLIENT_SECRET}),
    ];
    for (n, auth) in auths.into_iter().enumerate() {
        let body =
            json!({"name": "Logged", "eventUrl": receiver.url(), "eventList": ["booking.created"], "auth": auth});
        let (status, created) = api.call(Method::POST, &TestApp::webhooks_path(ENTITY), Some(body.clone())).await;
        assert_eq!(status, 201, "{created}");
        let path = TestApp::webhook_path(ENTITY, created["id"].as_str().expect("id"));
        let mut put = body;
        put["version"] = json!(1);
        put["auth"]
            .as_object_mut()
            .expect("auth")
            .retain(|k, _| !["password", "token", "clientSecret"].contains(&k.as_str()));
        let answers = [
            api.call(Method::PUT, &path, Some(put)).await,
            api.call(Method::GET, &path, None).await,
            api.call(Method::POST, &format!("{path}/test"), None).await,
            api.call(Method::GET, &TestApp::webhooks_path(ENTITY), None).await,
        ];
        for (status, answer) in answers {
            assert_eq!(status, 200, "{answer}");
            assert_no_secret(&answer.to_string(), "an answer");
        }
        assert_eq!(api.publish(&format!("logged-{n}")).await.0, 202);
    }
    // Three test sends; the n-th publish reaches the n webhooks created by then.
    let delivered = receiver.wait_for(3 + 6, Duration::from_secs(90)).await;
    assert_eq!(delivered.len(), 9);
    drop(runner);
    let text = std::fs::read_to_string(&log).expect("read the log");
    std::fs::remove_file(&log).expect("remove the log");
    assert!(text.contains("delivered") && text.contains("DEBUG"), "the log is at debug level: {text}");
    assert_no_secret(&text, "the runner's log");
    assert!(!text.contains("token-1"), "the runner's log shows the access token");
}
