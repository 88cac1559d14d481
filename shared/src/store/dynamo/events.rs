//! Events with their fan-out plans, kept 30 days (TTL) for the event view, resend and recover.
//!
//! - `OWNER#{entityId}` / `EVENT#{eventId}`: the event's current plan: the event (its `data` as
//!   a JSON string, which no nesting limit of DynamoDB's maps constrains), the plan's id, and
//!   its targets when they are few (`INLINE_TARGETS`), else how many pages hold them. Written
//!   once, on condition that the id is new; the id is deduplicated for its first 24 h
//!   (`dedupeUntil`).
//! - `OWNER#{entityId}` / `PLANPAGE#{planId}#{page:04}`: a wide plan's targets, `FAN_OUT_PAGE` an
//!   item (about 120 KB; DynamoDB takes 400 KB), written before the plan that names them.
//! - `OWNER#{entityId}` / `PLAN#{planId}`: a plan its event id's later publish replaced (after the
//!   dedupe window), kept apart, in the same transaction, for the deliveries it planned.

use std::collections::HashMap;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::types::{AttributeValue, Put, ReturnValuesOnConditionCheckFailure, TransactWriteItem};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

use super::{DynamoStore, Item, ItemRange, RETENTION, TTL_ATTRIBUTE, s, unavailable};
use crate::model::{EntityId, Event, EventData, FanOutPlan, FanOutTarget, Timestamp};
use crate::store::{EventGet, EventInsert, FAN_OUT_PAGE, StoreError, page_of};

const DEDUPE_UNTIL: &str = "dedupeUntil";
/// Targets a plan's own item holds; a plan with more keeps them all in pages.
const INLINE_TARGETS: usize = 100;

/// A plan as its item holds it.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct StoredPlan {
    #[serde(default, rename = "planId", skip_serializing_if = "Option::is_none")]
    plan: Option<Uuid>,
    event_id: String,
    event_type: String,
    occurred_at: Timestamp,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    data_json: Option<String>,
    /// The data as a map, in plans stored before `dataJson`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    data: Option<Value>,
    #[serde(default)]
    targets: Vec<FanOutTarget>,
    #[serde(default)]
    pages: u32,
}

impl StoredPlan {
    /// Its event, the data taken out of it rather than copied.
    fn take_event(&mut self) -> Result<Event, StoreError> {
        let data = match (self.data_json.take(), self.data.take()) {
            (Some(json), _) => EventData::from_json(json).map_err(StoreError::internal)?,
            (None, Some(data)) => EventData::of(&data).map_err(StoreError::internal)?,
            (None, None) => EventData::default(),
        };
        Ok(Event {
            id: self.event_id.clone(),
            event_type: self.event_type.clone(),
            occurred_at: self.occurred_at,
            data,
        })
    }
}

#[derive(Debug, Serialize, Deserialize)]
struct StoredPage {
    targets: Vec<FanOutTarget>,
}

fn key(owner: EntityId, sort_key: String) -> Item {
    HashMap::from([("PK".into(), s(format!("OWNER#{owner}"))), ("SK".into(), s(sort_key))])
}

fn event_key(owner: EntityId, event_id: &str) -> Item {
    key(owner, format!("EVENT#{event_id}"))
}

fn archived_key(owner: EntityId, plan: Uuid) -> Item {
    key(owner, format!("PLAN#{plan}"))
}

fn pages_prefix(plan: Uuid) -> String {
    format!("PLANPAGE#{plan}#")
}

fn page_key(owner: EntityId, plan: Uuid, page: u32) -> Item {
    key(owner, format!("{}{page:04}", pages_prefix(plan)))
}

fn number(n: i64) -> AttributeValue {
    AttributeValue::N(n.to_string())
}

fn with_ttl(mut item: Item, expires: i64) -> Item {
    item.insert(TTL_ATTRIBUTE.into(), number(expires));
    item
}

