//! Webhook items: `OWNER#{entityId}` / `WEBHOOK#{webhookId}`, and `GLOBAL` / `WEBHOOK#{webhookId}`
//! for global ones (whose other items are in `globals`), every write guarded by `version`.

use std::collections::HashMap;

use async_trait::async_trait;
use aws_sdk_dynamodb::operation::{delete_item::DeleteItemError, put_item::PutItemError, update_item::UpdateItemError};
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValuesOnConditionCheckFailure, TransactWriteItem, Update};

use super::globals::GLOBAL_PK;
use super::{DynamoStore, Item, ItemRange, s, unavailable};
use crate::model::{Owner, Timestamp, WebhookId, WebhookRecord};
use crate::store::StoreError;
use crate::store::{
    Page, PageRequest, WebhookDelete, WebhookGet, WebhookHealth, WebhookInsert, WebhookList, WebhookReplace,
};

pub(super) fn partition(owner: Owner) -> String {
    match owner {
        Owner::Entity(entity) => format!("OWNER#{entity}"),
        Owner::Global => GLOBAL_PK.into(),
    }
}

pub(super) fn webhook_key(owner: Owner, id: WebhookId) -> Item {
    HashMap::from([("PK".into(), s(partition(owner))), ("SK".into(), s(format!("WEBHOOK#{id}")))])
}

/// The webhook's item, its secrets as they are: only for writes of attributes that are not.
fn plain_item(webhook: &WebhookRecord) -> Result<Item, StoreError> {
    let mut item: Item = serde_dynamo::to_item(webhook).map_err(StoreError::internal)?;
    item.extend(webhook_key(webhook.owner(), webhook.info.id));
    super::notices::mark(&mut item, webhook);
    Ok(item)
}

/// The stored version in the item a failed condition returned, or `NotFound` without one.
fn conflict_from(old_item: Option<&Item>) -> StoreError {
    match old_item.and_then(|item| item.get("version")).and_then(|v| v.as_n().ok()).and_then(|n| n.parse().ok()) {
        Some(current) => StoreError::VersionConflict { current },
        None => StoreError::NotFound,
    }
}

/// What tells a write's item from any other write's: its version and its secret, sealed with a
/// random nonce at each write. Not the whole item: DynamoDB normalises numbers, and the
/// failing clock may have been set since, without a new version.
const WRITE_MARKS: [&str; 2] = ["version", "secret"];

/// `item`'s `WRITE_MARKS`.
fn write_marks(item: &Item) -> [Option<AttributeValue>; 2] {
    WRITE_MARKS.map(|name| item.get(name).cloned())
}

/// `request` on the condition that the stored item is at `version`.
macro_rules! if_version {
    ($request:expr, $version:expr) => {
        $request
            .condition_expression("#version = :expected")
            .expression_attribute_names("#version", "version")
            .expression_attribute_values(":expected", $crate::store::dynamo::webhooks::version_value($version))
    };
}
pub(super) use if_version;

pub(super) fn version_value(version: u64) -> AttributeValue {
    AttributeValue::N(version.to_string())
}

#[async_trait]
impl WebhookGet for DynamoStore {
    async fn get_webhook(&self, owner: Owner, id: WebhookId) -> Result<Option<WebhookRecord>, StoreError> {
        self.get_item(webhook_key(owner, id), true).await
    }

    async fn get_webhook_eventually(&self, owner: Owner, id: WebhookId) -> Result<Option<WebhookRecord>, StoreError> {
        self.get_item(webhook_key(owner, id), false).await
    }
}

#[async_trait]
impl WebhookList for DynamoStore {
    async fn list_webhooks(&self, owner: Owner, page: PageRequest) -> Result<Page<WebhookRecord>, StoreError> {
        let start = page.after.map(|after| webhook_key(owner, WebhookId(after)));
        let range = ItemRange::prefixed(partition(owner), "WEBHOOK#");
        self.query_page(range, start, page, |w: &WebhookRecord| w.info.id.0).await
    }

