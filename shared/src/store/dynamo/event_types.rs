//! The operator's event types (docs/contract.md 13): `CATALOG` / `TYPE#{name}`, each the type's JSON
//! as written (a schema is kept byte for byte), in one partition that the catalog's one `Query`
//! reads; the defaults are not stored (`crate::model::Catalog`).

use std::collections::HashMap;

use async_trait::async_trait;

use super::{DynamoStore, Item, ItemRange, s, unavailable};
use crate::model::EventType;
use crate::store::{EventTypeGet, EventTypePut, StoreError};

const PARTITION: &str = "CATALOG";
const PREFIX: &str = "TYPE#";
const BODY: &str = "eventType";

fn type_key(name: &str) -> Item {
    HashMap::from([("PK".into(), s(PARTITION)), ("SK".into(), s(format!("{PREFIX}{name}")))])
}

fn parse(item: &Item) -> Result<EventType, StoreError> {
    let text = item
        .get(BODY)
        .and_then(|v| v.as_s().ok())
        .ok_or_else(|| StoreError::internal("an event type without its body"))?;
    serde_json::from_str(text).map_err(StoreError::internal)
}

#[async_trait]
impl EventTypeGet for DynamoStore {
    async fn stored_event_type(&self, name: &str) -> Result<Option<EventType>, StoreError> {
        // Consistent: a type written a moment ago checks the next publish.
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(type_key(name)))
            .consistent_read(true)
            .send()
            .await
            .map_err(unavailable)?;
        output.item.as_ref().map(parse).transpose()
    }

    async fn stored_event_types(&self) -> Result<Vec<EventType>, StoreError> {
        let range = ItemRange::prefixed(PARTITION, PREFIX);
        self.query_all(range).await?.iter().map(parse).collect()
    }
}

#[async_trait]
impl EventTypePut for DynamoStore {
    async fn put_event_type(&self, event_type: &EventType) -> Result<(), StoreError> {
        let mut item = type_key(&event_type.name);
        item.insert(BODY.into(), s(serde_json::to_string(event_type).map_err(StoreError::internal)?));
        self.client.put_item().table_name(&self.table).set_item(Some(item)).send().await.map_err(unavailable)?;
        Ok(())
    }
}
