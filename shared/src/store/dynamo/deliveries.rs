//! Delivery items (`WEBHOOK#{webhookId}` / `DELIVERY#{deliveryId}`) and events with their
//! fan-out plans (`OWNER#{entityId}` / `EVENT#{eventId}`; the event id is deduplicated for the
//! first 24 h, `dedupeUntil`), both kept 30 days (TTL).

use std::collections::HashMap;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{
    AttributeValue, KeysAndAttributes, PutRequest, ReturnValuesOnConditionCheckFailure, WriteRequest,
};
use futures::{StreamExt, TryStreamExt};
use uuid::Uuid;

use super::{DynamoStore, Item, ItemRange, TTL_ATTRIBUTE, s, unavailable};
use crate::error::Error;
use crate::model::{Delivery, DeliveryStatus, DeliveryUpdate, EntityId, FanOutPlan, Timestamp, WebhookId};
use crate::store::{
    DeliveryGet, DeliveryInsert, DeliveryList, DeliveryRecord, EventGet, EventOutbox, Page, PageRequest, Recorded,
};

/// How long delivery records and events are kept.
const RETENTION: Duration = Duration::from_secs(30 * 86_400);
const DEDUPE_UNTIL: &str = "dedupeUntil";
/// BatchGetItem's limit.
const GET_BATCH_SIZE: usize = 100;
/// BatchWriteItem's limit.
const BATCH_SIZE: usize = 25;
const BATCH_RETRIES: u32 = 8;
/// Conditional puts in flight at once when a resumed publish writes what is missing.
const CONCURRENT_PUTS: usize = 10;

fn delivery_key(webhook: WebhookId, delivery: Uuid) -> Item {
    HashMap::from([("PK".into(), s(format!("WEBHOOK#{webhook}"))), ("SK".into(), s(format!("DELIVERY#{delivery}")))])
}

fn event_key(owner: EntityId, event_id: &str) -> Item {
    HashMap::from([("PK".into(), s(format!("OWNER#{owner}"))), ("SK".into(), s(format!("EVENT#{event_id}")))])
}

fn epoch_seconds(at: i64) -> AttributeValue {
    AttributeValue::N(at.to_string())
}

fn value(of: &impl serde::Serialize) -> Result<AttributeValue, Error> {
    serde_dynamo::to_attribute_value(of).map_err(Error::internal)
}

fn delivery_item(delivery: &Delivery) -> Result<Item, Error> {
    let mut item: Item = serde_dynamo::to_item(delivery).map_err(Error::internal)?;
    item.extend(delivery_key(delivery.webhook_id, delivery.delivery_id));
    // A UUIDv7 carries its creation time: the record lives 30 days from then.
    let created = delivery.delivery_id.get_timestamp().map_or(0, |t| t.to_unix().0);
    let expires = created.saturating_add(RETENTION.as_secs());
    item.insert(TTL_ATTRIBUTE.into(), AttributeValue::N(expires.to_string()));
    Ok(item)
}

const PENDING: &str = "pending";

fn plan_item(owner: EntityId, plan: &FanOutPlan, dedupe_until: i64, expires: i64) -> Result<Item, Error> {
    let mut item: Item = serde_dynamo::to_item(plan).map_err(Error::internal)?;
    // A string set, so that enqueued ids can be taken out with DELETE; an empty set cannot exist.
    item.remove(PENDING);
    if !plan.pending.is_empty() {
        item.insert(PENDING.into(), AttributeValue::Ss(plan.pending.iter().map(Uuid::to_string).collect()));
    }
    item.extend(event_key(owner, &plan.event_id));
    item.insert(DEDUPE_UNTIL.into(), epoch_seconds(dedupe_until));
    item.insert(TTL_ATTRIBUTE.into(), epoch_seconds(expires));
    Ok(item)
}

#[async_trait]
impl EventOutbox for DynamoStore {
    async fn open_fan_out(
        &self,
        owner: EntityId,
        plan: &FanOutPlan,
        now: Timestamp,
        ttl: Duration,
    ) -> Result<(FanOutPlan, bool), Error> {
        let now_secs = now.get().timestamp();
        let seconds = |d: Duration| i64::try_from(d.as_secs()).map_err(Error::internal);
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
                    let stored = failed.item().cloned().ok_or_else(|| Error::internal("no stored plan returned"))?;
                    Ok((serde_dynamo::from_item(stored).map_err(Error::internal)?, false))
                }
                _ => Err(unavailable(err)),
            },
        }
    }

    async fn mark_enqueued(&self, owner: EntityId, event_id: &str, deliveries: &[Uuid]) -> Result<(), Error> {
        if deliveries.is_empty() {
            return Ok(());
        }
        self.client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(event_key(owner, event_id)))
            .update_expression("DELETE #pending :sent")
            .expression_attribute_names("#pending", PENDING)
            .expression_attribute_values(":sent", AttributeValue::Ss(deliveries.iter().map(Uuid::to_string).collect()))
            .send()
            .await
            .map_err(unavailable)?;
        Ok(())
    }
}

#[async_trait]
impl DeliveryInsert for DynamoStore {
    async fn insert_deliveries(&self, deliveries: &[Delivery]) -> Result<(), Error> {
        for chunk in deliveries.chunks(BATCH_SIZE) {
            let mut requests = chunk
                .iter()
                .map(|d| {
                    let put =
                        PutRequest::builder().set_item(Some(delivery_item(d)?)).build().map_err(Error::internal)?;
                    Ok(WriteRequest::builder().put_request(put).build())
                })
                .collect::<Result<Vec<_>, Error>>()?;
            // DynamoDB may hand back part of a batch when throttled: write it again, backing off.
            for retry in 0..=BATCH_RETRIES {
                let output = self
                    .client
                    .batch_write_item()
                    .request_items(&self.table, requests)
                    .send()
                    .await
                    .map_err(unavailable)?;
                requests = output.unprocessed_items.and_then(|mut left| left.remove(&self.table)).unwrap_or_default();
                if requests.is_empty() {
                    break;
                }
                if retry == BATCH_RETRIES {
                    return Err(Error::unavailable("DynamoDB left delivery writes unprocessed"));
                }
                tokio::time::sleep(Duration::from_millis(50 << retry)).await;
            }
        }
        Ok(())
    }

