//! Signatures and secret rotation (docs/contract.md 5.1, 6 and 12) on every target: during the overlap
//! every delivery verifies under the old key and under the new one; after it, only under the new.
//! HMAC (`v1`) is checked by the standardwebhooks library; ed25519 (`v1a`) by `ed25519-dalek`,
//! following the spec here: neither shares code with the service.

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use ed25519_dalek::{Signature, VerifyingKey};
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

/// Standard Webhooks' asymmetric check: one `v1a,` entry of `webhook-signature` is the ed25519
/// signature of `{webhook-id}.{webhook-timestamp}.{body}` by `public_key` (`whpk_` + base64),
/// and the timestamp is within five minutes.
fn verifies_ed25519(public_key: &str, request: &Received) -> bool {
    let key = STANDARD.decode(public_key.strip_prefix("whpk_").expect("whpk_")).expect("base64");
    let key = VerifyingKey::from_bytes(&key.try_into().expect("32 bytes")).expect("a public key");
    let header = |name: &str| request.headers[name].to_str().expect("ASCII").to_string();
    let timestamp: i64 = header("webhook-timestamp").parse().expect("unix seconds");
    if (chrono::Utc::now().timestamp() - timestamp).abs() > 300 {
        return false;
    }
    let body = std::str::from_utf8(&request.body).expect("UTF-8");
    let signed = format!("{}.{timestamp}.{body}", header("webhook-id"));
    header("webhook-signature").split(' ').filter_map(|entry| entry.strip_prefix("v1a,")).any(|signature| {
        let signature = STANDARD.decode(signature).ok().and_then(|bytes| Signature::from_slice(&bytes).ok());
        signature.is_some_and(|signature| key.verify_strict(signed.as_bytes(), &signature).is_ok())
    })
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

#[apply(targets)]
#[tokio::test]
async fn an_ed25519_webhooks_deliveries_verify_with_its_public_key_and_during_a_rotation_with_both(
    #[case] target: Target,
) {
    let app = TestApp::on(target).await;
    let receiver = Receiver::start(&[Answer::Status(200)]).await;
    let webhook = app.create_with(&json!({"name": "Signed", "eventUrl": receiver.url(), "signature": "ed25519"})).await;
    assert_eq!((webhook["signature"].as_str(), webhook.get("secret")), (Some("ed25519"), None), "{webhook}");
    let (id, old) = (webhook["id"].as_str().expect("id"), webhook["publicKey"].as_str().expect("publicKey"));
    let shown: Value = app.get(id).await.json().await.expect("JSON");
    assert_eq!(shown["publicKey"], old, "every read shows the public key");
    assert!(!shown.to_string().contains("whsk_") && !webhook.to_string().contains("whsk_"), "never the private key");

    let first = publish_and_receive(&app, &receiver, 1).await;
    assert!(verifies_ed25519(old, &first), "{target:?}: {:?}", first.headers["webhook-signature"]);
    let another = format!("whpk_{}", STANDARD.encode(ed25519_dalek::SigningKey::from_bytes(&[9; 32]).verifying_key()));
    assert!(!verifies_ed25519(&another, &first), "{target:?}: another key does not verify");
    let signature = first.headers["webhook-signature"].to_str().expect("header");
    assert!(signature.starts_with("v1a,") && !signature.contains(' '), "{signature}");

    let rotate = format!("{}/secret/rotate", app.webhook(id));
    let chosen = json!({"secret": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"});
    let refused = app.request(Method::POST, &rotate).json(&chosen).send().await.expect("rotate");
    assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY, "a private key is never the caller's");
    let overlap = json!({"overlap": format!("{}s", OVERLAP.as_secs())});
    let rotated = app.request(Method::POST, &rotate).json(&overlap).send().await.expect("rotate");
    assert_eq!(rotated.status(), StatusCode::OK);
    let rotated: Value = rotated.json().await.expect("JSON");
    let new = rotated["publicKey"].as_str().expect("the new public key");
    assert!(new != old && rotated.get("secret").is_none() && rotated["signature"] == "ed25519", "{rotated}");
    assert_eq!(app.get(id).await.json::<Value>().await.expect("JSON")["publicKey"], new);

    let during = publish_and_receive(&app, &receiver, 2).await;
    assert!(verifies_ed25519(old, &during) && verifies_ed25519(new, &during), "{target:?}: both keys sign");
    tokio::time::sleep(OVERLAP + Duration::from_secs(1)).await;
    let after = publish_and_receive(&app, &receiver, 3).await;
    assert!(verifies_ed25519(new, &after), "{target:?}: the new key signs");
    assert!(!verifies_ed25519(old, &after), "{target:?}: the old key no longer signs once the overlap is over");
}

#[apply(targets)]
#[tokio::test]
async fn a_rotation_switches_the_scheme_with_both_keys_signing_and_an_update_cannot(#[case] target: Target) {
    let app = TestApp::on(target).await;
    let receiver = Receiver::start(&[Answer::Status(200)]).await;
    let webhook = app.create_with(&json!({"name": "Switching", "eventUrl": receiver.url()})).await;
    let (id, secret) = (webhook["id"].as_str().expect("id"), webhook["secret"].as_str().expect("secret"));
    assert_eq!((webhook["signature"].as_str(), webhook.get("publicKey")), (Some("hmac"), None), "{webhook}");
    let path = app.webhook(id);
    let patch = |body: Value| app.request(Method::PATCH, &path).header("if-match", "\"1\"").json(&body);
    let switched = TestApp::send_within_limits(patch(json!({"signature": "ed25519"}))).await;
    assert_eq!(switched.status(), StatusCode::UNPROCESSABLE_ENTITY, "{target:?}: a new scheme needs a new key");
    let kept = TestApp::send_within_limits(patch(json!({"name": "Switching", "signature": null}))).await;
    let kept: Value = kept.json().await.expect("JSON");
    assert_eq!((kept["signature"].as_str(), kept["version"].as_u64()), (Some("hmac"), Some(2)), "{kept}");

    let rotate = app.request(Method::POST, &format!("{path}/secret/rotate"));
    let rotated = rotate.json(&json!({"signature": "ed25519", "overlap": "1h"})).send().await.expect("rotate");
    assert_eq!(rotated.status(), StatusCode::OK);
    let rotated: Value = rotated.json().await.expect("JSON");
    assert!(rotated.get("secret").is_none() && rotated["signature"] == "ed25519", "{rotated}");
    let public_key = rotated["publicKey"].as_str().expect("a public key");
    let during = publish_and_receive(&app, &receiver, 1).await;
    let signatures = during.headers["webhook-signature"].to_str().expect("header");
    assert!(signatures.starts_with("v1a,") && signatures.contains(" v1,"), "{target:?}: {signatures}");
    assert!(verifies_ed25519(public_key, &during) && verifies(secret, &during), "{target:?}: both sign");
}
