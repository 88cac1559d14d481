//! The memory store's deliveries (their steps, statistics and listings), OAuth 2.0 access tokens
//! and rate-limit counters.

use std::ops::Bound;

use async_trait::async_trait;
use uuid::Uuid;

use super::MemoryStore;
use crate::model::{Delivery, DeliveryState, DeliveryStatus, DeliveryStep, HourCounters, Timestamp, WebhookId};
use crate::rate_limit::{Decision, RatePolicy, gcra};
use crate::store::{
    AccessTokenStore, DeliveryGet, DeliveryList, DeliveryRecord, DeliveryStats, Page, PageRequest, PortalKeyStore,
    RateLimitStore, Recorded, StoreError,
};

#[async_trait]
impl DeliveryGet for MemoryStore {
    async fn get_delivery(&self, webhook: WebhookId, delivery: Uuid) -> Result<Option<Delivery>, StoreError> {
        let tables = self.tables()?;
        Ok(tables.deliveries.get(&(webhook, delivery)).and_then(|steps| Delivery::from_steps(steps.iter().cloned())))
    }

    async fn delivery_state(&self, webhook: WebhookId, delivery: Uuid) -> Result<Option<DeliveryState>, StoreError> {
        let tables = self.tables()?;
        let last = tables.deliveries.get(&(webhook, delivery)).and_then(|steps| steps.last());
        Ok(last.map(DeliveryState::of))
    }
}

#[async_trait]
impl DeliveryRecord for MemoryStore {
    async fn record_step(&self, step: &DeliveryStep) -> Result<Recorded, StoreError> {
        let mut tables = self.writing()?;
        let steps = tables.deliveries.entry((step.webhook_id, step.delivery_id)).or_default();
        if steps.iter().any(|s| s.step == step.step) {
            return Ok(Recorded::Stale);
        }
        steps.push(step.clone());
        steps.sort_by_key(|s| s.step);
        Ok(Recorded::Written)
    }
}

#[async_trait]
impl DeliveryStats for MemoryStore {
    async fn add_counts(&self, webhook: WebhookId, counters: &HourCounters) -> Result<(), StoreError> {
        let mut tables = self.writing()?;
        let hour = tables.stats.entry((webhook, counters.hour));
        hour.or_insert_with(|| HourCounters { hour: counters.hour, ..HourCounters::default() }).add(counters);
        Ok(())
    }

    async fn hourly_counters(
        &self,
        webhook: WebhookId,
        first: i64,
        last: i64,
    ) -> Result<Vec<HourCounters>, StoreError> {
        Ok(self.tables()?.stats.range((webhook, first)..=(webhook, last)).map(|(_, hour)| hour.clone()).collect())
    }
}

#[async_trait]
impl DeliveryList for MemoryStore {
    async fn list_deliveries(
        &self,
        webhook: WebhookId,
        page: PageRequest,
        status: Option<DeliveryStatus>,
    ) -> Result<Page<Delivery>, StoreError> {
        let tables = self.tables()?;
        let upper = match page.after {
            Some(after) => Bound::Excluded((webhook, after)),
            None => Bound::Included((webhook, Uuid::max())),
        };
        let items = tables
            .deliveries
            .range((Bound::Included((webhook, Uuid::nil())), upper))
            .rev()
            .filter_map(|(_, steps)| Delivery::from_steps(steps.iter().cloned()))
            .filter(|delivery| status.is_none_or(|wanted| delivery.status == wanted))
            .take(page.limit + 1)
            .collect();
        Ok(Page::from_overfetch(items, page.limit, |d| d.delivery_id))
    }

    async fn deliveries_after(
        &self,
        webhook: WebhookId,
        after: Uuid,
        limit: usize,
    ) -> Result<Vec<Delivery>, StoreError> {
        let tables = self.tables()?;
        let range = (Bound::Excluded((webhook, after)), Bound::Included((webhook, Uuid::max())));
        let deliveries =
            tables.deliveries.range(range).filter_map(|(_, steps)| Delivery::from_steps(steps.iter().cloned()));
        Ok(deliveries.take(limit).collect())
    }
}

#[async_trait]
impl AccessTokenStore for MemoryStore {
    async fn access_token(
        &self,
        webhook: WebhookId,
        fingerprint: &str,
        now: Timestamp,
    ) -> Result<Option<String>, StoreError> {
        let mut tables = self.tables()?;
        tables.access_tokens.retain(|_, (_, until)| *until > now);
        Ok(tables.access_tokens.get(&(webhook, fingerprint.to_string())).map(|(token, _)| token.clone()))
    }

    async fn keep_access_token(
        &self,
        webhook: WebhookId,
        fingerprint: &str,
        token: &str,
        good_until: Timestamp,
    ) -> Result<(), StoreError> {
        self.tables()?.access_tokens.insert((webhook, fingerprint.to_string()), (token.to_string(), good_until));
        Ok(())
    }

    async fn drop_access_token(&self, webhook: WebhookId, fingerprint: &str, token: &str) -> Result<(), StoreError> {
        let mut tables = self.tables()?;
        let key = (webhook, fingerprint.to_string());
        if tables.access_tokens.get(&key).is_some_and(|(kept, _)| kept == token) {
            tables.access_tokens.remove(&key);
        }
        Ok(())
    }
}

#[async_trait]
impl PortalKeyStore for MemoryStore {
    async fn portal_key(&self) -> Result<Option<String>, StoreError> {
        Ok(self.tables()?.portal_key.clone())
    }

    async fn keep_portal_key(&self, key: &str) -> Result<String, StoreError> {
        Ok(self.tables()?.portal_key.get_or_insert_with(|| key.to_string()).clone())
    }
}

#[async_trait]
impl RateLimitStore for MemoryStore {
    async fn take_many(
        &self,
        key: &str,
        policy: &RatePolicy,
        requests: u32,
        now_us: i64,
    ) -> Result<Decision, StoreError> {
        let mut tables = self.tables()?;
        // Arrival times in the past say nothing: dropping them keeps the map to active keys.
        tables.rate_limits.retain(|_, tat| *tat > now_us);
        let (decision, next) = gcra(tables.rate_limits.get(key).copied(), now_us, policy, requests);
        if let Some(next) = next {
            tables.rate_limits.insert(key.to_string(), next);
        }
        Ok(decision)
    }
}