    async fn list_account_webhooks(&self, account: &str, page: PageRequest) -> Result<Page<WebhookRecord>, StoreError> {
        self.account_webhooks(account, page).await
    }
}

impl DynamoStore {
    /// The webhook's item, its secrets sealed.
    pub(super) async fn webhook_item(&self, webhook: &WebhookRecord) -> Result<Item, StoreError> {
        let mut item = plain_item(webhook)?;
        self.seal_secrets(&mut item).await?;
        Ok(item)
    }

    /// Writes the webhook's item if the stored one is at version `expected`, or, without
    /// one, if there is none.
    async fn put_webhook(&self, webhook: &WebhookRecord, expected: Option<u64>) -> Result<(), StoreError> {
        self.put_webhook_item(self.webhook_item(webhook).await?, expected).await
    }

    /// `put_webhook` of the webhook's `item`, sealed.
    ///
    /// When an attempt's answer is lost (it timed out after DynamoDB wrote), the SDK sends the
    /// write again and its condition fails on the item the first attempt wrote: finding our own
    /// item there is our success, not a conflict.
    pub(super) async fn put_webhook_item(&self, item: Item, expected: Option<u64>) -> Result<(), StoreError> {
        let marks = write_marks(&item);
        let request = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld);
        let request = match expected {
            Some(version) => if_version!(request, version),
            None => request.condition_expression("attribute_not_exists(PK)"),
        };
        match request.send().await {
            Ok(_) => Ok(()),
            Err(err) => match err.as_service_error() {
                Some(PutItemError::ConditionalCheckFailedException(c))
                    if marks.iter().all(Option::is_some) && c.item().is_some_and(|s| write_marks(s) == marks) =>
                {
                    Ok(())
                }
                Some(PutItemError::ConditionalCheckFailedException(c)) if expected.is_some() => {
                    Err(conflict_from(c.item()))
                }
                _ => Err(unavailable(err)),
            },
        }
    }
}

#[async_trait]
impl WebhookInsert for DynamoStore {
    async fn insert_webhook(&self, webhook: &WebhookRecord) -> Result<(), StoreError> {
        match webhook.owner() {
            Owner::Entity(_) => self.put_webhook(webhook, None).await,
            Owner::Global => self.insert_global(webhook).await,
        }
    }
}

#[async_trait]
impl WebhookReplace for DynamoStore {
    async fn replace_webhook(&self, webhook: &WebhookRecord, previous: &WebhookRecord) -> Result<(), StoreError> {
        match webhook.owner() {
            Owner::Entity(_) => self.put_webhook(webhook, Some(previous.info.version)).await,
            Owner::Global => self.replace_global(webhook, previous).await,
        }
    }
}