    async fn insert_missing_deliveries(&self, deliveries: &[Delivery]) -> Result<(), Error> {
        // BatchWriteItem takes no condition: one conditional put each, a few at a time.
        let puts: Vec<_> = deliveries.iter().map(|delivery| self.put_if_missing(delivery)).collect();
        futures::stream::iter(puts).buffer_unordered(CONCURRENT_PUTS).try_collect::<Vec<()>>().await?;
        Ok(())
    }
}

impl DynamoStore {
    async fn put_if_missing(&self, delivery: &Delivery) -> Result<(), Error> {
        let put = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(delivery_item(delivery)?))
            .condition_expression("attribute_not_exists(PK)");
        match put.send().await {
            Err(err) if err.as_service_error().is_some_and(PutItemError::is_conditional_check_failed_exception) => {
                Ok(())
            }
            result => result.map(drop).map_err(unavailable),
        }
    }
}

#[async_trait]
impl EventGet for DynamoStore {
    async fn get_event(&self, owner: EntityId, event_id: &str) -> Result<Option<FanOutPlan>, Error> {
        self.get_item(event_key(owner, event_id)).await
    }
}

#[async_trait]
impl DeliveryGet for DynamoStore {
    async fn get_delivery(&self, webhook: WebhookId, delivery: Uuid) -> Result<Option<Delivery>, Error> {
        // Consistent: the attempts read decide the next attempt's number.
        self.get_item(delivery_key(webhook, delivery)).await
    }

    async fn get_deliveries(&self, keys: &[(WebhookId, Uuid)]) -> Result<Vec<Delivery>, Error> {
        let mut found = Vec::new();
        for chunk in keys.chunks(GET_BATCH_SIZE) {
            let keys = chunk.iter().map(|(webhook, delivery)| delivery_key(*webhook, *delivery)).collect();
            let mut request = Some(KeysAndAttributes::builder().set_keys(Some(keys)).build().map_err(Error::internal)?);
            // DynamoDB may leave part of a batch unread when throttled: read it again, backing off.
            for retry in 0..=BATCH_RETRIES {
                let Some(unread) = request.take() else { break };
                if retry > 0 {
                    tokio::time::sleep(Duration::from_millis(50 << retry)).await;
                }
                let output = self
                    .client
                    .batch_get_item()
                    .request_items(&self.table, unread)
                    .send()
                    .await
                    .map_err(unavailable)?;
                for item in output.responses.and_then(|mut r| r.remove(&self.table)).unwrap_or_default() {
                    found.push(serde_dynamo::from_item(item).map_err(Error::internal)?);
                }
                request = output.unprocessed_keys.and_then(|mut left| left.remove(&self.table));
            }
            if request.is_some() {
                return Err(Error::unavailable("DynamoDB left delivery reads unprocessed"));
            }
        }
        Ok(found)
    }
}

#[async_trait]
impl DeliveryRecord for DynamoStore {
    async fn update_delivery(
        &self,
        webhook: WebhookId,
        delivery: Uuid,
        recorded: usize,
        update: &DeliveryUpdate,
    ) -> Result<Recorded, Error> {
        let mut expression = String::from("SET #status = :status, nextAttemptAt = :next");
        let mut request = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(delivery_key(webhook, delivery)))
            .condition_expression("attribute_exists(PK) AND #status = :pending AND size(attempts) = :recorded")
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":status", value(&update.status)?)
            .expression_attribute_values(":pending", value(&DeliveryStatus::Pending)?)
            .expression_attribute_values(":recorded", AttributeValue::N(recorded.to_string()))
            .expression_attribute_values(":next", value(&update.next_attempt_at)?);
        if let Some(attempt) = &update.attempt {
            expression.push_str(
                ", attempts = list_append(attempts, :attempt), lastStatusCode = :code, lastError = :error, lastAttemptAt = :at",
            );
            request = request
                .expression_attribute_values(":attempt", AttributeValue::L(vec![value(attempt)?]))
                .expression_attribute_values(":code", value(&attempt.status_code)?)
                .expression_attribute_values(":error", value(&attempt.error)?)
                .expression_attribute_values(":at", value(&attempt.at)?);
        }
        match request.update_expression(expression).send().await {
            Ok(_) => Ok(Recorded::Written),
            Err(err) => match err.as_service_error() {
                Some(UpdateItemError::ConditionalCheckFailedException(failed)) if failed.item().is_some() => {
                    Ok(Recorded::Stale)
                }
                Some(UpdateItemError::ConditionalCheckFailedException(_)) => Err(Error::NotFound),
                _ => Err(unavailable(err)),
            },
        }
    }
}

#[async_trait]
impl DeliveryList for DynamoStore {
    async fn list_deliveries(
        &self,
        webhook: WebhookId,
        page: PageRequest,
        status: Option<DeliveryStatus>,
    ) -> Result<Page<Delivery>, Error> {
        let start = page.after.map(|after| delivery_key(webhook, after));
        let filter = status.map(|status| value(&status).map(|v| ("status", v))).transpose()?;
        let range = ItemRange { pk: format!("WEBHOOK#{webhook}"), prefix: "DELIVERY#", newest_first: true, filter };
        self.query_page(range, start, page, |d: &Delivery| d.delivery_id).await
    }
}
