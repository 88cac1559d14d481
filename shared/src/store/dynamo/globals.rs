//! Global webhooks (docs/contract.md 11), found at publish without reading other entities' items.
//!
//! Each is kept at `GLOBAL` / `WEBHOOK#{id}`. One listing entities has a pointer
//! `OWNER#{entity}` / `WEBHOOK@GLOBAL#{id}` in each covered entity's partition, which the
//! entity's one Query at publish reads with its own webhooks (`WEBHOOK#...`); the pointed-to
//! webhooks are then read in one BatchGetItem. A `"*"` one has a copy at `GLOBAL#ALL` /
//! `WEBHOOK#{id}`, written in the same transaction, which every publish reads with one Query
//! (half a read unit when there is none): a webhook receives every event published after its
//! create answered, whichever process made it.
//!
//! Its account (docs/contract.md 11) has a pointer `ACCOUNT#{account}` / `WEBHOOK@GLOBAL#{id}`
//! too, which the account's list reads a page at a time, reading the pointed-to webhooks in one
//! BatchGetItem: no list reads another account's webhooks.
//!
//! Pointers are written before the webhook that needs them and removed after it stops
//! needing them, so a publish never misses a covering webhook; a pointer left over (a write
//! that failed, or lost a race) only costs a read, as the webhook's own `entities` decides. A
//! removal is conditional on the pointer's `version` (that of the write that put it), so a
//! late removal cannot take away a pointer a newer version put back.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_dynamodb::types::{Delete, KeysAndAttributes, Put, PutRequest, TransactWriteItem, WriteRequest};
use futures::StreamExt;

use super::webhooks::{if_version, version_value, webhook_key};
use super::{DynamoStore, Item, ItemRange, s, unavailable};
use crate::model::{Coverage, EntityId, Owner, WebhookId, WebhookRecord};
use crate::store::{Page, PageRequest, StoreError, WebhookGet, WebhookSubscribers};

pub(super) const GLOBAL_PK: &str = "GLOBAL";
const EVERY_ENTITY_PK: &str = "GLOBAL#ALL";
const POINTER_PREFIX: &str = "WEBHOOK@GLOBAL#";
/// BatchWriteItem's and BatchGetItem's limits.
const WRITE_BATCH: usize = 25;
const READ_BATCH: usize = 100;
const CONCURRENT_WRITES: usize = 10;

fn pointer_key(partition: String, id: WebhookId) -> Item {
    HashMap::from([("PK".into(), s(partition)), ("SK".into(), s(format!("{POINTER_PREFIX}{id}")))])
}

fn entity_pointer(entity: EntityId) -> String {
    format!("OWNER#{entity}")
}

fn account_pointer(account: &str) -> String {
    format!("ACCOUNT#{account}")
}

/// The id a pointer's sort key names.
fn pointed_id(item: &Item) -> Option<Result<WebhookId, StoreError>> {
    let sort_key = item.get("SK").and_then(|v| v.as_s().ok())?;
    let id = sort_key.strip_prefix(POINTER_PREFIX)?;
    Some(WebhookId::parse(id).map_err(StoreError::internal))
}

fn is_star(webhook: &WebhookRecord) -> bool {
    matches!(webhook.info.entities, Some(Coverage::All))
}

/// The partitions that point to the webhook: each listed entity's, and its account's.
fn pointers(webhook: &WebhookRecord) -> BTreeSet<String> {
    let entities = webhook.info.entities.iter().flat_map(Coverage::listed).map(entity_pointer);
    entities.chain(webhook.info.account_identifier.as_deref().map(account_pointer)).collect()
}

impl DynamoStore {
    pub(super) async fn insert_global(&self, webhook: &WebhookRecord) -> Result<(), StoreError> {
        self.put_pointers(webhook, pointers(webhook)).await?;
        self.write_global(webhook, None).await
    }

    pub(super) async fn replace_global(
        &self,
        webhook: &WebhookRecord,
        previous: &WebhookRecord,
    ) -> Result<(), StoreError> {
        let (now, before) = (pointers(webhook), pointers(previous));
        self.put_pointers(webhook, now.difference(&before).cloned()).await?;
        self.write_global(webhook, Some(previous)).await?;
        self.remove_pointers(webhook.info.id, before.difference(&now).cloned(), webhook.info.version).await;
        Ok(())
    }

