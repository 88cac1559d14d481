//! Secrets at rest on DynamoDB (docs/contract.md 8): every write seals them, every read opens
//! them, and items written before sealing still read. (The memory store keeps nothing at rest.)

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use aws_sdk_dynamodb::types::AttributeValue;
use serde_json::json;
use shared::model::{Owner, PreviousSecret, ReceiverAuth, Timestamp, WebhookRecord, WebhookSecret};
use shared::sealing::{DataKey, MasterKey, SealError, Sealer};
use shared::store::{AccessTokenStore, DynamoStore, StoreError, WebhookGet, WebhookReplace};

use super::{renamed, webhook};
use crate::helpers::{ENTITY, dynamo_client, new_sealer, unique_table};

const PASSWORD: &str = "pw-at-rest-61c0";
const ACCESS_TOKEN: &str = "at-at-rest-0e9b";

fn with_secrets() -> WebhookRecord {
    let mut webhook = webhook(ENTITY, "with every secret");
    webhook.info.auth = Some(ReceiverAuth::Basic { username: "u".into() });
    webhook.auth_secret = Some(serde_json::from_value(json!(PASSWORD)).expect("secret"));
    let expires_at = Timestamp::new(chrono::Utc::now() + chrono::Duration::hours(1));
    webhook.previous_secret = Some(PreviousSecret { secret: WebhookSecret::from_key(&[8; 32]), expires_at });
    webhook
}

fn clear_values(webhook: &WebhookRecord) -> Vec<String> {
    let previous = webhook.previous_secret.as_ref().expect("previous").secret.expose().to_string();
    vec![webhook.secret.expose().to_string(), previous, PASSWORD.into(), ACCESS_TOKEN.into()]
}

pub(super) fn key(owner: &str, sort: String) -> HashMap<String, AttributeValue> {
    HashMap::from([("PK".into(), AttributeValue::S(owner.into())), ("SK".into(), AttributeValue::S(sort))])
}

#[tokio::test]
async fn secrets_are_sealed_at_rest_and_items_from_before_sealing_still_read() {
    let (client, table) = (dynamo_client().await, unique_table());
    let store = DynamoStore::new(client.clone(), &table, new_sealer());
    store.ensure_table().await.expect("table");
    let owner = Owner::Entity(shared::model::EntityId::parse(ENTITY).expect("entity"));

    // An item as stored before sealing: secrets as plain strings.
    let old = with_secrets();
    let webhook_key = key(&format!("OWNER#{ENTITY}"), format!("WEBHOOK#{}", old.info.id));
    let mut item: HashMap<String, AttributeValue> = serde_dynamo::to_item(&old).expect("item");
    item.extend(webhook_key.clone());
    client.put_item().table_name(&table).set_item(Some(item)).send().await.expect("put");
    assert_eq!(store.get_webhook(owner, old.info.id).await.expect("get"), Some(old.clone()), "read as it was");

    // Its next write seals it, and it reads the same.
    let next = renamed(&old, "written again");
    store.replace_webhook(&next, &old).await.expect("replace");
    store.keep_access_token(next.info.id, "fp", ACCESS_TOKEN, next.info.last_update).await.expect("keep");
    let raw = |key| client.get_item().table_name(&table).set_key(Some(key)).consistent_read(true).send();
    let stored = raw(webhook_key.clone()).await.expect("get").item.expect("item");
    let token_key = key(&format!("WEBHOOK#{}", next.info.id), "TOKEN#fp".into());
    let kept = raw(token_key).await.expect("get").item.expect("item");
    let text = format!("{stored:?} {kept:?}");
    for secret in clear_values(&next) {
        assert!(!text.contains(&secret), "{secret} is stored in the clear: {text}");
    }
    assert!(matches!(stored.get("secret"), Some(AttributeValue::M(sealed)) if sealed.contains_key("dataKey")));
    assert_eq!(store.get_webhook(owner, next.info.id).await.expect("get"), Some(next.clone()));
    let far = Timestamp::new(chrono::Utc::now() - chrono::Duration::hours(1));
    assert_eq!(store.access_token(next.info.id, "fp", far).await.expect("read").as_deref(), Some(ACCESS_TOKEN));
    store.drop_access_token(next.info.id, "fp", ACCESS_TOKEN).await.expect("drop");
    assert_eq!(store.access_token(next.info.id, "fp", far).await.expect("read"), None, "a sealed token still drops");

    // A sealed secret copied into another webhook's item does not open there.
    let other = webhook(ENTITY, "another");
    let mut item: HashMap<String, AttributeValue> = serde_dynamo::to_item(&other).expect("item");
    item.extend(key(&format!("OWNER#{ENTITY}"), format!("WEBHOOK#{}", other.info.id)));
    item.insert("secret".into(), stored["secret"].clone());
    client.put_item().table_name(&table).set_item(Some(item)).send().await.expect("put");
    let moved = store.get_webhook(owner, other.info.id).await;
    assert!(matches!(moved, Err(StoreError::Internal(_))), "{moved:?}");
}

