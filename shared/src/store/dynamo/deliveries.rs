//! Delivery steps: one item per attempt (or skip, or dead-letter mark), `WEBHOOK#{webhookId}` /
//! `DELIVERY#{deliveryId}#{step:04}`, written once with a condition on its number and kept 30
//! days (TTL). A delivery's steps sort together, in step order, newest delivery last; so its
//! last step is one query away, and a page of deliveries is one range of the partition.

use std::collections::HashMap;

use async_trait::async_trait;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::types::AttributeValue;
use uuid::Uuid;

use super::{DynamoStore, Item, ItemRange, RETENTION, TTL_ATTRIBUTE, s, unavailable};
use crate::model::{Delivery, DeliveryState, DeliveryStatus, DeliveryStep, WebhookId};
use crate::store::StoreError;
use crate::store::{DeliveryGet, DeliveryList, DeliveryRecord, Page, PageRequest, Recorded};

/// Items read per query when listing: a page's deliveries and their steps, usually in one.
const LIST_QUERY_ITEMS: usize = 100;
const DELIVERIES: &str = "DELIVERY#";
/// Sorts after every delivery's steps: `~` comes after the digits and hex of their keys.
const AFTER_ALL: &str = "~";

fn steps_prefix(delivery: Uuid) -> String {
    format!("DELIVERY#{delivery}#")
}

fn step_item(step: &DeliveryStep) -> Result<Item, StoreError> {
    let mut item: Item = serde_dynamo::to_item(step).map_err(StoreError::internal)?;
    item.insert("PK".into(), s(format!("WEBHOOK#{}", step.webhook_id)));
    item.insert("SK".into(), s(format!("{}{:04}", steps_prefix(step.delivery_id), step.step)));
    // A UUIDv7 carries its creation time: every step lives 30 days from the delivery's start.
    let created = step.delivery_id.get_timestamp().map_or(0, |t| t.to_unix().0);
    let expires = created.saturating_add(RETENTION.as_secs());
    item.insert(TTL_ATTRIBUTE.into(), AttributeValue::N(expires.to_string()));
    Ok(item)
}

fn steps_of(webhook: WebhookId, delivery: Uuid, newest_first: bool) -> ItemRange<'static> {
    ItemRange { newest_first, ..ItemRange::prefixed(format!("WEBHOOK#{webhook}"), steps_prefix(delivery)) }
}

fn parse(items: Vec<Item>) -> Result<Vec<DeliveryStep>, StoreError> {
    items.into_iter().map(|item| serde_dynamo::from_item(item).map_err(StoreError::internal)).collect()
}

#[async_trait]
impl DeliveryGet for DynamoStore {
    async fn get_delivery(&self, webhook: WebhookId, delivery: Uuid) -> Result<Option<Delivery>, StoreError> {
        let (mut steps, mut start) = (Vec::new(), None);
        loop {
            let (items, next) = self.query(&steps_of(webhook, delivery, false), start, LIST_QUERY_ITEMS).await?;
            steps.extend(parse(items)?);
            start = next;
            if start.is_none() {
                return Ok(Delivery::from_steps(steps));
            }
        }
    }

    async fn delivery_state(&self, webhook: WebhookId, delivery: Uuid) -> Result<Option<DeliveryState>, StoreError> {
        let (items, _) = self.query(&steps_of(webhook, delivery, true), None, 1).await?;
        items.into_iter().next().map(|item| serde_dynamo::from_item(item).map_err(StoreError::internal)).transpose()
    }
}

#[async_trait]
impl DeliveryRecord for DynamoStore {
    async fn record_step(&self, step: &DeliveryStep) -> Result<Recorded, StoreError> {
        let put = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(step_item(step)?))
            .condition_expression("attribute_not_exists(PK)");
        match put.send().await {
            Ok(_) => Ok(Recorded::Written),
            Err(err) if err.as_service_error().is_some_and(PutItemError::is_conditional_check_failed_exception) => {
                Ok(Recorded::Stale)
            }
            Err(err) => Err(unavailable(err)),
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
    ) -> Result<Page<Delivery>, StoreError> {
        let range = ItemRange { newest_first: true, ..ItemRange::prefixed(format!("WEBHOOK#{webhook}"), DELIVERIES) };
        // Newest first, so continuing after a delivery means below its first step's key.
        let mut start = page.after.map(|after| {
            HashMap::from([
                ("PK".to_string(), s(range.pk.clone())),
                ("SK".to_string(), s(format!("{}0000", steps_prefix(after)))),
            ])
        });
        let (mut deliveries, mut steps): (Vec<Delivery>, Vec<DeliveryStep>) = (Vec::new(), Vec::new());
        loop {
            let (items, next) = self.query(&range, start, LIST_QUERY_ITEMS).await?;
            for step in parse(items)? {
                // A delivery is complete once a step of an older one follows its steps.
                if steps.first().is_some_and(|s| s.delivery_id != step.delivery_id) {
                    deliveries.extend(finish(&mut steps, status));
                }
                steps.push(step);
            }
            start = next;
            if start.is_none() {
                deliveries.extend(finish(&mut steps, status));
            }
            if deliveries.len() > page.limit || start.is_none() {
                break;
            }
        }
        deliveries.truncate(page.limit + 1);
        Ok(Page::from_overfetch(deliveries, page.limit, |d| d.delivery_id))
    }

    async fn deliveries_after(
        &self,
        webhook: WebhookId,
        after: Uuid,
        limit: usize,
    ) -> Result<Vec<Delivery>, StoreError> {
        self.deliveries_from(webhook, after, limit).await
    }
}

impl DynamoStore {
    /// Up to `limit` deliveries after `after`, oldest first: one range of the partition, read
    /// until the delivery after the last one taken shows the last one's steps are all read.
    pub(super) async fn deliveries_from(
        &self,
        webhook: WebhookId,
        after: Uuid,
        limit: usize,
    ) -> Result<Vec<Delivery>, StoreError> {
        let range = ItemRange {
            until: Some(format!("{DELIVERIES}{AFTER_ALL}")),
            ..ItemRange::prefixed(format!("WEBHOOK#{webhook}"), format!("{}{AFTER_ALL}", steps_prefix(after)))
        };
        let (mut deliveries, mut steps, mut start): (Vec<Delivery>, Vec<DeliveryStep>, _) =
            (Vec::new(), Vec::new(), None);
        loop {
            let (items, next) = self.query(&range, start, LIST_QUERY_ITEMS).await?;
            for step in parse(items)? {
                if steps.first().is_some_and(|s| s.delivery_id != step.delivery_id) {
                    deliveries.extend(Delivery::from_steps(steps.drain(..)));
                }
                steps.push(step);
            }
            start = next;
            if start.is_none() {
                deliveries.extend(Delivery::from_steps(steps.drain(..)));
            }
            if deliveries.len() >= limit || start.is_none() {
                deliveries.truncate(limit);
                return Ok(deliveries);
            }
        }
    }
}

/// The delivery of `steps` (read newest first), when it is in `status`; empties `steps`.
fn finish(steps: &mut Vec<DeliveryStep>, status: Option<DeliveryStatus>) -> Option<Delivery> {
    let delivery = Delivery::from_steps(steps.drain(..).rev())?;
    status.is_none_or(|wanted| delivery.status == wanted).then_some(delivery)
}