/// The failing clock is one attribute of the webhook's item, written without a new version: a
/// write through the API, which restarts the clock, replaces it; a `"*"` webhook's copy, which
/// delivering never reads, does not keep it.
#[async_trait]
impl WebhookHealth for DynamoStore {
    async fn mark_failing(&self, owner: Owner, id: WebhookId, since: Timestamp) -> Result<(), StoreError> {
        let update = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(webhook_key(owner, id)))
            .update_expression("SET #failing = :since")
            .condition_expression("attribute_exists(PK) AND attribute_not_exists(#failing)")
            .expression_attribute_names("#failing", FAILING_SINCE)
            .expression_attribute_values(":since", s(since.to_string()));
        unless_condition_failed(update.send().await)
    }

    async fn mark_recovered(&self, owner: Owner, id: WebhookId) -> Result<(), StoreError> {
        let update = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(webhook_key(owner, id)))
            .update_expression("REMOVE #failing")
            .condition_expression("attribute_exists(#failing)")
            .expression_attribute_names("#failing", FAILING_SINCE);
        unless_condition_failed(update.send().await)
    }

    async fn mark_slow(&self, owner: Owner, id: WebhookId, slow_ms: Option<u32>) -> Result<(), StoreError> {
        let update = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(webhook_key(owner, id)))
            .condition_expression("attribute_exists(PK)")
            .expression_attribute_names("#slow", SLOW_MS);
        let update = match slow_ms {
            Some(ms) => update
                .update_expression("SET #slow = :ms")
                .expression_attribute_values(":ms", version_value(u64::from(ms))),
            None => update.update_expression("REMOVE #slow"),
        };
        unless_condition_failed(update.send().await)
    }

    async fn disable_webhook(&self, disabled: &WebhookRecord, previous: &WebhookRecord) -> Result<(), StoreError> {
        // Only the disable's attributes are written, none of them secret: nothing to seal.
        let item = plain_item(disabled)?;
        let key = webhook_key(disabled.owner(), disabled.info.id);
        let update = |key: Item| {
            let mut update = Update::builder().table_name(&self.table).set_key(Some(key));
            let mut set = Vec::new();
            for (n, name) in DISABLE_ATTRIBUTES.iter().enumerate() {
                if let Some(value) = item.get(*name) {
                    set.push(format!("#a{n} = :a{n}"));
                    update = update
                        .expression_attribute_names(format!("#a{n}"), *name)
                        .expression_attribute_values(format!(":a{n}"), value.clone());
                }
            }
            update.update_expression(format!("SET {}", set.join(", ")))
        };
        // The failing clock as read: a success since stopped it (without a new version).
        let own = match previous.failing_since {
            Some(since) => update(key.clone())
                .condition_expression("#v = :expected AND #failing = :since")
                .expression_attribute_values(":since", s(since.to_string())),
            None => update(key.clone()).condition_expression("#v = :expected AND attribute_not_exists(#failing)"),
        };
        let own = own
            .expression_attribute_names("#v", "version")
            .expression_attribute_names("#failing", FAILING_SINCE)
            .expression_attribute_values(":expected", version_value(previous.info.version))
            .build()
            .map_err(StoreError::internal)?;
        let mut writes = vec![TransactWriteItem::builder().update(own).build()];
        if matches!(disabled.info.entities, Some(crate::model::Coverage::All)) {
            let copy = update(super::globals::star_copy(key)).build().map_err(StoreError::internal)?;
            writes.push(TransactWriteItem::builder().update(copy).build());
        }
        if self.transact_if(writes).await? {
            return Ok(());
        }
        let stored = self.get_webhook(disabled.owner(), disabled.info.id).await?;
        Err(stored.map_or(StoreError::NotFound, |w| StoreError::VersionConflict { current: w.info.version }))
    }
}

const FAILING_SINCE: &str = "failingSince";
const SLOW_MS: &str = "slowMs";
/// What disabling a webhook changes of its item.
const DISABLE_ATTRIBUTES: [&str; 7] =
    ["enabled", "version", "lastUpdate", "userIdentifier", "disabledReason", "failingSince", "disabledBy"];

/// A clock already in the state asked for is no error.
fn unless_condition_failed<T, R: std::fmt::Debug + Send + Sync + 'static>(
    result: Result<T, aws_sdk_dynamodb::error::SdkError<UpdateItemError, R>>,
) -> Result<(), StoreError> {
    match result {
        Ok(_) => Ok(()),
        Err(err) if err.as_service_error().is_some_and(UpdateItemError::is_conditional_check_failed_exception) => {
            Ok(())
        }
        Err(err) => Err(unavailable(err)),
    }
}

#[async_trait]
impl WebhookDelete for DynamoStore {
    async fn delete_webhook(&self, owner: Owner, id: WebhookId, expected: Option<u64>) -> Result<(), StoreError> {
        if owner == Owner::Global {
            return self.delete_global(id, expected).await;
        }
        let request = self
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(webhook_key(owner, id)))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld);
        let request = match expected {
            Some(version) => if_version!(request, version),
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
