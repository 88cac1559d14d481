//! The DynamoDB store (DESIGN.md section 8): one table, `PK`/`SK` string keys, every write of a
//! webhook conditional on its `version`.

use std::collections::HashMap;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::{DisplayErrorContext, SdkError};
use aws_sdk_dynamodb::operation::{delete_item::DeleteItemError, put_item::PutItemError};
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, KeySchemaElement, KeyType, ReturnValuesOnConditionCheckFailure,
    ScalarAttributeType, TableStatus, TimeToLiveSpecification,
};

use super::{Page, PageRequest, WebhookDelete, WebhookGet, WebhookInsert, WebhookList, WebhookReplace};
use crate::error::Error;
use crate::model::{EntityId, Webhook, WebhookId};

type Item = HashMap<String, AttributeValue>;

const TTL_ATTRIBUTE: &str = "expiresAt";

#[derive(Clone)]
pub struct DynamoStore {
    client: Client,
    table: String,
}

impl DynamoStore {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self { client, table: table.into() }
    }

    /// Creates the table when it is missing and waits until it is active (local runner, tests).
    pub async fn ensure_table(&self) -> Result<(), Error> {
        if self.client.describe_table().table_name(&self.table).send().await.is_ok() {
            return Ok(());
        }
        let key = |name: &str, key_type| {
            KeySchemaElement::builder().attribute_name(name).key_type(key_type).build().map_err(Error::internal)
        };
        let attribute = |name: &str| {
            AttributeDefinition::builder()
                .attribute_name(name)
                .attribute_type(ScalarAttributeType::S)
                .build()
                .map_err(Error::internal)
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
            .map_err(Error::internal)?;
        if let Err(err) =
            self.client.update_time_to_live().table_name(&self.table).time_to_live_specification(ttl).send().await
        {
            tracing::warn!(error = %DisplayErrorContext(&err), "could not enable TTL");
        }
        Ok(())
    }

    async fn wait_until_active(&self) -> Result<(), Error> {
        for _ in 0..60 {
            let described = self.client.describe_table().table_name(&self.table).send().await.map_err(unavailable)?;
            if described.table().and_then(|t| t.table_status()) == Some(&TableStatus::Active) {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        Err(Error::unavailable(format!("table {} did not become active", self.table)))
    }
}

fn unavailable<E, R>(err: SdkError<E, R>) -> Error
where
    E: std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    Error::unavailable(DisplayErrorContext(err).to_string())
}

fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

fn webhook_key(owner: EntityId, id: WebhookId) -> Item {
    HashMap::from([("PK".into(), s(format!("OWNER#{owner}"))), ("SK".into(), s(format!("WEBHOOK#{id}")))])
}

fn to_item(webhook: &Webhook) -> Result<Item, Error> {
    let mut item: Item = serde_dynamo::to_item(webhook).map_err(Error::internal)?;
    item.extend(webhook_key(webhook.info.owner_identifier, webhook.info.id));
    Ok(item)
}

fn from_item(item: Item) -> Result<Webhook, Error> {
    serde_dynamo::from_item(item).map_err(Error::internal)
}

/// The stored version in the item a failed condition returned, or `NotFound` without one.
fn conflict_from(old_item: Option<&Item>) -> Error {
    match old_item.and_then(|item| item.get("version")).and_then(|v| v.as_n().ok()).and_then(|n| n.parse().ok()) {
        Some(current) => Error::VersionConflict { current },
        None => Error::NotFound,
    }
}

fn version_value(version: u64) -> AttributeValue {
    AttributeValue::N(version.to_string())
}

#[async_trait]
impl WebhookGet for DynamoStore {
    async fn get_webhook(&self, owner: EntityId, id: WebhookId) -> Result<Option<Webhook>, Error> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(webhook_key(owner, id)))
            .consistent_read(true)
            .send()
            .await
            .map_err(unavailable)?;
        output.item.map(from_item).transpose()
    }
}

#[async_trait]
impl WebhookList for DynamoStore {
    async fn list_webhooks(&self, owner: EntityId, page: PageRequest) -> Result<Page<Webhook>, Error> {
        let limit = i32::try_from(page.limit + 1).map_err(Error::internal)?;
        let output = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("PK = :pk AND begins_with(SK, :prefix)")
            .expression_attribute_values(":pk", s(format!("OWNER#{owner}")))
            .expression_attribute_values(":prefix", s("WEBHOOK#"))
            .set_exclusive_start_key(page.after.map(|after| webhook_key(owner, WebhookId(after))))
            .limit(limit)
            .consistent_read(true)
            .send()
            .await
            .map_err(unavailable)?;
        let items = output.items.unwrap_or_default().into_iter().map(from_item).collect::<Result<Vec<_>, _>>()?;
        Ok(Page::from_overfetch(items, page.limit, |w| w.info.id.0))
    }
}

#[async_trait]
impl WebhookInsert for DynamoStore {
    async fn insert_webhook(&self, webhook: &Webhook) -> Result<(), Error> {
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
    async fn replace_webhook(&self, webhook: &Webhook, expected: u64) -> Result<(), Error> {
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
    async fn delete_webhook(&self, owner: EntityId, id: WebhookId, expected: Option<u64>) -> Result<(), Error> {
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
