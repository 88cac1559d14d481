//! Rate-limit counters: `RATE#{key}` / `RATE`, holding the GCRA arrival time `tat` (unix µs).
//!
//! An update expression cannot take `max(tat, now)`, so there are two writes, each conditional
//! on its case: *restart* (no time stored, or one already past: `tat = now + cost`) and *add*
//! (a time that leaves room for the requests: `tat = tat + cost`), where `cost` is an interval
//! per request taken. The process remembers the last time it saw for each key and tries the
//! write that time says, so a caller keeping to its rate, and one in a burst, each cost one
//! write; a wrong guess (another instance wrote since) costs a second, informed by the stored
//! time the failed condition returns.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue, ReturnValuesOnConditionCheckFailure};

use super::{DynamoStore, Item, TTL_ATTRIBUTE, s, unavailable};
use crate::rate_limit::{Decision, RatePolicy, decision_after, gcra};
use crate::store::{RateLimitStore, StoreError};

/// Writers racing for one counter retry this often before one gives up.
const MAX_TRIES: usize = 3;
/// Keys remembered before the hints start again empty (a hint only saves a write).
const MAX_HINTS: usize = 10_000;

/// The last arrival time seen per key.
#[derive(Clone, Default)]
pub(super) struct Hints(Arc<Mutex<HashMap<String, i64>>>);

impl Hints {
    fn get(&self, key: &str) -> Option<i64> {
        self.0.lock().ok()?.get(key).copied()
    }

    fn keep(&self, key: &str, tat: i64) {
        if let Ok(mut hints) = self.0.lock() {
            if hints.len() >= MAX_HINTS {
                hints.clear();
            }
            hints.insert(key.to_string(), tat);
        }
    }
}

fn n(value: i64) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

fn tat_of(item: Option<&Item>) -> Option<i64> {
    item?.get("tat")?.as_n().ok()?.parse().ok()
}

/// What a conditional write did: wrote this arrival time, or found its condition false and
/// this one stored (none: no item).
enum Outcome {
    Written(i64),
    Found(Option<i64>),
}

impl DynamoStore {
    async fn write_tat(
        &self,
        key: &str,
        restart: bool,
        policy: &RatePolicy,
        requests: u32,
        now_us: i64,
    ) -> Result<Outcome, StoreError> {
        let (interval, cost) = (policy.interval_us(), policy.interval_us() * i64::from(requests));
        let request = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("PK", s(format!("RATE#{key}")))
            .key("SK", s("RATE"))
            .expression_attribute_names("#ttl", TTL_ATTRIBUTE)
            .expression_attribute_values(":now", n(now_us))
            // The item outlives its arrival time by a minute; DynamoDB's TTL removes idle keys.
            .expression_attribute_values(":expires", n((now_us + policy.tolerance_us() + cost) / 1_000_000 + 60))
            .return_values(ReturnValue::UpdatedNew)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld);
        let request = if restart {
            request
                .update_expression("SET tat = :next, #ttl = :expires")
                .condition_expression("attribute_not_exists(tat) OR tat < :now")
                .expression_attribute_values(":next", n(now_us + cost))
        } else {
            request
                .update_expression("SET tat = tat + :cost, #ttl = :expires")
                .condition_expression("tat BETWEEN :now AND :limit")
                .expression_attribute_values(":cost", n(cost))
                // At or after `:now`: `take_many` writes only requests that `gcra` found within
                // the burst, and a BETWEEN whose bounds cross would be an error, not a refusal.
                .expression_attribute_values(":limit", n(now_us + policy.tolerance_us() - (cost - interval)))
        };
        match request.send().await {
            Ok(output) => {
                tat_of(output.attributes.as_ref()).map(Outcome::Written).ok_or_else(|| StoreError::internal("no tat"))
            }
            Err(err) => match err.as_service_error() {
                Some(UpdateItemError::ConditionalCheckFailedException(failed)) => {
                    Ok(Outcome::Found(tat_of(failed.item())))
                }
                _ => Err(unavailable(err)),
            },
        }
    }
}

#[async_trait]
impl RateLimitStore for DynamoStore {
    async fn take_many(
        &self,
        key: &str,
        policy: &RatePolicy,
        requests: u32,
        now_us: i64,
    ) -> Result<Decision, StoreError> {
        let mut known = self.rate_hints.get(key);
        for _ in 0..MAX_TRIES {
            let within = known.is_some_and(|tat| tat >= now_us);
            let (decision, _) = gcra(known.filter(|_| within), now_us, policy, requests);
            if !decision.allowed {
                // Refused on what was just read (or wider than the burst), and nothing is written.
                return Ok(decision);
            }
            match self.write_tat(key, !within, policy, requests, now_us).await? {
                Outcome::Written(next) => {
                    self.rate_hints.keep(key, next);
                    return Ok(decision_after(next, now_us, policy));
                }
                Outcome::Found(stored) => {
                    if let Some(tat) = stored {
                        self.rate_hints.keep(key, tat);
                    }
                    known = stored;
                }
            }
        }
        Err(StoreError::unavailable(format!("the rate-limit counter {key} is contended")))
    }
}
