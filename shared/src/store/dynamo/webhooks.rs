//! Webhook items: `OWNER#{entityId}` / `WEBHOOK#{webhookId}`, every write guarded by `version`.

use std::collections::HashMap;

use async_trait::async_trait;
use aws_sdk_dynamodb::operation::{delete_item::DeleteItemError, put_item::PutItemError};
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValuesOnConditionCheckFailure};

use super::{DynamoStore, Item, ItemRange, s, unavailable};
use crate::model::{EntityId, Webhook, WebhookId};
use crate::store::StoreError;
use crate::store::{Page, PageRequest, WebhookDelete, WebhookGet, WebhookInsert, WebhookList, WebhookReplace};

fn webhook_key(owner: EntityId, id: WebhookId) -> Item {
    HashMap::from([("PK".into(), s(format!("OWNER#{owner}"))), ("SK".into(), s(format!("WEBHOOK#{id}")))])
}

fn to_item(webhook: &Webhook) -> Result<Item, StoreError> {
    let mut item: Item = serde_dynamo::to_item(webhook).map_err(StoreError::internal)?;
    item.extend(webhook_key(webhook.info.owner_identifier, webhook.info.id));
    Ok(item)
}

/// The stored version in the item a failed condition returned, or `NotFound` without one.
fn conflict_from(old_item: Option<&Item>) -> StoreError {
    match old_item.and_then(|item| item.get("version")).and_then(|v| v.as_n().ok()).and_then(|n| n.parse().ok()) {
        Some(current) => StoreError::VersionConflict { current },
        None => StoreError::NotFound,
    }
}

fn version_value(version: u64) -> AttributeValue {
    AttributeValue::N(version.to_string())
}

#[async_trait]
impl WebhookGet for DynamoStore {
    async fn get_webhook(&self, owner: EntityId, id: WebhookId) -> Result<Option<Webhook>, StoreError> {
        self.get_item(webhook_key(owner, id), true).await
    }

    async fn get_webhook_eventually(&self, owner: EntityId, id: WebhookId) -> Result<Option<Webhook>, StoreError> {
        self.get_item(webhook_key(owner, id), false).await
    }
}

#[async_trait]
impl WebhookList for DynamoStore {
    async fn list_webhooks(&self, owner: EntityId, page: PageRequest) -> Result<Page<Webhook>, StoreError> {
        let start = page.after.map(|after| webhook_key(owner, WebhookId(after)));
        let range =
            ItemRange { pk: format!("OWNER#{owner}"), prefix: "WEBHOOK#".into(), newest_first: false, filter: None };
        self.query_page(range, start, page, |w: &Webhook| w.info.id.0).await
    }
}

#[async_trait]
impl WebhookInsert for DynamoStore {
    async fn insert_webhook(&self, webhook: &Webhook) -> Result<(), StoreError> {
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(to_item(webhook)?))
            .condition_expression("attribute_not_exists(PK)")
            .send()
            .await
            .map_err(unavailable)?;
        Ok(())
    }
}

#[async_trait]
impl WebhookReplace for DynamoStore {
    async fn replace_webhook(&self, webhook: &Webhook, expected: u64) -> Result<(), StoreError> {
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(to_item(webhook)?))
            .condition_expression("#version = :expected")
            .expression_attribute_names("#version", "version")
            .expression_attribute_values(":expected", version_value(expected))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(err) => match err.as_service_error() {
                Some(PutItemError::ConditionalCheckFailedException(c)) => Err(conflict_from(c.item())),
                _ => Err(unavailable(err)),
            },
        }
    }
}

#[async_trait]
impl WebhookDelete for DynamoStore {
    async fn delete_webhook(&self, owner: EntityId, id: WebhookId, expected: Option<u64>) -> Result<(), StoreError> {
        let request = self
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(webhook_key(owner, id)))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld);
        let request = match expected {
            Some(version) => request
                .condition_expression("#version = :expected")
                .expression_attribute_names("#version", "version")
                .expression_attribute_values(":expected", version_value(version)),
            None => request.condition_expression("attribute_exists(PK)"),
        };
        match request.send().await {
            Ok(_) => Ok(()),
            Err(err) => match err.as_service_error() {
                Some(DeleteItemError::ConditionalCheckFailedException(c)) => Err(conflict_from(c.item())),
                _ => Err(unavailable(err)),
            },
        }
    }
}
