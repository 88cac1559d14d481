//! The runner binary at debug level, through create, publish, delivery and test: no signing
//! secret, signature or bearer token may appear in what it logs.

use std::io::{BufRead, BufReader, Read};
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::{Value, json};

#[tokio::test]
async fn secrets_and_tokens_never_reach_the_log() {
    let mut runner = Command::new(env!("CARGO_BIN_EXE_webhooks-local"))
        .env("PORT", "0")
        .env("RUST_LOG", "debug")
        .env("WEBHOOKS_ALLOW_PRIVATE_URLS", "true")
        .env("WEBHOOKS_RETRY_SCHEDULE", "1s")
        .env("WEBHOOKS_BACKEND", "memory")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the runner");
    let mut stdout = BufReader::new(runner.stdout.take().expect("stdout"));
    let (mut base, mut token) = (String::new(), String::new());
    for line in stdout.by_ref().lines().map_while(Result::ok) {
        if let Some(url) = line.strip_prefix("Webhooks API (Memory backend) on ") {
            base = url.trim().to_string();
        }
        if let Some(t) = line.trim().strip_prefix("export TOKEN=") {
            token = t.to_string();
            break;
        }
    }
    assert!(!base.is_empty() && !token.is_empty(), "the banner names the URL and a token");

    let client = reqwest::Client::new();
    let entity = "d5b8a3c2-9e6f-4a1b-8d34-7c2e1f0a5b69";
    // The webhook points at a route of the runner that refuses POST, so delivery fails and retries.
    let body = json!({"name": "Logged", "eventUrl": format!("{base}/api/event-types"), "headers": {"X-Api-Key": "key-in-header"}});
    let created: Value = client
        .post(format!("{base}/api/managing-entity/{entity}/webhook"))
        .bearer_auth(&token)
        .json(&body)
        .send()
        .await
        .expect("create")
        .json()
        .await
        .expect("JSON");
    let secret = created["secret"].as_str().expect("secret").to_string();
    let id = created["id"].as_str().expect("id");
    let publish = client
        .post(format!("{base}/api/managing-entity/{entity}/event"))
        .bearer_auth(&token)
        .json(&json!({"type": "booking.created", "data": {}}))
        .send()
        .await
        .expect("publish");
    assert_eq!(publish.status(), 202);
    let tested = client
        .post(format!("{base}/api/managing-entity/{entity}/webhook/{id}/test"))
        .bearer_auth(&token)
        .send()
        .await
        .expect("test");
    assert_eq!(tested.status(), 200);
    let refused = client.get(format!("{base}/api/event-types")).bearer_auth("not.a.valid-token").send().await;
    assert_eq!(refused.expect("send").status(), 401);
    tokio::time::sleep(Duration::from_millis(2500)).await;

    runner.kill().expect("stop the runner");
    runner.wait().expect("reap the runner");
    let mut log = String::new();
    runner.stderr.take().expect("stderr").read_to_string(&mut log).expect("read the log");
    assert!(log.contains("attempt failed") && log.contains("webhook created"), "the log was captured:\n{log}");
    let key = secret.trim_start_matches("whsec_");
    for (what, needle) in [("secret", key), ("token", token.as_str()), ("refused token", "not.a.valid-token")] {
        assert!(!log.contains(needle), "the {what} appears in the log");
    }
    assert!(!log.contains("whsec_") && !log.contains("v1,"), "no secret or signature in the log");
    assert!(!log.contains("key-in-header"), "custom header values stay out of the log");
}
