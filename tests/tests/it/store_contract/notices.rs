//! The notices index on DynamoDB (docs/contract.md 8): a table made before it gets it from
//! `ensure_table`, and `webhooks-local index-notices` marks the webhooks written before it.

use aws_sdk_dynamodb::types::{AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType};
use shared::model::{EventList, WebhookRecord};
use shared::store::{DynamoStore, WebhookInsert, WebhookSubscribers};

use super::sealing::key;
use super::{entity, webhook};
use crate::helpers::{ENTITY, dynamo_client, new_sealer, unique_table};

fn listing(mut webhook: WebhookRecord, event_list: serde_json::Value) -> WebhookRecord {
    webhook.info.event_list = serde_json::from_value::<EventList>(event_list).expect("an event list");
    webhook
}

/// Alone, on a DynamoDB Local of its own (`make test`'s next step): twice in the whole suite's
/// run, DynamoDB Local kept the added index `CREATING` for as long as the test waited (60 s, then
/// 10 minutes), while alone it is active in seconds.
#[ignore = "run alone by make test: DynamoDB Local stalls an added index under the suite's load"]
#[tokio::test]
async fn a_table_and_webhooks_from_before_the_notices_index_are_indexed() {
    let (client, table) = (dynamo_client().await, unique_table());
    let string = |name: &str| {
        AttributeDefinition::builder().attribute_name(name).attribute_type(ScalarAttributeType::S).build().expect("ok")
    };
    let key_of =
        |name: &str, kind| KeySchemaElement::builder().attribute_name(name).key_type(kind).build().expect("ok");
    let made = client.create_table().table_name(&table).billing_mode(BillingMode::PayPerRequest);
    let made = made.attribute_definitions(string("PK")).attribute_definitions(string("SK"));
    made.key_schema(key_of("PK", KeyType::Hash)).key_schema(key_of("SK", KeyType::Range)).send().await.expect("table");
    let store = DynamoStore::new(client.clone(), &table, new_sealer());
    store.ensure_table().await.expect("the index added");

    let (old, unlisted) =
        (listing(webhook(ENTITY, "old"), serde_json::json!(["webhook.disabled"])), webhook(ENTITY, "bookings"));
    for before in [&old, &unlisted] {
        let mut item: std::collections::HashMap<String, aws_sdk_dynamodb::types::AttributeValue> =
            serde_dynamo::to_item(before).expect("item");
        item.extend(key(&format!("OWNER#{ENTITY}"), format!("WEBHOOK#{}", before.info.id)));
        client.put_item().table_name(&table).set_item(Some(item)).send().await.expect("put");
    }
    let new = listing(webhook(ENTITY, "new"), serde_json::json!(["webhook.*"]));
    store.insert_webhook(&new).await.expect("insert");
    let names = |webhooks: Vec<WebhookRecord>| {
        let mut names: Vec<String> = webhooks.iter().map(|w| w.info.name.as_str().to_string()).collect();
        names.sort();
        names
    };
    assert_eq!(names(store.notice_subscribers(entity(ENTITY)).await.expect("read")), ["new"], "written before");
    assert_eq!(store.index_notice_subscribers().await.expect("index"), 1, "the old one that lists a notice");
    assert_eq!(names(store.notice_subscribers(entity(ENTITY)).await.expect("read")), ["new", "old"]);
    assert_eq!(store.index_notice_subscribers().await.expect("index"), 0, "nothing left");
}