impl DynamoStore {
    /// Writes the plan's pages when it has more targets than its own item holds; answers the
    /// item of the plan itself.
    async fn plan_items(&self, owner: EntityId, plan: &FanOutPlan, expires: i64) -> Result<Item, StoreError> {
        let plan_id = plan.plan.ok_or_else(|| StoreError::internal("a new plan has no id"))?;
        let paged = plan.targets.len() > INLINE_TARGETS;
        let mut pages = 0;
        if paged {
            for (n, targets) in plan.targets.chunks(FAN_OUT_PAGE).enumerate() {
                pages = u32::try_from(n + 1).map_err(StoreError::internal)?;
                let mut item: Item =
                    serde_dynamo::to_item(StoredPage { targets: targets.to_vec() }).map_err(StoreError::internal)?;
                item.extend(page_key(owner, plan_id, pages - 1));
                let put = self.client.put_item().table_name(&self.table).set_item(Some(with_ttl(item, expires)));
                put.send().await.map_err(unavailable)?;
            }
        }
        let stored = StoredPlan {
            plan: plan.plan,
            event_id: plan.event_id.clone(),
            event_type: plan.event_type.clone(),
            occurred_at: plan.occurred_at,
            data_json: Some(plan.data.json().to_string()),
            data: None,
            targets: if paged { Vec::new() } else { plan.targets.clone() },
            pages,
        };
        let mut item: Item = serde_dynamo::to_item(stored).map_err(StoreError::internal)?;
        item.extend(event_key(owner, &plan.event_id));
        Ok(with_ttl(item, expires))
    }

    /// The plan `stored` holds, its pages read when it has any.
    async fn whole(&self, owner: EntityId, mut stored: StoredPlan) -> Result<FanOutPlan, StoreError> {
        let event = stored.take_event()?;
        let mut targets = stored.targets;
        if let (Some(plan), true) = (stored.plan, stored.pages > 0) {
            for item in self.query_all(ItemRange::prefixed(format!("OWNER#{owner}"), pages_prefix(plan))).await? {
                let page: StoredPage = serde_dynamo::from_item(item).map_err(StoreError::internal)?;
                targets.extend(page.targets);
            }
        }
        let Event { id, event_type, occurred_at, data } = event;
        Ok(FanOutPlan { plan: stored.plan, event_id: id, event_type, occurred_at, data, targets })
    }

    /// The item of plan `plan` of the event: its current one, or the one kept apart.
    async fn stored_plan(
        &self,
        owner: EntityId,
        event_id: &str,
        plan: Option<Uuid>,
    ) -> Result<Option<StoredPlan>, StoreError> {
        let current: Option<StoredPlan> = self.get_item(event_key(owner, event_id), true).await?;
        match (plan, current) {
            (Some(id), current) if current.as_ref().is_none_or(|c| c.plan != Some(id)) => {
                self.get_item(archived_key(owner, id), true).await
            }
            (_, current) => Ok(current),
        }
    }

    /// The plan stored under `event_id` while the id is deduplicated, if any.
    async fn deduplicated(
        &self,
        owner: EntityId,
        event_id: &str,
        now_secs: i64,
    ) -> Result<Option<StoredPlan>, StoreError> {
        let read = self.client.get_item().table_name(&self.table).set_key(Some(event_key(owner, event_id)));
        let item = read.consistent_read(true).send().await.map_err(unavailable)?.item;
        match item {
            Some(old) if still_deduplicated(&old, now_secs) => {
                Ok(Some(serde_dynamo::from_item(old).map_err(StoreError::internal)?))
            }
            _ => Ok(None),
        }
    }

