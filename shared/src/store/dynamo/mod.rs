//! The DynamoDB store (docs/contract.md section 8): one table, `PK`/`SK` string keys, every write of a
//! webhook conditional on its `version`.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::{DisplayErrorContext, SdkError};
use aws_sdk_dynamodb::operation::scan::builders::ScanFluentBuilder;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType, TableStatus,
    TimeToLiveSpecification,
};

use crate::sealing::Sealer;
use crate::store::{Page, PageRequest};
use crate::store::{RETENTION, StoreError};

mod access_tokens;
mod deliveries;
mod event_types;
mod events;
mod fifo;
mod globals;
mod notices;
mod portal_key;
mod rate_limits;
mod refusals;
mod reseal;
mod sealed;
mod stats;
mod webhooks;

type Item = HashMap<String, AttributeValue>;

const TTL_ATTRIBUTE: &str = "expiresAt";

/// The items a `query_page` reads: partition `pk`, sort keys starting with `prefix` (or, with
/// `until`, from `prefix` to `until`), in key order or (`newest_first`) the reverse, and only
/// those whose attribute `filter.0` equals `filter.1` when given.
struct ItemRange<'a> {
    pk: String,
    prefix: String,
    until: Option<String>,
    newest_first: bool,
    filter: Option<(&'a str, AttributeValue)>,
}

impl ItemRange<'_> {
    /// The items of partition `pk` whose sort keys start with `prefix`, in key order.
    fn prefixed(pk: impl Into<String>, prefix: impl Into<String>) -> Self {
        Self { pk: pk.into(), prefix: prefix.into(), until: None, newest_first: false, filter: None }
    }
}

/// The DynamoDB store; its operations are in its modules, one per kind of item.
#[derive(Clone)]
pub struct DynamoStore {
    client: Client,
    table: String,
    /// The rate-limit arrival times this process last saw (`rate_limits`).
    rate_hints: rate_limits::Hints,
    /// Seals the secrets items hold (`sealed`).
    sealer: Arc<Sealer>,
}

impl DynamoStore {
    pub fn new(client: Client, table: impl Into<String>, sealer: Arc<Sealer>) -> Self {
        Self { client, table: table.into(), rate_hints: rate_limits::Hints::default(), sealer }
    }

    /// Creates the table when it is missing and waits until it is active (local runner, tests).
    pub async fn ensure_table(&self) -> Result<(), StoreError> {
        if self.client.describe_table().table_name(&self.table).send().await.is_ok() {
            return self.ensure_notices_index().await;
        }
        let key = |name: &str, key_type| {
            KeySchemaElement::builder().attribute_name(name).key_type(key_type).build().map_err(StoreError::internal)
        };
        let attribute = |name: &str| {
            AttributeDefinition::builder()
                .attribute_name(name)
                .attribute_type(ScalarAttributeType::S)
                .build()
                .map_err(StoreError::internal)
        };
        let created = self
            .client
            .create_table()
            .table_name(&self.table)
            .billing_mode(BillingMode::PayPerRequest)
            .key_schema(key("PK", KeyType::Hash)?)
            .key_schema(key("SK", KeyType::Range)?)
            .attribute_definitions(attribute("PK")?)
            .attribute_definitions(attribute("SK")?)
            .attribute_definitions(notices::attribute()?)
            .global_secondary_indexes(notices::index()?)
            .send()
            .await;
        // Another process may have created it between our describe and create.
        if let Err(err) = created {
            if !err.as_service_error().is_some_and(|e| e.is_resource_in_use_exception()) {
                return Err(unavailable(err));
            }
        }
        self.wait_until_active().await?;
        let ttl = TimeToLiveSpecification::builder()
            .attribute_name(TTL_ATTRIBUTE)
            .enabled(true)
            .build()
            .map_err(StoreError::internal)?;
        if let Err(err) =
            self.client.update_time_to_live().table_name(&self.table).time_to_live_specification(ttl).send().await
        {
            tracing::warn!(error = %DisplayErrorContext(&err), "could not enable TTL");
        }
        Ok(())
    }

