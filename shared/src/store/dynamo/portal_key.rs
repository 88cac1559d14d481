//! The portal key (docs/contract.md 16): one item, `PORTAL` / `KEY`, its `secret` sealed as
//! every secret is, written once on condition that none is.

use std::collections::HashMap;

use async_trait::async_trait;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use serde::{Deserialize, Serialize};

use super::{DynamoStore, Item, s, unavailable};
use crate::store::{PortalKeyStore, StoreError};

fn key_item() -> Item {
    HashMap::from([("PK".into(), s("PORTAL".to_string())), ("SK".into(), s("KEY".to_string()))])
}

#[derive(Serialize, Deserialize)]
struct KeptKey {
    secret: String,
}

#[async_trait]
impl PortalKeyStore for DynamoStore {
    async fn portal_key(&self) -> Result<Option<String>, StoreError> {
        Ok(self.get_item::<KeptKey>(key_item(), true).await?.map(|kept| kept.secret))
    }

    async fn keep_portal_key(&self, key: &str) -> Result<String, StoreError> {
        let mut item: Item =
            serde_dynamo::to_item(&KeptKey { secret: key.to_string() }).map_err(StoreError::internal)?;
        item.extend(key_item());
        self.seal_secrets(&mut item).await?;
        let put = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(PK)")
            .send()
            .await;
        match put {
            Ok(_) => Ok(key.to_string()),
            Err(err) if err.as_service_error().is_some_and(PutItemError::is_conditional_check_failed_exception) => {
                self.portal_key().await?.ok_or_else(|| StoreError::internal("the portal key was kept, then not found"))
            }
            Err(err) => Err(unavailable(err)),
        }
    }
}
