//! FIFO gates (`crate::delivery`'s `fifo`): `WEBHOOK#{webhookId}` / `FIFO` names the delivery the
//! webhook's later messages wait behind (`head`, with its `headMessage` when a release made it
//! the head) and counts those `parked` and `released`; each
//! is parked at `WEBHOOK#{webhookId}` / `FIFO#{count:020}`, its message a JSON string, so that the
//! first is one query away. A park and its count are one transaction, a release and its count
//! another, so the gate opens (its item deleted) only when the counts agree. No TTL: a parked
//! message leaves only by being released, which a deleted or disabled webhook does too (each is
//! then skipped).

use std::collections::HashMap;

use async_trait::async_trait;
use aws_sdk_dynamodb::operation::delete_item::DeleteItemError;
use aws_sdk_dynamodb::types::{AttributeValue, Delete, Put, TransactWriteItem, Update};
use uuid::Uuid;

use super::{DynamoStore, Item, ItemRange, s, unavailable};
use crate::model::{DeliveryMessage, WebhookId};
use crate::store::{FifoGate, FifoHead, StoreError};

const GATE: &str = "FIFO";
const HEAD_MESSAGE: &str = "headMessage";
const PARKED: &str = "FIFO#";

fn key(webhook: WebhookId, sort_key: String) -> Item {
    HashMap::from([("PK".into(), s(format!("WEBHOOK#{webhook}"))), ("SK".into(), s(sort_key))])
}

fn one() -> AttributeValue {
    AttributeValue::N("1".into())
}

/// A gate's count of parked messages, as stored.
fn parked_count(gate: &Item) -> u64 {
    gate.get("parked").and_then(|n| n.as_n().ok()).and_then(|n| n.parse().ok()).unwrap_or(0)
}

impl DynamoStore {
    async fn gate(&self, webhook: WebhookId) -> Result<Option<Item>, StoreError> {
        let read = self.client.get_item().table_name(&self.table).set_key(Some(key(webhook, GATE.into())));
        Ok(read.consistent_read(true).send().await.map_err(unavailable)?.item)
    }
}

#[async_trait]
impl FifoGate for DynamoStore {
    async fn fifo_head(&self, webhook: WebhookId) -> Result<Option<FifoHead>, StoreError> {
        let Some(gate) = self.gate(webhook).await? else { return Ok(None) };
        let text = |name: &str| gate.get(name).and_then(|v| v.as_s().ok());
        let Some(head) = text("head") else { return Ok(None) };
        let message = text(HEAD_MESSAGE).map(|m| serde_json::from_str(m).map_err(StoreError::internal)).transpose()?;
        Ok(Some(FifoHead { delivery: Uuid::parse_str(head).map_err(StoreError::internal)?, message }))
    }

    async fn hold_fifo(&self, webhook: WebhookId, head: Uuid) -> Result<(), StoreError> {
        let update = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(webhook, GATE.into())))
            .update_expression("SET head = :head REMOVE #message")
            .expression_attribute_names("#message", HEAD_MESSAGE)
            .expression_attribute_values(":head", s(head.to_string()));
        update.send().await.map_err(unavailable)?;
        Ok(())
    }

    async fn park(&self, webhook: WebhookId, message: &DeliveryMessage) -> Result<bool, StoreError> {
        let body = serde_json::to_string(message).map_err(StoreError::internal)?;
        for _ in 0..3 {
            let Some(gate) = self.gate(webhook).await? else { return Ok(false) };
            let count = parked_count(&gate);
            let place = format!("{:020}", count + 1);
            // The count moves on only from the one read, so that two parks never share a place.
            let counted = Update::builder()
                .table_name(&self.table)
                .set_key(Some(key(webhook, GATE.into())))
                .update_expression("ADD parked :one")
                .condition_expression("attribute_exists(head) AND (attribute_not_exists(parked) OR parked = :count)")
                .expression_attribute_values(":one", one())
                .expression_attribute_values(":count", AttributeValue::N(count.to_string()));
            let mut item = key(webhook, format!("{PARKED}{place}"));
            item.insert("message".into(), s(body.clone()));
            let put = Put::builder().table_name(&self.table).set_item(Some(item));
            let writes = vec![
                TransactWriteItem::builder().update(counted.build().map_err(StoreError::internal)?).build(),
                TransactWriteItem::builder().put(put.build().map_err(StoreError::internal)?).build(),
            ];
            if self.transact_if(writes).await? {
                return Ok(true);
            }
        }
        Err(StoreError::unavailable("a FIFO gate kept changing while a message was parked"))
    }

    async fn first_parked(&self, webhook: WebhookId) -> Result<Option<(String, DeliveryMessage)>, StoreError> {
        let range = ItemRange::prefixed(format!("WEBHOOK#{webhook}"), PARKED);
        let (items, _) = self.query(&range, None, 1).await?;
        let Some(item) = items.into_iter().next() else { return Ok(None) };
        let text = |name: &str| item.get(name).and_then(|v| v.as_s().ok()).cloned().unwrap_or_default();
        let place = text("SK").trim_start_matches(PARKED).to_string();
        let message = serde_json::from_str(&text("message")).map_err(StoreError::internal)?;
        Ok(Some((place, message)))
    }

    async fn release_parked(
        &self,
        webhook: WebhookId,
        head: Uuid,
        place: &str,
        next: &DeliveryMessage,
    ) -> Result<bool, StoreError> {
        let message = serde_json::to_string(next).map_err(StoreError::internal)?;
        let released = Update::builder()
            .table_name(&self.table)
            .set_key(Some(key(webhook, GATE.into())))
            .update_expression("SET head = :next, #message = :message ADD released :one")
            .condition_expression("head = :head")
            .expression_attribute_names("#message", HEAD_MESSAGE)
            .expression_attribute_values(":head", s(head.to_string()))
            .expression_attribute_values(":next", s(next.delivery_id.to_string()))
            .expression_attribute_values(":message", s(message))
            .expression_attribute_values(":one", one());
        let unparked = Delete::builder()
            .table_name(&self.table)
            .set_key(Some(key(webhook, format!("{PARKED}{place}"))))
            .condition_expression("attribute_exists(PK)");
        let writes = vec![
            TransactWriteItem::builder().update(released.build().map_err(StoreError::internal)?).build(),
            TransactWriteItem::builder().delete(unparked.build().map_err(StoreError::internal)?).build(),
        ];
        self.transact_if(writes).await
    }

    async fn open_fifo(&self, webhook: WebhookId, head: Uuid) -> Result<bool, StoreError> {
        let deleted = self
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(key(webhook, GATE.into())))
            .condition_expression("head = :head AND (attribute_not_exists(parked) OR parked = released)")
            .expression_attribute_values(":head", s(head.to_string()))
            .send()
            .await;
        match deleted {
            Ok(_) => Ok(true),
            Err(err) if err.as_service_error().is_some_and(DeleteItemError::is_conditional_check_failed_exception) => {
                let gate = self.gate(webhook).await?;
                // Another head, or none: nothing left for this one to open.
                Ok(gate.is_none_or(|gate| gate.get("head").and_then(|h| h.as_s().ok()) != Some(&head.to_string())))
            }
            Err(err) => Err(unavailable(err)),
        }
    }
}
