//! Refused ingest messages: `OWNER#{entityId}` / `REFUSED#{refusalId}`, newest last, kept as long
//! as the ingest dead-letter queue keeps the message (TTL).

use std::collections::HashMap;

use async_trait::async_trait;
use aws_sdk_dynamodb::types::AttributeValue;

use super::{DynamoStore, Item, ItemRange, TTL_ATTRIBUTE, s, unavailable};
use crate::model::{EntityId, Refusal};
use crate::store::{Page, PageRequest, REFUSAL_RETENTION, RefusalList, RefusalRecord, StoreError};

const REFUSED: &str = "REFUSED#";

fn partition(entity: EntityId) -> String {
    format!("OWNER#{entity}")
}

#[async_trait]
impl RefusalRecord for DynamoStore {
    async fn record_refusal(&self, entity: EntityId, refusal: &Refusal) -> Result<(), StoreError> {
        let mut item: Item = serde_dynamo::to_item(refusal).map_err(StoreError::internal)?;
        item.insert("PK".into(), s(partition(entity)));
        item.insert("SK".into(), s(format!("{REFUSED}{}", refusal.id)));
        let expires = refusal.refused_at.get().timestamp().saturating_add_unsigned(REFUSAL_RETENTION.as_secs());
        item.insert(TTL_ATTRIBUTE.into(), AttributeValue::N(expires.to_string()));
        // Unconditional: a message refused again (its first answer lost) rewrites its record.
        self.client.put_item().table_name(&self.table).set_item(Some(item)).send().await.map_err(unavailable)?;
        Ok(())
    }
}

#[async_trait]
impl RefusalList for DynamoStore {
    async fn list_refusals(&self, entity: EntityId, page: PageRequest) -> Result<Page<Refusal>, StoreError> {
        let range = ItemRange { newest_first: true, ..ItemRange::prefixed(partition(entity), REFUSED) };
        let start = page.after.map(|after| {
            HashMap::from([
                ("PK".to_string(), s(partition(entity))),
                ("SK".to_string(), s(format!("{REFUSED}{after}"))),
            ])
        });
        self.query_page(range, start, page, |refusal: &Refusal| refusal.id).await
    }
}