/// `webhooks-local seal-secrets`: what a table holds in the clear from before sealing is
/// sealed in one pass, and a second pass finds nothing left.
#[tokio::test]
async fn secrets_from_before_sealing_are_sealed_by_one_pass() {
    let (client, table) = (dynamo_client().await, unique_table());
    let store = DynamoStore::new(client.clone(), &table, new_sealer());
    store.ensure_table().await.expect("table");
    let old = with_secrets();
    let mut item: HashMap<String, AttributeValue> = serde_dynamo::to_item(&old).expect("item");
    item.extend(key(&format!("OWNER#{ENTITY}"), format!("WEBHOOK#{}", old.info.id)));
    let token = HashMap::from([
        ("token".into(), AttributeValue::S(ACCESS_TOKEN.into())),
        ("goodUntil".into(), AttributeValue::S(old.info.last_update.get().to_rfc3339())),
    ]);
    let token_item: HashMap<_, _> =
        token.into_iter().chain(key(&format!("WEBHOOK#{}", old.info.id), "TOKEN#fp".into())).collect();
    let unrelated = webhook(ENTITY, "sealed already");
    for put in [item, token_item] {
        client.put_item().table_name(&table).set_item(Some(put)).send().await.expect("put");
    }
    shared::store::WebhookInsert::insert_webhook(&store, &unrelated).await.expect("insert");

    assert_eq!(store.seal_stored_secrets().await.expect("seal"), 2, "the two items from before sealing");
    assert_eq!(store.seal_stored_secrets().await.expect("seal"), 0, "nothing left in the clear");
    let scanned = client.scan().table_name(&table).send().await.expect("scan");
    let text = format!("{:?}", scanned.items());
    for secret in clear_values(&old) {
        assert!(!text.contains(&secret), "{secret} is stored in the clear: {text}");
    }
    let owner = Owner::Entity(shared::model::EntityId::parse(ENTITY).expect("entity"));
    assert_eq!(store.get_webhook(owner, old.info.id).await.expect("get"), Some(old.clone()), "it reads the same");
    let before = Timestamp::new(chrono::Utc::now() - chrono::Duration::days(1));
    assert_eq!(store.access_token(old.info.id, "fp", before).await.expect("read").as_deref(), Some(ACCESS_TOKEN));
    store.drop_access_token(old.info.id, "fp", ACCESS_TOKEN).await.expect("drop");
    assert_eq!(store.access_token(old.info.id, "fp", before).await.expect("read"), None, "a resealed token drops");
}

/// A master key of generations: data keys made under the current one; every one unwraps, as a
/// KMS key the functions may still use does after the key was replaced.
#[derive(Clone, Default)]
struct Generations(Arc<AtomicUsize>);

#[async_trait::async_trait]
impl MasterKey for Generations {
    fn key_id(&self) -> String {
        format!("generation-{}", self.0.load(Ordering::SeqCst))
    }

    async fn new_data_key(&self) -> Result<DataKey, SealError> {
        let plaintext = vec![u8::try_from(self.0.load(Ordering::SeqCst)).expect("few"); 32];
        Ok(DataKey { wrapped: plaintext.iter().map(|b| b ^ 0x33).collect(), plaintext, key_id: self.key_id() })
    }

    async fn unwrap(&self, _key_id: &str, wrapped: &[u8]) -> Result<Vec<u8>, SealError> {
        Ok(wrapped.iter().map(|b| b ^ 0x33).collect())
    }
}

/// After the master key is replaced, one pass rewraps what the old one sealed, so that it
/// can be retired; the secrets read the same.
#[tokio::test]
async fn secrets_sealed_under_a_replaced_master_key_are_rewrapped_by_one_pass() {
    let (client, table) = (dynamo_client().await, unique_table());
    let master = Generations::default();
    let before = DynamoStore::new(client.clone(), &table, Arc::new(Sealer::new(master.clone())));
    before.ensure_table().await.expect("table");
    let webhook = with_secrets();
    shared::store::WebhookInsert::insert_webhook(&before, &webhook).await.expect("insert");
    master.0.store(1, Ordering::SeqCst);
    let after = DynamoStore::new(client.clone(), &table, Arc::new(Sealer::new(master.clone())));

    assert_eq!(after.seal_stored_secrets().await.expect("rewrap"), 1);
    assert_eq!(after.seal_stored_secrets().await.expect("rewrap"), 0, "nothing left under the old key");
    let key = key(&format!("OWNER#{ENTITY}"), format!("WEBHOOK#{}", webhook.info.id));
    let stored = client.get_item().table_name(&table).set_key(Some(key)).send().await.expect("get").item.expect("item");
    assert!(!format!("{stored:?}").contains("generation-0"), "{stored:?}");
    let owner = Owner::Entity(shared::model::EntityId::parse(ENTITY).expect("entity"));
    assert_eq!(after.get_webhook(owner, webhook.info.id).await.expect("get"), Some(webhook));
}
