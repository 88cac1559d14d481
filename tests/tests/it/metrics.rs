//! The runner's `GET /metrics` (issue 30): ten deliveries, seven that succeed and three that fail
//! through their schedule, counted by outcome, with their attempts and the events published.
//! A process has one recorder, which counts every test's deliveries: these run alone, on their
//! own (`#[ignore]`d in the suite, a step of `make test` after it). In AWS the same counts are
//! EMF lines in the functions' logs, which the stack test looks for (tests/stack/run.py).

use std::collections::HashMap;
use std::time::Duration;

use rstest::rstest;
use serde_json::{Value, json};

use crate::helpers::{Custom, Target, TestApp};
use crate::receiver::{Answer, Receiver};

const PATIENCE: Duration = Duration::from_secs(120);

/// Every sample of the Prometheus text, by name and labels as written (`name{label="v"}`).
async fn scrape(app: &TestApp) -> HashMap<String, f64> {
    let response = app.client.get(format!("{}/metrics", app.base)).send().await.expect("GET /metrics");
    assert_eq!(response.status(), 200);
    let content_type = response.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or_default();
    assert!(content_type.starts_with("text/plain; version=0.0.4"), "{content_type}");
    let text = response.text().await.expect("text");
    text.lines()
        .filter(|line| !line.starts_with('#'))
        .filter_map(|line| line.rsplit_once(' '))
        .filter_map(|(sample, value)| Some((sample.to_string(), value.parse().ok()?)))
        .collect()
}

fn grew(before: &HashMap<String, f64>, after: &HashMap<String, f64>, sample: &str) -> f64 {
    after.get(sample).copied().unwrap_or_default() - before.get(sample).copied().unwrap_or_default()
}

#[rstest]
#[case::memory(Target::Memory)]
#[case::dynamodb(Target::DynamoDb)]
#[ignore = "run alone (make test): the process's one recorder counts every test's deliveries"]
#[tokio::test]
async fn metrics_count_ten_deliveries_by_outcome_with_their_attempts(#[case] target: Target) {
    // Two attempts a delivery, a second apart.
    let app = TestApp::custom(target, Custom { schedule: Some("1s"), ..Custom::default() }).await;
    let (healthy, failing) =
        (Receiver::start(&[Answer::Status(200)]).await, Receiver::start(&[Answer::Status(500)]).await);
    app.create_with(&json!({"name": "Healthy", "eventUrl": healthy.url(), "eventList": ["booking.created"]})).await;
    app.create_with(&json!({"name": "Failing", "eventUrl": failing.url(), "eventList": ["booking.cancelled"]})).await;
    let before = scrape(&app).await;

    let events: Vec<Value> = (0..10)
        .map(|n| json!({"type": if n < 7 { "booking.created" } else { "booking.cancelled" }, "data": {"n": n}}))
        .collect();
    let (status, _) = app.publish_batch(json!(events)).await;
    assert_eq!(status, 202);

    let deadline = tokio::time::Instant::now() + PATIENCE;
    let finished = |after: &HashMap<String, f64>| {
        grew(&before, after, r#"webhooks_deliveries_total{outcome="succeeded"}"#)
            + grew(&before, after, r#"webhooks_deliveries_total{outcome="failed"}"#)
    };
    let mut after = scrape(&app).await;
    while finished(&after) < 10.0 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(200)).await;
        after = scrape(&app).await;
    }
    let counted = |sample: &str| grew(&before, &after, sample);
    assert_eq!(counted(r#"webhooks_deliveries_total{outcome="succeeded"}"#), 7.0, "{after:#?}");
    assert_eq!(counted(r#"webhooks_deliveries_total{outcome="failed"}"#), 3.0);
    assert_eq!(counted(r#"webhooks_attempts_total{result="success"}"#), 7.0);
    assert_eq!(counted(r#"webhooks_attempts_total{result="failure"}"#), 6.0, "two attempts each");
    assert_eq!(counted("webhooks_attempt_duration_seconds_count"), 13.0);
    assert_eq!(counted("webhooks_events_published_total"), 10.0);
    assert_eq!(counted("webhooks_deliveries_planned_total"), 10.0);
    assert!(counted("webhooks_message_wait_seconds_count") >= 13.0, "a message a step at least");
    for queue in ["deliveries", "deliveries_fifo", "ingest", "ingest_dead_letters"] {
        let sample = format!(r#"webhooks_queue_messages{{queue="{queue}",state="visible"}}"#);
        assert!(after.contains_key(&sample), "{sample}");
    }
}
