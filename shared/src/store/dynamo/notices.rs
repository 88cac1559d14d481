//! The notices index (docs/contract.md 8): a sparse global secondary index of the entity webhooks
//! that list a platform type. Their items carry `noticesOf` (`OWNER#{entityId}`, so IAM's
//! `dynamodb:LeadingKeys` reads it as it reads the table's keys); no other item does, so the
//! index holds only them and a notice reads its few subscribers, never every webhook of the
//! entity (a write of one of 10,000 webhooks would read all 10,000).

use aws_sdk_dynamodb::types::{
    AttributeDefinition, CreateGlobalSecondaryIndexAction, GlobalSecondaryIndex, GlobalSecondaryIndexUpdate,
    IndexStatus, KeySchemaElement, KeyType, Projection, ProjectionType, ScalarAttributeType,
};

use super::{DynamoStore, Item, s, unavailable};
use crate::model::{EntityId, EventList, WebhookRecord};
use crate::store::StoreError;

pub(super) const NOTICES_INDEX: &str = "notices";
const NOTICES_OF: &str = "noticesOf";

/// Marks `item`, the item of `webhook`, for the index when the webhook takes notices.
pub(super) fn mark(item: &mut Item, webhook: &WebhookRecord) {
    if let Some(entity) = webhook.notices_of() {
        item.insert(NOTICES_OF.into(), s(format!("OWNER#{entity}")));
    }
}

fn key(name: &str, key_type: KeyType) -> Result<KeySchemaElement, StoreError> {
    KeySchemaElement::builder().attribute_name(name).key_type(key_type).build().map_err(StoreError::internal)
}

/// The index's key attribute, for a table's definitions.
pub(super) fn attribute() -> Result<AttributeDefinition, StoreError> {
    let attribute = AttributeDefinition::builder().attribute_name(NOTICES_OF).attribute_type(ScalarAttributeType::S);
    attribute.build().map_err(StoreError::internal)
}

/// The index, whole items projected (a notice's fan-out reads them as the table's).
pub(super) fn index() -> Result<GlobalSecondaryIndex, StoreError> {
    GlobalSecondaryIndex::builder()
        .index_name(NOTICES_INDEX)
        .key_schema(key(NOTICES_OF, KeyType::Hash)?)
        .key_schema(key("SK", KeyType::Range)?)
        .projection(Projection::builder().projection_type(ProjectionType::All).build())
        .build()
        .map_err(StoreError::internal)
}

impl DynamoStore {
    /// Adds the index to a table made before it, and waits until it is active (local runner;
    /// a deployed table gets it from the template). Building it backfills every item, which on
    /// a large table or a loaded DynamoDB Local takes minutes: the wait is generous.
    pub(super) async fn ensure_notices_index(&self) -> Result<(), StoreError> {
        const POLLS: u32 = 1_200; // 10 minutes at 500 ms
        for poll in 0..POLLS {
            if poll > 0 && poll % 60 == 0 {
                tracing::info!(table = %self.table, "waiting for the notices index to become active");
            }
            let described = self.client.describe_table().table_name(&self.table).send().await.map_err(unavailable)?;
            let indexes = described.table().map(|t| t.global_secondary_indexes()).unwrap_or_default();
            match indexes.iter().find(|i| i.index_name() == Some(NOTICES_INDEX)) {
                Some(index) if index.index_status() == Some(&IndexStatus::Active) => return Ok(()),
                Some(_) => {}
                None => {
                    let create = CreateGlobalSecondaryIndexAction::builder()
                        .index_name(NOTICES_INDEX)
                        .key_schema(key(NOTICES_OF, KeyType::Hash)?)
                        .key_schema(key("SK", KeyType::Range)?)
                        .projection(Projection::builder().projection_type(ProjectionType::All).build())
                        .build()
                        .map_err(StoreError::internal)?;
                    let update = GlobalSecondaryIndexUpdate::builder().create(create).build();
                    let request =
                        self.client.update_table().table_name(&self.table).attribute_definitions(attribute()?);
                    request.global_secondary_index_updates(update).send().await.map_err(unavailable)?;
                }
            }
            tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        }
        Err(StoreError::unavailable(format!("the notices index of {} did not become active", self.table)))
    }

    /// `webhooks-local index-notices` (README): marks for the index the entity webhooks written
    /// before it that list a platform type (`webhook.disabled` came before the index), each on
    /// condition that it is still the version read (a write meanwhile marked it itself). A Scan
    /// of the whole table: an operator's one-off. Answers how many it marked.
    pub async fn index_notice_subscribers(&self) -> Result<usize, StoreError> {
        let scan = self
            .client
            .scan()
            .table_name(&self.table)
            .filter_expression("begins_with(PK, :owner) AND begins_with(SK, :webhook) AND attribute_not_exists(#of)")
            .expression_attribute_names("#of", NOTICES_OF)
            .expression_attribute_values(":owner", s("OWNER#"))
            .expression_attribute_values(":webhook", s("WEBHOOK#"));
        self.scan_changing(scan, |item| self.mark_if_listing(item)).await
    }

    /// Marks the webhook `item` if its `eventList` lists a platform type and it is unchanged.
    async fn mark_if_listing(&self, item: Item) -> Result<bool, StoreError> {
        let listed: Option<EventList> =
            item.get("eventList").and_then(|l| serde_dynamo::from_attribute_value(l.clone()).ok());
        let (Some(pk), Some(version)) = (item.get("PK"), item.get("version")) else { return Ok(false) };
        if !listed.is_some_and(|list| list.lists_platform_types()) {
            return Ok(false);
        }
        let key: Item = ["PK", "SK"].iter().filter_map(|k| Some(((*k).to_string(), item.get(*k)?.clone()))).collect();
        let update = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key))
            .update_expression("SET #of = :of")
            .condition_expression("#version = :version AND attribute_not_exists(#of)")
            .expression_attribute_names("#of", NOTICES_OF)
            .expression_attribute_names("#version", "version")
            .expression_attribute_values(":of", pk.clone())
            .expression_attribute_values(":version", version.clone());
        match update.send().await {
            Ok(_) => Ok(true),
            Err(err) if err.as_service_error().is_some_and(|e| e.is_conditional_check_failed_exception()) => Ok(false),
            Err(err) => Err(unavailable(err)),
        }
    }

    /// The entity's own webhooks that list a platform type, read from the index (eventually
    /// consistent: a webhook written in the last second may be missed or seen as it was).
    pub(super) async fn notice_subscribers_of(&self, entity: EntityId) -> Result<Vec<WebhookRecord>, StoreError> {
        let (mut webhooks, mut start) = (Vec::new(), None);
        loop {
            let output = self
                .client
                .query()
                .table_name(&self.table)
                .index_name(NOTICES_INDEX)
                .key_condition_expression("#of = :of")
                .expression_attribute_names("#of", NOTICES_OF)
                .expression_attribute_values(":of", s(format!("OWNER#{entity}")))
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(unavailable)?;
            for item in output.items.unwrap_or_default() {
                webhooks.push(self.read(item).await?);
            }
            start = output.last_evaluated_key;
            if start.is_none() {
                return Ok(webhooks);
            }
        }
    }
}
