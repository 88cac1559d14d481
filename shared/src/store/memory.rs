//! The in-memory store of the embedded runner and fast tests: sorted maps behind a mutex,
//! with the same conditional-write semantics as DynamoDB, and like its TTL forgetting
//! deliveries, events and statistics past the retention.

use std::collections::{BTreeMap, HashMap};
use std::ops::Bound;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use async_trait::async_trait;
use uuid::Uuid;

use super::{
    AccessTokenStore, DeliveryGet, DeliveryList, DeliveryRecord, DeliveryStats, EventGet, EventInsert, EventTypeGet,
    EventTypePut, Page, PageRequest, RateLimitStore, Recorded, WebhookDelete, WebhookGet, WebhookHealth, WebhookInsert,
    WebhookList, WebhookReplace, WebhookSubscribers,
};
use crate::model::{
    Delivery, DeliveryState, DeliveryStatus, DeliveryStep, EntityId, EventType, FanOutPlan, HourCounters, Owner,
    Timestamp, Webhook, WebhookId,
};
use crate::rate_limit::{Decision, RatePolicy, gcra};
use crate::runtime::{Clock, SystemClock};
use crate::store::StoreError;

#[derive(Default)]
struct Tables {
    webhooks: BTreeMap<(Owner, WebhookId), Webhook>,
    /// Each delivery's steps, in step order.
    deliveries: BTreeMap<(WebhookId, Uuid), Vec<DeliveryStep>>,
    /// Each webhook's hourly statistics, by the hour's start.
    stats: BTreeMap<(WebhookId, i64), HourCounters>,
    /// Fan-out plans per owner and event id, with the end of their dedupe window and of
    /// their keeping.
    events: HashMap<(EntityId, String), (FanOutPlan, Timestamp, Timestamp)>,
    /// Access tokens by webhook and credentials fingerprint, with when they stop being good.
    access_tokens: HashMap<(WebhookId, String), (String, Timestamp)>,
    /// The operator's event types by name.
    event_types: BTreeMap<String, EventType>,
    /// Rate-limit arrival times (unix µs) by key.
    rate_limits: HashMap<String, i64>,
    /// When what is past the retention was last forgotten.
    swept_at: Option<Timestamp>,
}

/// How often a write looks for records past the retention.
const SWEEP_EVERY: chrono::Duration = chrono::Duration::minutes(1);

pub struct MemoryStore {
    tables: Mutex<Tables>,
    retention: chrono::Duration,
    clock: Arc<dyn Clock>,
}

impl Default for MemoryStore {
    fn default() -> Self {
        Self::new()
    }
}

impl MemoryStore {
    /// A store keeping deliveries and events as long as DynamoDB's TTL does (30 days).
    pub fn new() -> Self {
        Self::with_retention(crate::replay::RETENTION, Arc::new(SystemClock))
    }

    /// A store that forgets a delivery `retention` after it began by `clock` (and its event
    /// and statistics as long after theirs).
    pub fn with_retention(retention: Duration, clock: Arc<dyn Clock>) -> Self {
        let retention = chrono::Duration::from_std(retention).unwrap_or(chrono::Duration::MAX);
        Self { tables: Mutex::default(), retention, clock }
    }

    fn tables(&self) -> Result<MutexGuard<'_, Tables>, StoreError> {
        self.tables.lock().map_err(|_| StoreError::internal("memory store lock poisoned"))
    }

    /// The tables for a write, with what is past the retention forgotten first (a minute at
    /// most after it passed), so that a long-running runner does not grow for ever.
    fn writing(&self) -> Result<MutexGuard<'_, Tables>, StoreError> {
        let mut tables = self.tables()?;
        let now = Timestamp::new(self.clock.now());
        if tables.swept_at.is_none_or(|at| now.get() - at.get() >= SWEEP_EVERY) {
            tables.forget_before(now, self.retention);
            tables.swept_at = Some(now);
        }
        Ok(tables)
    }
}