    /// Deletes the webhook as last read; without `expected`, read again when it changed
    /// between the read and the delete.
    pub(super) async fn delete_global(&self, id: WebhookId, expected: Option<u64>) -> Result<(), StoreError> {
        for _ in 0..3 {
            let current = self.get_webhook(Owner::Global, id).await?.ok_or(StoreError::NotFound)?;
            if expected.is_some_and(|v| v != current.info.version) {
                return Err(StoreError::VersionConflict { current: current.info.version });
            }
            match self.delete_as_read(&current).await {
                Ok(()) => {
                    self.remove_pointers(id, pointers(&current), current.info.version).await;
                    return Ok(());
                }
                Err(StoreError::VersionConflict { .. }) if expected.is_none() => continue,
                Err(err) => return Err(err),
            }
        }
        Err(StoreError::unavailable(format!("global webhook {id} kept changing while being deleted")))
    }

    /// The webhook's item, with its `"*"` copy written or removed in the same transaction.
    async fn write_global(&self, webhook: &WebhookRecord, previous: Option<&WebhookRecord>) -> Result<(), StoreError> {
        let expected = previous.map(|p| p.info.version);
        let own = self.webhook_item(webhook).await?;
        let copy = if is_star(webhook) {
            // Sealed for its sort key, which the copy shares: the same item opens in either place.
            let mut item = own.clone();
            item.insert("PK".into(), s(EVERY_ENTITY_PK));
            Some(TransactWriteItem::builder().put(self.put(item, None)?).build())
        } else if previous.is_some_and(is_star) {
            let key = webhook_key(Owner::Global, webhook.info.id);
            Some(TransactWriteItem::builder().delete(self.delete(star_copy(key), None)?).build())
        } else {
            None
        };
        let Some(copy) = copy else { return self.put_webhook_item(own, expected).await };
        let own = TransactWriteItem::builder().put(self.put(own, Some(expected))?).build();
        self.transact(webhook.info.id, expected, vec![own, copy]).await
    }

    async fn delete_as_read(&self, current: &WebhookRecord) -> Result<(), StoreError> {
        let (id, version) = (current.info.id, current.info.version);
        let key = webhook_key(Owner::Global, id);
        let mut writes = vec![TransactWriteItem::builder().delete(self.delete(key.clone(), Some(version))?).build()];
        if is_star(current) {
            writes.push(TransactWriteItem::builder().delete(self.delete(star_copy(key), None)?).build());
        }
        self.transact(id, Some(version), writes).await
    }

    /// A Put conditional on the stored version (`Some(Some(v))`) or on there being no item
    /// (`Some(None)`), or unconditional.
    fn put(&self, item: Item, expected: Option<Option<u64>>) -> Result<Put, StoreError> {
        let put = Put::builder().table_name(&self.table).set_item(Some(item));
        let put = match expected {
            Some(Some(version)) => if_version!(put, version),
            Some(None) => put.condition_expression("attribute_not_exists(PK)"),
            None => put,
        };
        put.build().map_err(StoreError::internal)
    }

    fn delete(&self, key: Item, expected: Option<u64>) -> Result<Delete, StoreError> {
        let delete = Delete::builder().table_name(&self.table).set_key(Some(key));
        let delete = match expected {
            Some(version) => if_version!(delete, version),
            None => delete,
        };
        delete.build().map_err(StoreError::internal)
    }

    /// Runs the transaction; a cancelled one is a conflict when the webhook's version moved.
    async fn transact(
        &self,
        id: WebhookId,
        expected: Option<u64>,
        writes: Vec<TransactWriteItem>,
    ) -> Result<(), StoreError> {
        let Err(err) = self.client.transact_write_items().set_transact_items(Some(writes)).send().await else {
            return Ok(());
        };
        if !err.as_service_error().is_some_and(|e| e.is_transaction_canceled_exception()) {
            return Err(unavailable(err));
        }
        match (self.get_webhook(Owner::Global, id).await?, expected) {
            (None, Some(_)) => Err(StoreError::NotFound),
            (Some(stored), Some(version)) if stored.info.version != version => {
                Err(StoreError::VersionConflict { current: stored.info.version })
            }
            _ => Err(unavailable(err)),
        }
    }

