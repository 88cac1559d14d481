//! Tests of the webhook record and its input.

use super::*;

const ENTITY: &str = "d5b8a3c2-9e6f-4a1b-8d34-7c2e1f0a5b69";
const POLICY: UrlPolicy = UrlPolicy { allow_private: false };

fn entity() -> EntityId {
    EntityId::parse(ENTITY).expect("uuid")
}

fn rules(owner: Owner) -> WebhookRules<'static> {
    WebhookRules { owner, policy: POLICY, catalog: Catalog::defaults() }
}

fn parse(body: Value) -> Result<WebhookIn, Error> {
    let Value::Object(map) = body else { panic!("test bodies are objects") };
    WebhookIn::parse(&map, &rules(Owner::Entity(entity())), None)
}

#[test]
fn minimal_body_takes_the_defaults() {
    let input = parse(json!({"name": "Sync", "eventUrl": "https://api.example.com/hook"})).expect("valid");
    assert!(input.enabled && input.send_data);
    assert_eq!(input.event_list, EventList::default());
    assert_eq!(input.owner_name, None);
    assert_eq!(input.version, None);
}

#[test]
fn every_bad_field_is_listed() {
    let err = parse(json!({
        "name": " ",
        "entity": {"id": "00000000-0000-0000-0000-000000000000", "name": "X"},
        "enabled": "yes",
        "eventUrl": "http://api.example.com",
        "eventList": ["booking.created", "nope"],
        "headers": {"Host": "x"},
        "sendData": 1,
        "version": 0
    }))
    .expect_err("invalid");
    let Error::Validation(errors) = err else { panic!("expected validation, got {err:?}") };
    let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
    assert_eq!(fields, ["name", "entity.id", "enabled", "eventUrl", "eventList", "headers", "sendData", "version"]);
}

#[test]
fn a_global_webhook_needs_entities_and_an_entitys_own_refuses_them() {
    let body = json!({"name": "Sync", "eventUrl": "https://api.example.com/hook", "entities": [ENTITY]});
    let Value::Object(body) = body else { unreachable!() };
    let global = WebhookIn::parse(&body, &rules(Owner::Global), None).expect("valid");
    assert_eq!(global.entities, Some(Coverage::Only([entity()].into())));
    let Err(Error::Validation(errors)) = WebhookIn::parse(&body, &rules(Owner::Entity(entity())), None) else {
        panic!("entities on an entity's webhook")
    };
    assert_eq!(errors[0].field, "entities");
    let mut without = body.clone();
    without.remove("entities");
    without.insert("entity".into(), json!({"id": ENTITY}));
    let Err(Error::Validation(errors)) = WebhookIn::parse(&without, &rules(Owner::Global), None) else {
        panic!("a global webhook without entities")
    };
    assert_eq!(errors.iter().map(|e| e.field.as_str()).collect::<Vec<_>>(), ["entity.id", "entities"]);
}

#[test]
fn missing_required_fields_are_named() {
    let Err(Error::Validation(errors)) = parse(json!({})) else { panic!("expected validation") };
    assert_eq!(errors.iter().map(|e| e.field.as_str()).collect::<Vec<_>>(), ["name", "eventUrl"]);
}

#[test]
fn the_document_of_a_webhook_parses_back_to_it() {
    let input = parse(json!({
        "name": "Sync", "entity": {"id": ENTITY, "name": "The Siam"}, "enabled": false,
        "eventUrl": "https://api.example.com/hook", "eventList": ["payment.*"],
        "headers": {"X-Api-Key": "abc"}, "sendData": false
    }))
    .expect("valid");
    let webhook = WebhookRecord::create(
        input.clone(),
        WebhookId(uuid::Uuid::nil()),
        Owner::Entity(entity()),
        "user-1",
        Some("user-1"),
        Timestamp::new(chrono::Utc::now()),
        WebhookSecret::from_key(&[1; 32]),
    );
    assert_eq!(parse(WebhookIn::document_of(&webhook.info)).expect("round trip"), input);
}

fn ed25519_webhook() -> WebhookRecord {
    let input = parse(json!({"name": "Sync", "eventUrl": "https://api.example.com/hook", "signature": "ed25519"}));
    let input = input.expect("valid");
    assert_eq!(input.signature, SignatureScheme::Ed25519);
    let secret = WebhookSecret::generate(input.signature, &[5; 32]);
    let now = Timestamp::new(chrono::Utc::now());
    WebhookRecord::create(input, WebhookId(uuid::Uuid::nil()), Owner::Entity(entity()), "user-1", None, now, secret)
}

#[test]
fn the_signature_is_hmac_by_default_ed25519_on_request_and_its_public_key_shown() {
    let hmac = parse(json!({"name": "Sync", "eventUrl": "https://api.example.com/hook"})).expect("valid");
    assert_eq!(hmac.signature, SignatureScheme::Hmac);
    let Err(Error::Validation(errors)) =
        parse(json!({"name": "Sync", "eventUrl": "https://api.example.com/hook", "signature": "rsa"}))
    else {
        panic!("an unknown scheme accepted")
    };
    assert_eq!(errors[0].field, "signature");

    let webhook = ed25519_webhook();
    assert_eq!(webhook.info.signature, SignatureScheme::Ed25519);
    assert_eq!(webhook.info.public_key, webhook.secret.public_key());
    let shown = serde_json::to_value(&webhook.info).expect("JSON");
    assert_eq!(shown["signature"], "ed25519");
    assert!(shown["publicKey"].as_str().is_some_and(|key| key.starts_with("whpk_")), "{shown}");
    assert!(!shown.to_string().contains("whsk_"), "the private key is never shown");
    assert_eq!(WebhookCreated::of(&webhook).secret, None);
}

#[test]
fn an_update_keeps_the_signature_and_refuses_another() {
    let webhook = ed25519_webhook();
    let rules = rules(Owner::Entity(entity()));
    let update = |body: Value| WebhookIn::parse(body.as_object().expect("object"), &rules, Some(&webhook));
    let kept = update(json!({"name": "Sync", "eventUrl": "https://api.example.com/hook"})).expect("valid");
    assert_eq!(kept.signature, SignatureScheme::Ed25519);
    let updated = webhook.updated(kept, "user-2", webhook.info.last_update);
    assert_eq!((updated.info.public_key, updated.secret), (webhook.info.public_key.clone(), webhook.secret.clone()));
    let changed = update(json!({"name": "Sync", "eventUrl": "https://api.example.com/hook", "signature": "hmac"}));
    let Err(Error::Validation(errors)) = changed else { panic!("a new scheme without a new key") };
    assert_eq!(errors[0].field, "signature");
}
