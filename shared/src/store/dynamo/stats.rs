//! Hourly statistics: `WEBHOOK#{webhookId}` / `STATS#{hour}` (unix seconds of its start, ten
//! digits, so key order is time order), numbers a batch's recorded steps add to with one `ADD`
//! (`crate::store::Tally`), kept as long as the deliveries they count (TTL).

use std::collections::HashMap;

use async_trait::async_trait;
use aws_sdk_dynamodb::types::AttributeValue;

use super::{DynamoStore, Item, RETENTION, TTL_ATTRIBUTE, s, unavailable};
use crate::model::{HourCounters, WebhookId};
use crate::store::{DeliveryStats, StoreError};

fn stats_key(webhook: WebhookId, hour: i64) -> Item {
    HashMap::from([("PK".into(), s(format!("WEBHOOK#{webhook}"))), ("SK".into(), s(format!("STATS#{hour:010}")))])
}

fn number(n: impl ToString) -> AttributeValue {
    AttributeValue::N(n.to_string())
}

#[async_trait]
impl DeliveryStats for DynamoStore {
    async fn add_counts(&self, webhook: WebhookId, counters: &HourCounters) -> Result<(), StoreError> {
        let expires = counters.hour.saturating_add_unsigned(RETENTION.as_secs() + 3600);
        let mut update = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(stats_key(webhook, counters.hour)))
            .expression_attribute_names("#expires", TTL_ATTRIBUTE)
            .expression_attribute_values(":expires", number(expires));
        let mut adds = Vec::new();
        for (i, (name, n)) in counters.counters.iter().enumerate() {
            adds.push(format!("#c{i} :c{i}"));
            update = update
                .expression_attribute_names(format!("#c{i}"), name)
                .expression_attribute_values(format!(":c{i}"), number(n));
        }
        let update = update.update_expression(format!("ADD {} SET #expires = :expires", adds.join(", ")));
        update.send().await.map(|_| ()).map_err(unavailable)
    }

    async fn hourly_counters(
        &self,
        webhook: WebhookId,
        first: i64,
        last: i64,
    ) -> Result<Vec<HourCounters>, StoreError> {
        let (from, to) = (stats_key(webhook, first), stats_key(webhook, last));
        let (mut hours, mut start) = (Vec::new(), None);
        loop {
            // 721 hours of a few numbers each are one page; eventually consistent is enough for a view.
            let output = self
                .client
                .query()
                .table_name(&self.table)
                .key_condition_expression("PK = :pk AND SK BETWEEN :from AND :to")
                .expression_attribute_values(":pk", from["PK"].clone())
                .expression_attribute_values(":from", from["SK"].clone())
                .expression_attribute_values(":to", to["SK"].clone())
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(unavailable)?;
            hours.extend(output.items.unwrap_or_default().into_iter().filter_map(hour_of));
            start = output.last_evaluated_key;
            if start.is_none() {
                return Ok(hours);
            }
        }
    }
}

fn hour_of(item: Item) -> Option<HourCounters> {
    let hour = item.get("SK")?.as_s().ok()?.strip_prefix("STATS#")?.parse().ok()?;
    let counters = item
        .iter()
        .filter(|(name, _)| !matches!(name.as_str(), "PK" | "SK" | TTL_ATTRIBUTE))
        .filter_map(|(name, value)| Some((name.clone(), value.as_n().ok()?.parse().ok()?)))
        .collect();
    Some(HourCounters { hour, counters })
}
