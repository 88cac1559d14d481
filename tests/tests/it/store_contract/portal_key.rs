//! The portal key (docs/contract.md 8, 16), on both backings: the first key kept is the one
//! every later caller gets; in DynamoDB it is sealed at rest.

use rstest::rstest;
use rstest_reuse::apply;
use shared::store::{DynamoStore, PortalKeyStore};

use super::sealing::key;
use crate::helpers::{Backing, backings, dynamo_client, new_sealer, store_on, unique_table};

#[apply(backings)]
#[tokio::test]
async fn the_first_portal_key_kept_stays(#[case] backing: Backing) {
    let store = store_on(backing).await;
    assert_eq!(store.portal_key().await.expect("read"), None, "{backing:?}: none before the first session");
    assert_eq!(store.keep_portal_key("first").await.expect("keep"), "first");
    assert_eq!(store.keep_portal_key("second").await.expect("keep"), "first", "{backing:?}: a later one is not kept");
    assert_eq!(store.portal_key().await.expect("read").as_deref(), Some("first"));
}

#[tokio::test]
async fn the_portal_key_is_sealed_at_rest() {
    let (client, table) = (dynamo_client().await, unique_table());
    let store = DynamoStore::new(client.clone(), &table, new_sealer());
    store.ensure_table().await.expect("table");
    store.keep_portal_key("a-key-nobody-may-read").await.expect("keep");
    let stored = client.get_item().table_name(&table).set_key(Some(key("PORTAL", "KEY".into()))).send().await;
    let stored = stored.expect("get").item.expect("the item");
    assert!(stored["secret"].is_m(), "sealed: {:?}", stored["secret"]);
    assert!(!format!("{stored:?}").contains("a-key-nobody-may-read"));
}
