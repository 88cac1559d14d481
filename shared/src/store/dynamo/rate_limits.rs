//! Rate-limit counters: `RATE#{key}` / `RATE`, holding the GCRA arrival time `tat` (unix ms).
//! One conditional `UpdateItem` per request; a second only when the stored time has passed.

use std::collections::HashMap;

use async_trait::async_trait;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue, ReturnValuesOnConditionCheckFailure};

use super::{DynamoStore, Item, TTL_ATTRIBUTE, s, unavailable};
use crate::rate_limit::{Decision, RatePolicy, decision_after, gcra};
use crate::store::{RateLimitStore, StoreError};

/// Writers racing for a counter whose time has passed retry this often before one gives up.
const MAX_TRIES: usize = 3;

fn n(value: i64) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

fn tat_of(item: Option<&Item>) -> Option<i64> {
    item?.get("tat")?.as_n().ok()?.parse().ok()
}

#[async_trait]
impl RateLimitStore for DynamoStore {
    async fn take(&self, key: &str, policy: &RatePolicy, now_ms: i64) -> Result<Decision, StoreError> {
        let item_key: Item = HashMap::from([("PK".into(), s(format!("RATE#{key}"))), ("SK".into(), s("RATE"))]);
        // The item outlives the arrival time by a minute; DynamoDB's TTL removes idle keys.
        let expires = |tat: i64| n(tat / 1000 + 60);
        for _ in 0..MAX_TRIES {
            // The usual case, in one write: no counter yet, or one within the tolerance.
            let limit = now_ms + policy.tolerance_ms();
            let added = self
                .client
                .update_item()
                .table_name(&self.table)
                .set_key(Some(item_key.clone()))
                .update_expression("SET tat = if_not_exists(tat, :now) + :interval, #ttl = :expires")
                .condition_expression("attribute_not_exists(tat) OR tat BETWEEN :now AND :limit")
                .expression_attribute_names("#ttl", TTL_ATTRIBUTE)
                .expression_attribute_values(":now", n(now_ms))
                .expression_attribute_values(":interval", n(policy.interval_ms()))
                .expression_attribute_values(":limit", n(limit))
                .expression_attribute_values(":expires", expires(limit + policy.interval_ms()))
                .return_values(ReturnValue::UpdatedNew)
                .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
                .send()
                .await;
            let stored = match added {
                Ok(output) => {
                    let next = tat_of(output.attributes.as_ref()).ok_or_else(|| StoreError::internal("no tat"))?;
                    return Ok(decision_after(next, now_ms, policy));
                }
                Err(err) => match err.as_service_error() {
                    Some(UpdateItemError::ConditionalCheckFailedException(failed)) => tat_of(failed.item()),
                    _ => return Err(unavailable(err)),
                },
            };
            let Some(stored) = stored else { continue };
            if stored >= now_ms {
                // Beyond the tolerance: refused, and nothing was written.
                return Ok(gcra(Some(stored), now_ms, policy).0);
            }
            // The stored time has passed: start again from now, if no one else did first.
            let next = now_ms + policy.interval_ms();
            let restarted = self
                .client
                .update_item()
                .table_name(&self.table)
                .set_key(Some(item_key.clone()))
                .update_expression("SET tat = :next, #ttl = :expires")
                .condition_expression("tat = :stored")
                .expression_attribute_names("#ttl", TTL_ATTRIBUTE)
                .expression_attribute_values(":next", n(next))
                .expression_attribute_values(":stored", n(stored))
                .expression_attribute_values(":expires", expires(next))
                .send()
                .await;
            match restarted {
                Ok(_) => return Ok(decision_after(next, now_ms, policy)),
                Err(err)
                    if err.as_service_error().is_some_and(UpdateItemError::is_conditional_check_failed_exception) => {}
                Err(err) => return Err(unavailable(err)),
            }
        }
        Err(StoreError::unavailable(format!("the rate-limit counter {key} is contended")))
    }
}