    /// Replaces `old`, past its dedupe window, with `item`, keeping `old` apart under its plan
    /// id in the same transaction (one without an id, stored before plans had one, is
    /// replaced). `false` when another publish replaced it first.
    async fn replace_plan(&self, owner: EntityId, old: Item, item: Item) -> Result<bool, StoreError> {
        let old_plan = old.get("planId").cloned();
        let put = |item: Item| Put::builder().table_name(&self.table).set_item(Some(item));
        let mut writes = Vec::new();
        let replace = match &old_plan {
            Some(AttributeValue::S(id)) => {
                let id = Uuid::parse_str(id).map_err(StoreError::internal)?;
                let mut archived = old.clone();
                archived.remove(DEDUPE_UNTIL);
                archived.extend(archived_key(owner, id));
                writes.push(
                    TransactWriteItem::builder().put(put(archived).build().map_err(StoreError::internal)?).build(),
                );
                put(item).condition_expression("planId = :old").expression_attribute_values(":old", s(id.to_string()))
            }
            _ => put(item).condition_expression("attribute_not_exists(planId)"),
        };
        writes.push(TransactWriteItem::builder().put(replace.build().map_err(StoreError::internal)?).build());
        self.transact_if(writes).await
    }
}

/// Whether the event item `old` still deduplicates its id at `now_secs`.
fn still_deduplicated(old: &Item, now_secs: i64) -> bool {
    let until = old.get(DEDUPE_UNTIL).and_then(|v| v.as_n().ok()).and_then(|n| n.parse::<i64>().ok());
    until.is_none_or(|until| until >= now_secs)
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
        if plan.targets.len() > INLINE_TARGETS
            && let Some(stored) = self.deduplicated(owner, &plan.event_id, now_secs).await?
        {
            // A repeat of a wide plan's publish writes none of its pages.
            return Ok((self.whole(owner, stored).await?, false));
        }
        let mut item = self.plan_items(owner, plan, expires).await?;
        item.insert(DEDUPE_UNTIL.into(), number(dedupe_until));
        for _ in 0..3 {
            let result = self
                .client
                .put_item()
                .table_name(&self.table)
                .set_item(Some(item.clone()))
                .condition_expression("attribute_not_exists(PK)")
                .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
                .send()
                .await;
            let old = match result {
                Ok(_) => return Ok((plan.clone(), true)),
                Err(err) => match err.as_service_error() {
                    Some(PutItemError::ConditionalCheckFailedException(failed)) => {
                        failed.item().cloned().ok_or_else(|| StoreError::internal("no stored plan returned"))?
                    }
                    _ => return Err(unavailable(err)),
                },
            };
            if still_deduplicated(&old, now_secs) {
                let stored: StoredPlan = serde_dynamo::from_item(old).map_err(StoreError::internal)?;
                return Ok((self.whole(owner, stored).await?, false));
            }
            if self.replace_plan(owner, old, item.clone()).await? {
                return Ok((plan.clone(), true));
            }
        }
        Err(StoreError::unavailable("the event id was published again by others meanwhile"))
    }
}

#[async_trait]
impl EventGet for DynamoStore {
    async fn get_plan(
        &self,
        owner: EntityId,
        event_id: &str,
        plan: Option<Uuid>,
    ) -> Result<Option<FanOutPlan>, StoreError> {
        match self.stored_plan(owner, event_id, plan).await? {
            Some(stored) => Ok(Some(self.whole(owner, stored).await?)),
            None => Ok(None),
        }
    }

    async fn published_event(
        &self,
        owner: EntityId,
        event_id: &str,
        plan: Option<Uuid>,
    ) -> Result<Option<Event>, StoreError> {
        self.stored_plan(owner, event_id, plan).await?.map(|mut stored| stored.take_event()).transpose()
    }

    async fn plan_page(
        &self,
        owner: EntityId,
        event_id: &str,
        plan: Uuid,
        page: u32,
    ) -> Result<Option<(Event, Vec<FanOutTarget>)>, StoreError> {
        let Some(mut stored) = self.stored_plan(owner, event_id, Some(plan)).await? else { return Ok(None) };
        let event = stored.take_event()?;
        if stored.pages == 0 {
            return Ok(Some((event, page_of(&stored.targets, page))));
        }
        let read: Option<StoredPage> = self.get_item(page_key(owner, plan, page), true).await?;
        Ok(Some((event, read.map(|p| p.targets).unwrap_or_default())))
    }
}