    async fn wait_until_active(&self) -> Result<(), StoreError> {
        for _ in 0..60 {
            let described = self.client.describe_table().table_name(&self.table).send().await.map_err(unavailable)?;
            if described.table().and_then(|t| t.table_status()) == Some(&TableStatus::Active) {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        Err(StoreError::unavailable(format!("table {} did not become active", self.table)))
    }
}

impl DynamoStore {
    /// Hands every item `scan` finds (consistent reads, a page at a time) to `change`, which
    /// answers whether it changed it; answers how many it changed. An operator's one-off pass
    /// over the whole table (`webhooks-local seal-secrets`, `index-notices`).
    async fn scan_changing<F, Fut>(&self, scan: ScanFluentBuilder, change: F) -> Result<usize, StoreError>
    where
        F: Fn(Item) -> Fut,
        Fut: std::future::Future<Output = Result<bool, StoreError>>,
    {
        let (mut changed, mut start) = (0, None);
        loop {
            let page = scan.clone().set_exclusive_start_key(start).consistent_read(true).send().await;
            let page = page.map_err(unavailable)?;
            for item in page.items.unwrap_or_default() {
                changed += usize::from(change(item).await?);
            }
            start = page.last_evaluated_key;
            if start.is_none() {
                return Ok(changed);
            }
        }
    }

    /// The item at `key`, or `None`.
    async fn get_item<T: serde::de::DeserializeOwned>(
        &self,
        key: Item,
        consistent: bool,
    ) -> Result<Option<T>, StoreError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key))
            .consistent_read(consistent)
            .send()
            .await
            .map_err(unavailable)?;
        match output.item {
            Some(item) => Ok(Some(self.read(item).await?)),
            None => Ok(None),
        }
    }

    /// One page of the items in `range`; `start` is the key to continue after. DynamoDB
    /// filters after it reads a page, so a filtered page may take several queries.
    async fn query_page<T: serde::de::DeserializeOwned>(
        &self,
        range: ItemRange<'_>,
        mut start: Option<Item>,
        page: PageRequest,
        id_of: impl Fn(&T) -> uuid::Uuid,
    ) -> Result<Page<T>, StoreError> {
        let mut items = Vec::new();
        loop {
            let (read, next) = self.query(&range, start, page.limit + 1).await?;
            for item in read {
                items.push(self.read(item).await?);
            }
            start = next;
            if items.len() > page.limit || start.is_none() {
                break;
            }
        }
        items.truncate(page.limit + 1);
        Ok(Page::from_overfetch(items, page.limit, id_of))
    }

    /// Every item of `range`, read a page at a time.
    async fn query_all(&self, range: ItemRange<'_>) -> Result<Vec<Item>, StoreError> {
        let (mut items, mut start) = (Vec::new(), None);
        loop {
            let (read, next) = self.query(&range, start, 100).await?;
            items.extend(read);
            match next {
                Some(next) => start = Some(next),
                None => return Ok(items),
            }
        }
    }

    /// One query of up to `limit` items of `range` after `start`, read consistently, and the
    /// key to continue after when there may be more.
    async fn query(
        &self,
        range: &ItemRange<'_>,
        start: Option<Item>,
        limit: usize,
    ) -> Result<(Vec<Item>, Option<Item>), StoreError> {
        let condition = match &range.until {
            Some(_) => "PK = :pk AND SK BETWEEN :prefix AND :until",
            None => "PK = :pk AND begins_with(SK, :prefix)",
        };
        let mut query = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression(condition)
            .expression_attribute_values(":pk", s(range.pk.clone()))
            .expression_attribute_values(":prefix", s(range.prefix.clone()))
            .set_exclusive_start_key(start)
            .scan_index_forward(!range.newest_first)
            .limit(i32::try_from(limit).map_err(StoreError::internal)?)
            .consistent_read(true);
        if let Some(until) = &range.until {
            query = query.expression_attribute_values(":until", s(until.clone()));
        }
        if let Some((name, value)) = &range.filter {
            query = query
                .filter_expression("#filtered = :filtered")
                .expression_attribute_names("#filtered", *name)
                .expression_attribute_values(":filtered", value.clone());
        }
        let output = query.send().await.map_err(unavailable)?;
        Ok((output.items.unwrap_or_default(), output.last_evaluated_key))
    }
}

impl DynamoStore {
    /// Runs the transaction; `false` when one of its conditions cancelled it. Cancelled for
    /// anything else (a conflict with another transaction, throttling), it is unavailable: its
    /// conditions may hold, and a caller must not take it for their answer.
    async fn transact_if(&self, writes: Vec<aws_sdk_dynamodb::types::TransactWriteItem>) -> Result<bool, StoreError> {
        match self.client.transact_write_items().set_transact_items(Some(writes)).send().await {
            Ok(_) => Ok(true),
            Err(err) if condition_failed(&err) => Ok(false),
            Err(err) => Err(unavailable(err)),
        }
    }
}

/// Whether a transaction was cancelled because one of its conditions failed.
fn condition_failed<R>(err: &SdkError<TransactWriteItemsError, R>) -> bool {
    match err.as_service_error() {
        Some(TransactWriteItemsError::TransactionCanceledException(cancelled)) => {
            cancelled.cancellation_reasons().iter().any(|reason| reason.code() == Some("ConditionalCheckFailed"))
        }
        _ => false,
    }
}

fn unavailable<E, R>(err: SdkError<E, R>) -> StoreError
where
    E: std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    StoreError::unavailable(DisplayErrorContext(err).to_string())
}

fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

#[cfg(test)]
mod tests {
    use aws_sdk_dynamodb::types::CancellationReason;
    use aws_sdk_dynamodb::types::error::TransactionCanceledException;

    use super::*;

    fn cancelled(codes: &[&str]) -> SdkError<TransactWriteItemsError, ()> {
        let reasons = codes.iter().map(|code| CancellationReason::builder().code(*code).build()).collect();
        let cancelled = TransactionCanceledException::builder().set_cancellation_reasons(Some(reasons)).build();
        SdkError::service_error(TransactWriteItemsError::TransactionCanceledException(cancelled), ())
    }

    #[test]
    fn only_a_failed_condition_answers_a_transaction_no() {
        assert!(condition_failed(&cancelled(&["None", "ConditionalCheckFailed"])));
        assert!(!condition_failed(&cancelled(&["TransactionConflict", "None"])), "another transaction: unavailable");
        assert!(!condition_failed(&cancelled(&["ThrottlingError"])), "throttled: unavailable");
    }
}