    async fn put_pointers(
        &self,
        webhook: &WebhookRecord,
        partitions: impl IntoIterator<Item = String>,
    ) -> Result<(), StoreError> {
        let version = version_value(webhook.info.version);
        let mut pending = partitions
            .into_iter()
            .map(|partition| {
                let mut item = pointer_key(partition, webhook.info.id);
                item.insert("version".into(), version.clone());
                let put = PutRequest::builder().set_item(Some(item)).build().map_err(StoreError::internal)?;
                Ok(WriteRequest::builder().put_request(put).build())
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        let mut pause = Duration::from_millis(50);
        while !pending.is_empty() {
            let batch: Vec<_> = pending.drain(..pending.len().min(WRITE_BATCH)).collect();
            let output =
                self.client.batch_write_item().request_items(&self.table, batch).send().await.map_err(unavailable)?;
            let unprocessed = output.unprocessed_items.and_then(|mut items| items.remove(&self.table));
            if let Some(unprocessed) = unprocessed.filter(|u| !u.is_empty()) {
                // Throttled: the rest goes again after a pause, as AWS advises.
                pending.extend(unprocessed);
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(Duration::from_secs(2));
            }
        }
        Ok(())
    }

    /// Removes the pointers no write newer than `version` put back. A failure leaves a pointer
    /// that costs a read and changes nothing, so it is logged, not returned.
    async fn remove_pointers(&self, id: WebhookId, partitions: impl IntoIterator<Item = String>, version: u64) {
        let removals: Vec<_> = partitions
            .into_iter()
            .map(|partition| {
                self.client
                    .delete_item()
                    .table_name(&self.table)
                    .set_key(Some(pointer_key(partition, id)))
                    .condition_expression("#version <= :version")
                    .expression_attribute_names("#version", "version")
                    .expression_attribute_values(":version", version_value(version))
                    .send()
            })
            .collect();
        let results: Vec<_> = futures::stream::iter(removals).buffer_unordered(CONCURRENT_WRITES).collect().await;
        for err in results.into_iter().filter_map(Result::err) {
            if !err.as_service_error().is_some_and(|e| e.is_conditional_check_failed_exception()) {
                tracing::warn!(webhook_id = %id, error = %unavailable(err), "a global webhook's pointer was left");
            }
        }
    }

    /// The webhooks at `keys`, read consistently.
    async fn batch_get(&self, keys: Vec<Item>) -> Result<Vec<WebhookRecord>, StoreError> {
        let mut webhooks = Vec::new();
        let mut pending = keys;
        let mut pause = Duration::from_millis(50);
        while !pending.is_empty() {
            let batch: Vec<_> = pending.drain(..pending.len().min(READ_BATCH)).collect();
            let keys = KeysAndAttributes::builder()
                .set_keys(Some(batch))
                .consistent_read(true)
                .build()
                .map_err(StoreError::internal)?;
            let output =
                self.client.batch_get_item().request_items(&self.table, keys).send().await.map_err(unavailable)?;
            for item in output.responses.and_then(|mut r| r.remove(&self.table)).unwrap_or_default() {
                webhooks.push(self.read(item).await?);
            }
            let unprocessed = output.unprocessed_keys.and_then(|mut u| u.remove(&self.table));
            if let Some(unprocessed) = unprocessed.filter(|u| !u.keys.is_empty()) {
                pending.extend(unprocessed.keys);
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(Duration::from_secs(2));
            }
        }
        Ok(webhooks)
    }

    /// One page of the account's global webhooks, read through its pointers. A pointer left
    /// over is skipped, and `next` follows the pointers, so a page short of one is not the end.
    pub(super) async fn account_webhooks(
        &self,
        account: &str,
        page: PageRequest,
    ) -> Result<Page<WebhookRecord>, StoreError> {
        let range = ItemRange::prefixed(account_pointer(account), POINTER_PREFIX);
        let mut start = page.after.map(|after| pointer_key(account_pointer(account), WebhookId(after)));
        let mut ids = Vec::new();
        while ids.len() <= page.limit {
            let (read, next) = self.query(&range, start, page.limit + 1 - ids.len()).await?;
            for item in &read {
                ids.extend(pointed_id(item).transpose()?);
            }
            match next {
                Some(next) => start = Some(next),
                None => break,
            }
        }
        let Page { items: ids, next } = Page::from_overfetch(ids, page.limit, |id: &WebhookId| id.0);
        let keys = ids.into_iter().map(|id| webhook_key(Owner::Global, id)).collect::<Vec<_>>();
        let mut webhooks = if keys.is_empty() { Vec::new() } else { self.batch_get(keys).await? };
        webhooks.retain(|w| w.info.account_identifier.as_deref() == Some(account));
        webhooks.sort_by_key(|w| w.info.id.0);
        Ok(Page { items: webhooks, next })
    }

    /// The global webhooks stored before accounts existed: none has an `accountIdentifier`,
    /// and no caller reaches one until it is given one (`assign_account`).
    pub async fn unowned_global_webhooks(&self) -> Result<Vec<WebhookRecord>, StoreError> {
        let mut unowned = Vec::new();
        for item in self.query_all(ItemRange::prefixed(GLOBAL_PK, "WEBHOOK#")).await? {
            let webhook: WebhookRecord = self.read(item).await?;
            if webhook.info.account_identifier.is_none() {
                unowned.push(webhook);
            }
        }
        Ok(unowned)
    }

    /// Gives `webhook`, as read by `unowned_global_webhooks`, to `account`, and writes the
    /// account's pointer; its version is not moved. False when it was written since (or given
    /// an account): read it again.
    pub async fn assign_account(&self, webhook: &WebhookRecord, account: &str) -> Result<bool, StoreError> {
        self.put_pointers(webhook, [account_pointer(account)]).await?;
        let update = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(webhook_key(Owner::Global, webhook.info.id)))
            .update_expression("SET accountIdentifier = :account")
            .condition_expression("attribute_not_exists(accountIdentifier) AND #version = :version")
            .expression_attribute_names("#version", "version")
            .expression_attribute_values(":account", s(account))
            .expression_attribute_values(":version", version_value(webhook.info.version));
        match update.send().await {
            Ok(_) => Ok(true),
            Err(err) if err.as_service_error().is_some_and(|e| e.is_conditional_check_failed_exception()) => Ok(false),
            Err(err) => Err(unavailable(err)),
        }
    }

    async fn star_webhooks(&self) -> Result<Vec<WebhookRecord>, StoreError> {
        let range = ItemRange::prefixed(EVERY_ENTITY_PK, "WEBHOOK#");
        let mut webhooks = Vec::new();
        for mut item in self.query_all(range).await? {
            item.insert("PK".into(), s(GLOBAL_PK));
            webhooks.push(self.read(item).await?);
        }
        Ok(webhooks)
    }
}

/// The key of a `"*"` webhook's copy, from the webhook's own key.
pub(super) fn star_copy(mut key: Item) -> Item {
    key.insert("PK".into(), s(EVERY_ENTITY_PK));
    key
}

#[async_trait]
impl WebhookSubscribers for DynamoStore {
    async fn subscribers(&self, entity: EntityId) -> Result<Vec<WebhookRecord>, StoreError> {
        let range = ItemRange::prefixed(format!("OWNER#{entity}"), "WEBHOOK");
        let (mut webhooks, mut pointed) = (Vec::new(), Vec::new());
        for item in self.query_all(range).await? {
            match pointed_id(&item) {
                Some(id) => pointed.push(webhook_key(Owner::Global, id?)),
                None => webhooks.push(self.read(item).await?),
            }
        }
        let listing = if pointed.is_empty() { Vec::new() } else { self.batch_get(pointed).await? };
        // A webhook changing from a list to "*" may be found both ways for a moment.
        let mut seen = HashSet::new();
        let global = listing.into_iter().chain(self.star_webhooks().await?).filter(|w| w.covers(entity));
        webhooks.extend(global.filter(|w: &WebhookRecord| seen.insert(w.info.id)));
        Ok(webhooks)
    }

    async fn notice_subscribers(&self, entity: EntityId) -> Result<Vec<WebhookRecord>, StoreError> {
        self.notice_subscribers_of(entity).await
    }
}