fn key_of(webhook: &Webhook) -> (Owner, WebhookId) {
    (webhook.owner(), webhook.info.id)
}

impl Tables {
    fn forget_before(&mut self, now: Timestamp, retention: chrono::Duration) {
        let oldest = (now.get() - retention).timestamp();
        let began =
            |id: &Uuid| id.get_timestamp().map_or(i64::MAX, |t| i64::try_from(t.to_unix().0).unwrap_or(i64::MAX));
        self.deliveries.retain(|(_, delivery), _| began(delivery) >= oldest);
        self.stats.retain(|(_, hour), _| *hour + 3600 > oldest);
        self.events.retain(|_, (_, _, kept_until)| *kept_until > now);
    }

    /// The owner's webhooks, in id order, after `after` when given.
    fn webhooks_of(&self, owner: Owner, after: Option<Uuid>) -> impl Iterator<Item = &Webhook> {
        let lower = match after {
            Some(after) => Bound::Excluded((owner, WebhookId(after))),
            None => Bound::Included((owner, WebhookId(Uuid::nil()))),
        };
        self.webhooks.range((lower, Bound::Included((owner, WebhookId(Uuid::max()))))).map(|(_, webhook)| webhook)
    }
}

#[async_trait]
impl WebhookGet for MemoryStore {
    async fn get_webhook(&self, owner: Owner, id: WebhookId) -> Result<Option<Webhook>, StoreError> {
        Ok(self.tables()?.webhooks.get(&(owner, id)).cloned())
    }
}

#[async_trait]
impl WebhookList for MemoryStore {
    async fn list_webhooks(&self, owner: Owner, page: PageRequest) -> Result<Page<Webhook>, StoreError> {
        let tables = self.tables()?;
        let items = tables.webhooks_of(owner, page.after).take(page.limit + 1).cloned().collect();
        Ok(Page::from_overfetch(items, page.limit, |w| w.info.id.0))
    }
}

#[async_trait]
impl WebhookSubscribers for MemoryStore {
    async fn subscribers(&self, entity: EntityId) -> Result<Vec<Webhook>, StoreError> {
        let tables = self.tables()?;
        let global = tables.webhooks_of(Owner::Global, None).filter(|w| w.covers(entity));
        Ok(tables.webhooks_of(Owner::Entity(entity), None).chain(global).cloned().collect())
    }
}

#[async_trait]
impl WebhookInsert for MemoryStore {
    async fn insert_webhook(&self, webhook: &Webhook) -> Result<(), StoreError> {
        let mut tables = self.tables()?;
        if tables.webhooks.contains_key(&key_of(webhook)) {
            return Err(StoreError::internal(format!("webhook {} already exists", webhook.info.id)));
        }
        tables.webhooks.insert(key_of(webhook), webhook.clone());
        Ok(())
    }
}

#[async_trait]
impl WebhookReplace for MemoryStore {
    async fn replace_webhook(&self, webhook: &Webhook, previous: &Webhook) -> Result<(), StoreError> {
        let mut tables = self.tables()?;
        let stored = tables.webhooks.get_mut(&key_of(webhook)).ok_or(StoreError::NotFound)?;
        if stored.info.version != previous.info.version {
            return Err(StoreError::VersionConflict { current: stored.info.version });
        }
        *stored = webhook.clone();
        Ok(())
    }
}

#[async_trait]
impl WebhookHealth for MemoryStore {
    async fn mark_failing(&self, owner: Owner, id: WebhookId, since: Timestamp) -> Result<(), StoreError> {
        if let Some(webhook) = self.tables()?.webhooks.get_mut(&(owner, id)) {
            webhook.failing_since.get_or_insert(since);
        }
        Ok(())
    }

    async fn mark_recovered(&self, owner: Owner, id: WebhookId) -> Result<(), StoreError> {
        if let Some(webhook) = self.tables()?.webhooks.get_mut(&(owner, id)) {
            webhook.failing_since = None;
        }
        Ok(())
    }
}

