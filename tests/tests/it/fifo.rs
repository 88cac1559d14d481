//! FIFO webhooks (docs/contract.md 14) on every target: a webhook's events in publish order, one at a
//! time, a retried one holding back those after it; an unordered webhook beside it is not held.

use std::time::Duration;

use reqwest::StatusCode;
use rstest::rstest;
use rstest_reuse::apply;
use serde_json::json;

use crate::helpers::{Target, TestApp, targets};
use crate::receiver::{Answer, Receiver};

const PATIENCE: Duration = Duration::from_secs(120);
const EVENTS: usize = 50;

fn event_ids(receiver: &Receiver) -> Vec<String> {
    receiver.received().iter().map(|r| r.headers["webhook-id"].to_str().expect("id").to_string()).collect()
}

#[apply(targets)]
#[tokio::test]
async fn a_fifo_webhook_gets_its_events_in_publish_order_one_at_a_time(#[case] target: Target) {
    let app = TestApp::on(target).await;
    // Each answer takes a while, so two requests at once would overlap.
    let fifo = Receiver::start(&[Answer::Hang(Duration::from_millis(50))]).await;
    let unordered = Receiver::start(&[Answer::Status(200)]).await;
    let ids: Vec<String> = (0..EVENTS).map(|n| format!("fifo-{}-{n}", app.entity)).collect();
    fifo.fail_event(&ids[9], 2);
    let webhook = app.create_with(&json!({"name": "In order", "eventUrl": fifo.url(), "ordering": "fifo"})).await;
    assert_eq!(webhook["ordering"], "fifo", "{target:?}");
    app.create_with(&json!({"name": "Beside it", "eventUrl": unordered.url()})).await;
    for (n, id) in ids.iter().enumerate() {
        let published = app.publish(&json!({"id": id, "type": "booking.created", "data": {"n": n}})).await;
        assert_eq!(published.status(), StatusCode::ACCEPTED);
    }

    let received = fifo.wait_for(EVENTS + 2, PATIENCE).await;
    // The 10th three times (twice refused, then taken), and every one in publish order.
    let mut expected = ids.clone();
    expected.splice(9..9, [ids[9].clone(), ids[9].clone()]);
    assert_eq!(event_ids(&fifo), expected, "{target:?}");
    assert_eq!(fifo.most_at_once(), 1, "{target:?}: never two at once");
    let beside = unordered.wait_for(EVENTS, PATIENCE).await;
    assert_eq!(beside.len(), EVENTS);
    // The events after the 10th waited behind its retries on the FIFO webhook, not beside it.
    let arrival = |requests: &[crate::receiver::Received], id: &str| {
        requests.iter().find(|r| r.headers["webhook-id"] == id).map(|r| r.at).expect("arrived")
    };
    for id in &ids[10..13] {
        assert!(arrival(&beside, id) < arrival(&received, id), "{target:?}: {id} held back beside the FIFO webhook");
    }
}
