//! Secret rotation (docs/contract.md 12) on every target: during the overlap every delivery verifies
//! with the standardwebhooks library under the old secret and under the new one; after it,
//! only under the new.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use rstest::rstest;
use rstest_reuse::apply;
use serde_json::{Value, json};

use crate::helpers::{Target, TestApp, targets};
use crate::receiver::{Answer, Received, Receiver};

const PATIENCE: Duration = Duration::from_secs(60);
const OVERLAP: Duration = Duration::from_secs(3);

pub(crate) fn verifies(secret: &str, request: &Received) -> bool {
    standardwebhooks::Webhook::new(secret).expect("secret").verify(&request.body, &request.headers).is_ok()
}

async fn publish_and_receive(app: &TestApp, receiver: &Receiver, count: usize) -> Received {
    assert_eq!(app.publish(&json!({"type": "booking.created", "data": {"n": count}})).await.status(), 202);
    let received = receiver.wait_for(count, PATIENCE).await;
    assert_eq!(received.len(), count, "the receiver got the event");
    received[count - 1].clone()
}

#[apply(targets)]
#[tokio::test]
async fn during_the_overlap_deliveries_verify_with_either_secret_and_after_it_only_with_the_new(
    #[case] target: Target,
) {
    let app = TestApp::on(target).await;
    let receiver = Receiver::start(&[Answer::Status(200)]).await;
    let webhook = app.create_with(&json!({"name": "Rotated", "eventUrl": receiver.url()})).await;
    let (id, old) = (webhook["id"].as_str().expect("id"), webhook["secret"].as_str().expect("secret"));
    let rotate = format!("{}/secret/rotate", app.webhook(id));

    let stale = app.request(Method::POST, &rotate).header("if-match", "\"7\"").send().await.expect("rotate");
    assert_eq!(stale.status(), StatusCode::PRECONDITION_FAILED);
    let chosen = "whsec_short";
    let refused = app.request(Method::POST, &rotate).json(&json!({"secret": chosen})).send().await.expect("rotate");
    assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY);

    let overlap = format!("{}s", OVERLAP.as_secs());
    let rotated = app.request(Method::POST, &rotate).header("if-match", "\"1\"").json(&json!({"overlap": overlap}));
    let rotated = rotated.send().await.expect("rotate");
    assert_eq!((rotated.status(), rotated.headers()["etag"].to_str().ok()), (StatusCode::OK, Some("\"2\"")));
    let rotated: Value = rotated.json().await.expect("JSON");
    let new = rotated["secret"].as_str().expect("the new secret");
    assert!(new.starts_with("whsec_") && new != old);
    assert!(rotated["previousSecretExpiresAt"].is_string(), "{rotated}");
    let shown: Value = app.get(id).await.json().await.expect("JSON");
    assert!(!shown.to_string().contains(new) && !shown.to_string().contains(old), "get shows no secret");
    assert_eq!(shown["version"], 2);

    let during = publish_and_receive(&app, &receiver, 1).await;
    assert!(verifies(old, &during) && verifies(new, &during), "{target:?}: both secrets sign during the overlap");
    let signatures = during.headers["webhook-signature"].to_str().expect("header");
    assert_eq!(signatures.split(' ').count(), 2, "{signatures}");

    tokio::time::sleep(OVERLAP + Duration::from_secs(1)).await;
    let after = publish_and_receive(&app, &receiver, 2).await;
    assert!(verifies(new, &after), "{target:?}: the new secret signs");
    assert!(!verifies(old, &after), "{target:?}: the old secret no longer signs once the overlap is over");
}
