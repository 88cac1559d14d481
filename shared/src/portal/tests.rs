use http::HeaderMap;
use serde_json::json;

use super::*;
use crate::config::Settings;
use crate::model::Catalog;
use crate::runtime::ApiContext;
use crate::store::MemoryStore;

const ENTITY: &str = "d5b8a3c2-9e6f-4a1b-8d34-7c2e1f0a5b69";

fn asked(body: serde_json::Value) -> Result<SessionRequest, Error> {
    let Value::Object(body) = body else { panic!("an object") };
    SessionRequest::parse(&body, Catalog::defaults())
}

fn problems(body: serde_json::Value) -> String {
    match asked(body) {
        Err(Error::Validation(errors)) => errors.iter().map(|e| format!("{e:?}")).collect::<Vec<_>>().join("; "),
        other => panic!("a validation error, not {other:?}"),
    }
}

fn bearer(token: &str) -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert(http::header::AUTHORIZATION, format!("Bearer {token}").parse().expect("a header value"));
    headers
}

async fn session(store: &MemoryStore, keys: &PortalKeys, body: serde_json::Value) -> String {
    let ctx = ApiContext::new(Settings::default());
    let entity = EntityId::parse(ENTITY).expect("an entity id");
    open_session(&ctx, keys, store, entity, asked(body).expect("a valid request")).await.expect("a session").token
}

#[test]
fn a_session_request_takes_its_defaults_and_refuses_what_is_out_of_bounds() {
    let defaults = asked(json!({})).expect("an empty body");
    assert_eq!(
        defaults,
        SessionRequest {
            expires_in: 3_600,
            read_only: false,
            event_types: None,
            allowed_origin: None,
            entity_name: None
        }
    );
    let full = asked(json!({"expiresIn": 86_400, "readOnly": true, "eventTypes": ["booking.*", "payment.completed"],
                            "allowedOrigin": "http://127.0.0.1:8123", "entityName": " The Siam Residences "}))
    .expect("every field");
    assert_eq!(full.event_types, Some(vec!["booking.*".to_string(), "payment.completed".into()]));
    assert_eq!(full.allowed_origin.as_deref(), Some("http://127.0.0.1:8123"));
    assert_eq!(full.entity_name.as_deref(), Some("The Siam Residences"));

    for (body, field) in [
        (json!({"expiresIn": 0}), "expiresIn"),
        (json!({"expiresIn": 86_401}), "expiresIn"),
        (json!({"expiresIn": "1h"}), "expiresIn"),
        (json!({"readOnly": "yes"}), "readOnly"),
        (json!({"eventTypes": []}), "eventTypes"),
        (json!({"eventTypes": ["no.such.type"]}), "eventTypes"),
        (json!({"allowedOrigin": "https://app.example.com/embed"}), "allowedOrigin"),
        (json!({"allowedOrigin": "https://app.example.com/"}), "allowedOrigin"),
        (json!({"allowedOrigin": "ftp://app.example.com"}), "allowedOrigin"),
        (json!({"allowedOrigin": "app.example.com"}), "allowedOrigin"),
        (json!({"allowedOrigin": "http://*"}), "allowedOrigin"),
        (json!({"allowedOrigin": "https://*.example.com"}), "allowedOrigin"),
        (json!({"allowedOrigin": "http://a;sandbox"}), "allowedOrigin"),
        (json!({"allowedOrigin": "http://a,b"}), "allowedOrigin"),
        (json!({"allowedOrigin": "http://'none'"}), "allowedOrigin"),
        (json!({"allowedOrigin": "http://[::1]:8123"}), "allowedOrigin"),
        (json!({"entityName": " "}), "entityName"),
        (json!({"entityName": "x".repeat(201)}), "entityName"),
    ] {
        assert!(problems(body.clone()).contains(field), "{body}");
    }
}

#[tokio::test]
async fn a_session_token_is_granted_with_its_entity_and_limits_and_no_other_token_is() {
    let (store, keys) = (MemoryStore::new(), PortalKeys::default());
    assert_eq!(authorize(&keys, &store, &HeaderMap::new()).await.expect("decided"), Verdict::NoToken);
    assert_eq!(authorize(&keys, &store, &bearer("x.y.z")).await.expect("decided"), Verdict::Refused, "no key yet");

    let token = session(&store, &keys, json!({"readOnly": true, "eventTypes": ["booking.*"]})).await;
    let Verdict::Granted(context) = authorize(&keys, &store, &bearer(&token)).await.expect("decided") else {
        panic!("the session's token is granted")
    };
    assert_eq!(context["portal"], true);
    assert_eq!(context["entities"], ENTITY);
    assert_eq!(context["sub"], format!("portal:{ENTITY}"));
    assert_eq!(context["readOnly"], true);
    assert_eq!(context["eventTypes"], "booking.*");
    assert!(context["exp"].as_i64().is_some_and(|exp| exp > chrono::Utc::now().timestamp()));

    // Another process reads the same key; another deployment's key verifies nothing of this one.
    assert!(matches!(authorize(&PortalKeys::default(), &store, &bearer(&token)).await, Ok(Verdict::Granted(_))));
    let elsewhere = MemoryStore::new();
    let foreign = session(&elsewhere, &PortalKeys::default(), json!({})).await;
    assert_eq!(authorize(&keys, &store, &bearer(&foreign)).await.expect("decided"), Verdict::Refused);

    // A token of this key for another use (another issuer or audience) is not a session.
    let key = keys.get_or_make(&store).await.expect("the key");
    let claims = SessionClaims {
        sub: "portal:x".into(),
        entity: EntityId::parse(ENTITY).expect("an entity id"),
        read_only: false,
        event_types: None,
        allowed_origin: None,
        entity_name: None,
        iss: ISSUER.into(),
        aud: ISSUER.into(),
        iat: 0,
        exp: chrono::Utc::now().timestamp() + 60,
        jti: "j".into(),
    };
    let granted = key.issue(&claims).expect("a token");
    assert!(matches!(authorize(&keys, &store, &bearer(&granted)).await, Ok(Verdict::Granted(_))));
    for (iss, aud) in [(crate::dev_auth::ISSUER, ISSUER), (ISSUER, crate::dev_auth::AUDIENCE)] {
        let other_use =
            key.issue(&SessionClaims { iss: iss.into(), aud: aud.into(), ..claims.clone() }).expect("a token");
        assert_eq!(
            authorize(&keys, &store, &bearer(&other_use)).await.expect("decided"),
            Verdict::Refused,
            "{iss} {aud}"
        );
    }
    let tampered = format!("{}x", &token[..token.len() - 1]);
    assert_eq!(authorize(&keys, &store, &bearer(&tampered)).await.expect("decided"), Verdict::Refused);
}

#[tokio::test]
async fn the_first_key_kept_is_the_one_every_process_signs_with() {
    let store = MemoryStore::new();
    let first = PortalKeys::default();
    let kept = first.get_or_make(&store).await.expect("made").0.clone();
    assert_eq!(kept.len(), 32);
    assert_eq!(store.keep_portal_key("another").await.expect("kept"), STANDARD.encode(&kept), "the first stays");
    assert_eq!(PortalKeys::default().get_or_make(&store).await.expect("read").0, kept);
}

#[test]
fn a_refusal_is_an_authorizers_deny_and_a_grant_carries_its_context() {
    assert!(!simple_response(Verdict::Refused).is_authorized);
    let mut context = Map::new();
    context.insert("portal".into(), Value::Bool(true));
    let granted = simple_response(Verdict::Granted(context));
    assert!(granted.is_authorized);
    assert_eq!(granted.context["portal"], true);
}
