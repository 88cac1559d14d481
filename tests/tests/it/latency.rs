//! Publish-to-arrival on a quiet queue (issue 27), on every target: nothing waits for a batch
//! to fill. The figures are printed, never asserted (a test does not time a shared machine:
//! `make bench` measures), so the stack test shows the deployed stack's through API Gateway and
//! the emulator's trigger; what is asserted is that every event arrived once.

use std::collections::HashMap;
use std::io::Write;
use std::time::{Duration, Instant};

use rstest::rstest;
use rstest_reuse::apply;
use serde_json::json;

use crate::helpers::{Target, TestApp, targets};
use crate::receiver::{Answer, Receiver};

const EVENTS: usize = 20;
const EVERY: Duration = Duration::from_millis(200);
const PATIENCE: Duration = Duration::from_secs(60);

#[apply(targets)]
#[tokio::test]
async fn events_published_one_every_200_ms_each_arrive_once(#[case] target: Target) {
    let app = TestApp::on(target).await;
    let receiver = Receiver::start(&[Answer::Status(200)]).await;
    app.create_with(&json!({"name": "Quiet", "eventUrl": receiver.url()})).await;
    let mut sent = HashMap::new();
    for n in 0..EVENTS {
        let id = format!("quiet-{}-{n}", uuid::Uuid::new_v4().simple());
        let at = Instant::now();
        let published = app.publish(&json!({"id": id, "type": "booking.created", "data": {"n": n}})).await;
        assert_eq!(published.status(), 202, "{target:?}");
        sent.insert(id, at);
        tokio::time::sleep(EVERY).await;
    }
    let received = receiver.wait_for(EVENTS, PATIENCE).await;
    let mut latencies: Vec<Duration> = received
        .iter()
        .map(|request| {
            let id = request.headers["webhook-id"].to_str().expect("webhook-id");
            request.at - sent.remove(id).unwrap_or_else(|| panic!("{target:?}: {id} arrived twice or was never sent"))
        })
        .collect();
    assert!(sent.is_empty(), "{target:?}: never arrived: {:?}", sent.keys());
    latencies.sort_unstable();
    let at = |share: f64| latencies[((latencies.len() - 1) as f64 * share).round() as usize].as_secs_f64() * 1e3;
    // Past the test harness's capture, so that a passing run prints it too.
    let line = format!(
        "{target:?}: publish-to-arrival of {EVENTS} events one every {} ms: p50 {:.0} ms, p95 {:.0} ms\n",
        EVERY.as_millis(),
        at(0.5),
        at(0.95)
    );
    std::io::stdout().write_all(line.as_bytes()).expect("stdout");
}