#[async_trait]
impl WebhookDelete for MemoryStore {
    async fn delete_webhook(&self, owner: Owner, id: WebhookId, expected: Option<u64>) -> Result<(), StoreError> {
        let mut tables = self.tables()?;
        let stored = tables.webhooks.get(&(owner, id)).ok_or(StoreError::NotFound)?;
        match expected {
            Some(version) if version != stored.info.version => {
                Err(StoreError::VersionConflict { current: stored.info.version })
            }
            _ => {
                tables.webhooks.remove(&(owner, id));
                Ok(())
            }
        }
    }
}

#[async_trait]
impl EventTypeGet for MemoryStore {
    async fn stored_event_type(&self, name: &str) -> Result<Option<EventType>, StoreError> {
        Ok(self.tables()?.event_types.get(name).cloned())
    }

    async fn stored_event_types(&self) -> Result<Vec<EventType>, StoreError> {
        Ok(self.tables()?.event_types.values().cloned().collect())
    }
}

#[async_trait]
impl EventTypePut for MemoryStore {
    async fn put_event_type(&self, event_type: &EventType) -> Result<(), StoreError> {
        self.tables()?.event_types.insert(event_type.name.clone(), event_type.clone());
        Ok(())
    }
}

#[async_trait]
impl EventInsert for MemoryStore {
    async fn open_fan_out(
        &self,
        owner: EntityId,
        plan: &FanOutPlan,
        now: Timestamp,
        ttl: Duration,
    ) -> Result<(FanOutPlan, bool), StoreError> {
        let mut tables = self.writing()?;
        let key = (owner, plan.event_id.clone());
        if let Some((stored, expires, _)) = tables.events.get(&key) {
            if *expires > now {
                return Ok((stored.clone(), false));
            }
        }
        let expires = Timestamp::new(now.get() + chrono::Duration::from_std(ttl).map_err(StoreError::internal)?);
        let kept_until = Timestamp::new(now.get() + self.retention);
        tables.events.insert(key, (plan.clone(), expires, kept_until));
        Ok((plan.clone(), true))
    }
}

#[async_trait]
impl EventGet for MemoryStore {
    async fn get_event(&self, owner: EntityId, event_id: &str) -> Result<Option<FanOutPlan>, StoreError> {
        Ok(self.tables()?.events.get(&(owner, event_id.to_string())).map(|(plan, _, _)| plan.clone()))
    }
}

#[async_trait]
impl DeliveryGet for MemoryStore {
    async fn get_delivery(&self, webhook: WebhookId, delivery: Uuid) -> Result<Option<Delivery>, StoreError> {
        let tables = self.tables()?;
        Ok(tables.deliveries.get(&(webhook, delivery)).and_then(|steps| Delivery::from_steps(steps.iter().cloned())))
    }

    async fn delivery_state(&self, webhook: WebhookId, delivery: Uuid) -> Result<Option<DeliveryState>, StoreError> {
        let tables = self.tables()?;
        let last = tables.deliveries.get(&(webhook, delivery)).and_then(|steps| steps.last());
        Ok(last.map(|step| DeliveryState { status: step.status, step: step.step }))
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
impl RateLimitStore for MemoryStore {
    async fn take(&self, key: &str, policy: &RatePolicy, now_us: i64) -> Result<Decision, StoreError> {
        let mut tables = self.tables()?;
        // Arrival times in the past say nothing: dropping them keeps the map to active keys.
        tables.rate_limits.retain(|_, tat| *tat > now_us);
        let (decision, next) = gcra(tables.rate_limits.get(key).copied(), now_us, policy);
        if let Some(next) = next {
            tables.rate_limits.insert(key.to_string(), next);
        }
        Ok(decision)
    }
}

#[cfg(test)]
#[path = "memory_tests.rs"]
mod tests;
