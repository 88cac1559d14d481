//! Events with their fan-out plans (`OWNER#{entityId}` / `EVENT#{eventId}`): the event id is
//! deduplicated for the first 24 h (`dedupeUntil`), the event and its plan kept 30 days (TTL),
//! for the event view, resend and recover.

use std::collections::HashMap;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValuesOnConditionCheckFailure};

use super::{DynamoStore, Item, RETENTION, TTL_ATTRIBUTE, s, unavailable};
use crate::model::{EntityId, FanOutPlan, Timestamp};
use crate::store::StoreError;
use crate::store::{EventGet, EventInsert};

const DEDUPE_UNTIL: &str = "dedupeUntil";

fn event_key(owner: EntityId, event_id: &str) -> Item {
    HashMap::from([("PK".into(), s(format!("OWNER#{owner}"))), ("SK".into(), s(format!("EVENT#{event_id}")))])
}

fn epoch_seconds(at: i64) -> AttributeValue {
    AttributeValue::N(at.to_string())
}

fn plan_item(owner: EntityId, plan: &FanOutPlan, dedupe_until: i64, expires: i64) -> Result<Item, StoreError> {
    let mut item: Item = serde_dynamo::to_item(plan).map_err(StoreError::internal)?;
    item.extend(event_key(owner, &plan.event_id));
    item.insert(DEDUPE_UNTIL.into(), epoch_seconds(dedupe_until));
    item.insert(TTL_ATTRIBUTE.into(), epoch_seconds(expires));
    Ok(item)
}

#[async_trait]
impl EventInsert for DynamoStore {
    async fn open_fan_out(
        &self,
        owner: EntityId,
        plan: &FanOutPlan,
        now: Timestamp,
        ttl: Duration,
    ) -> Result<(FanOutPlan, bool), StoreError> {
        let now_secs = now.get().timestamp();
        let seconds = |d: Duration| i64::try_from(d.as_secs()).map_err(StoreError::internal);
        let (dedupe_until, expires) =
            (now_secs.saturating_add(seconds(ttl)?), now_secs.saturating_add(seconds(RETENTION)?));
        // Past its dedupe window a plan no longer holds the event id.
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(plan_item(owner, plan, dedupe_until, expires)?))
            .condition_expression("attribute_not_exists(PK) OR #dedupe < :now")
            .expression_attribute_names("#dedupe", DEDUPE_UNTIL)
            .expression_attribute_values(":now", epoch_seconds(now_secs))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        match result {
            Ok(_) => Ok((plan.clone(), true)),
            Err(err) => match err.as_service_error() {
                Some(PutItemError::ConditionalCheckFailedException(failed)) => {
                    let stored =
                        failed.item().cloned().ok_or_else(|| StoreError::internal("no stored plan returned"))?;
                    Ok((serde_dynamo::from_item(stored).map_err(StoreError::internal)?, false))
                }
                _ => Err(unavailable(err)),
            },
        }
    }
}

#[async_trait]
impl EventGet for DynamoStore {
    async fn get_event(&self, owner: EntityId, event_id: &str) -> Result<Option<FanOutPlan>, StoreError> {
        self.get_item(event_key(owner, event_id), true).await
    }
}
