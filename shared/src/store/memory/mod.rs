//! The in-memory store of the embedded runner and fast tests: sorted maps behind a mutex,
//! with the same conditional-write semantics as DynamoDB, and like its TTL forgetting
//! deliveries, events and statistics past the retention.

mod deliveries;
mod events;

use std::collections::{BTreeMap, HashMap};
use std::ops::Bound;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use async_trait::async_trait;
use uuid::Uuid;

use super::{
    Page, PageRequest, WebhookDelete, WebhookGet, WebhookHealth, WebhookInsert, WebhookList, WebhookReplace,
    WebhookSubscribers,
};
use crate::model::{
    DeliveryMessage, DeliveryStep, EntityId, EventType, FanOutPlan, HourCounters, Owner, Refusal, Timestamp, WebhookId,
    WebhookRecord,
};
use crate::runtime::{Clock, SystemClock};
use crate::store::{REFUSAL_RETENTION, RefusalList, RefusalRecord, StoreError};

#[derive(Default)]
struct Tables {
    webhooks: BTreeMap<(Owner, WebhookId), WebhookRecord>,
    /// Each delivery's steps, in step order.
    deliveries: BTreeMap<(WebhookId, Uuid), Vec<DeliveryStep>>,
    /// Each webhook's hourly statistics, by the hour's start.
    stats: BTreeMap<(WebhookId, i64), HourCounters>,
    /// Fan-out plans per owner and event id, with the end of their dedupe window and of
    /// their keeping.
    events: HashMap<(EntityId, String), (FanOutPlan, Timestamp, Timestamp)>,
    /// Plans replaced by a later publish of their event id, by owner and plan id, with the end
    /// of their keeping.
    archived: HashMap<(EntityId, Uuid), (FanOutPlan, Timestamp)>,
    /// FIFO webhooks' closed gates, and the messages parked behind them by their place.
    gates: HashMap<WebhookId, Gate>,
    parked: BTreeMap<(WebhookId, String), DeliveryMessage>,
    /// Access tokens by webhook and credentials fingerprint, with when they stop being good.
    access_tokens: HashMap<(WebhookId, String), (String, Timestamp)>,
    /// The operator's event types by name.
    event_types: BTreeMap<String, EventType>,
    /// Refused ingest messages by entity and refusal id.
    refusals: BTreeMap<(EntityId, Uuid), Refusal>,
    /// Rate-limit arrival times (unix µs) by key.
    rate_limits: HashMap<String, i64>,
    /// When what is past the retention was last forgotten.
    swept_at: Option<Timestamp>,
    /// The portal key, once made.
    portal_key: Option<String>,
}

/// A FIFO webhook's closed gate: its head, and how many messages were parked and released.
struct Gate {
    head: super::FifoHead,
    parked: u64,
    released: u64,
}

/// How often a write looks for records past the retention.
const SWEEP_EVERY: chrono::Duration = chrono::Duration::minutes(1);

pub struct MemoryStore {
    tables: Mutex<Tables>,
    retention: chrono::Duration,
    clock: Arc<dyn Clock>,
    /// Every operation fails as an unreachable DynamoDB's would (`fail_all`).
    unreachable: AtomicBool,
}

impl Default for MemoryStore {
    fn default() -> Self {
        Self::new()
    }
}

impl MemoryStore {
    /// A store keeping deliveries and events as long as DynamoDB's TTL does (30 days).
    pub fn new() -> Self {
        Self::with_retention(crate::store::RETENTION, Arc::new(SystemClock))
    }

    /// A store that forgets a delivery `retention` after it began by `clock` (and its event
    /// and statistics as long after theirs).
    pub fn with_retention(retention: Duration, clock: Arc<dyn Clock>) -> Self {
        let retention = chrono::Duration::from_std(retention).unwrap_or(chrono::Duration::MAX);
        Self { tables: Mutex::default(), retention, clock, unreachable: AtomicBool::new(false) }
    }

    /// From now on, until called again with `false`, every operation fails as if the store
    /// could not be reached: for tests of outages.
    pub fn fail_all(&self, failing: bool) {
        self.unreachable.store(failing, Ordering::SeqCst);
    }

    fn tables(&self) -> Result<MutexGuard<'_, Tables>, StoreError> {
        if self.unreachable.load(Ordering::SeqCst) {
            return Err(StoreError::unavailable("the memory store is failing on purpose (fail_all)"));
        }
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

fn key_of(webhook: &WebhookRecord) -> (Owner, WebhookId) {
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
        self.archived.retain(|_, (_, kept_until)| *kept_until > now);
        let refused_before = now.get() - chrono::Duration::from_std(REFUSAL_RETENTION).unwrap_or(chrono::Duration::MAX);
        self.refusals.retain(|_, refusal| refusal.refused_at.get() > refused_before);
    }

    /// The owner's webhooks, in id order, after `after` when given.
    fn webhooks_of(&self, owner: Owner, after: Option<Uuid>) -> impl Iterator<Item = &WebhookRecord> {
        let lower = match after {
            Some(after) => Bound::Excluded((owner, WebhookId(after))),
            None => Bound::Included((owner, WebhookId(Uuid::nil()))),
        };
        self.webhooks.range((lower, Bound::Included((owner, WebhookId(Uuid::max()))))).map(|(_, webhook)| webhook)
    }
}

#[async_trait]
impl WebhookGet for MemoryStore {
    async fn get_webhook(&self, owner: Owner, id: WebhookId) -> Result<Option<WebhookRecord>, StoreError> {
        Ok(self.tables()?.webhooks.get(&(owner, id)).cloned())
    }
}

#[async_trait]
impl WebhookList for MemoryStore {
    async fn list_webhooks(&self, owner: Owner, page: PageRequest) -> Result<Page<WebhookRecord>, StoreError> {
        let tables = self.tables()?;
        let items = tables.webhooks_of(owner, page.after).take(page.limit + 1).cloned().collect();
        Ok(Page::from_overfetch(items, page.limit, |w| w.info.id.0))
    }

    async fn list_account_webhooks(&self, account: &str, page: PageRequest) -> Result<Page<WebhookRecord>, StoreError> {
        let tables = self.tables()?;
        let theirs = |w: &&WebhookRecord| w.info.account_identifier.as_deref() == Some(account);
        let items =
            tables.webhooks_of(Owner::Global, page.after).filter(theirs).take(page.limit + 1).cloned().collect();
        Ok(Page::from_overfetch(items, page.limit, |w| w.info.id.0))
    }
}

#[async_trait]
impl WebhookSubscribers for MemoryStore {
    async fn subscribers(&self, entity: EntityId) -> Result<Vec<WebhookRecord>, StoreError> {
        let tables = self.tables()?;
        let global = tables.webhooks_of(Owner::Global, None).filter(|w| w.covers(entity));
        Ok(tables.webhooks_of(Owner::Entity(entity), None).chain(global).cloned().collect())
    }

    async fn notice_subscribers(&self, entity: EntityId) -> Result<Vec<WebhookRecord>, StoreError> {
        let tables = self.tables()?;
        Ok(tables.webhooks_of(Owner::Entity(entity), None).filter(|w| w.notices_of().is_some()).cloned().collect())
    }
}

#[async_trait]
impl WebhookInsert for MemoryStore {
    async fn insert_webhook(&self, webhook: &WebhookRecord) -> Result<(), StoreError> {
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
    async fn replace_webhook(&self, webhook: &WebhookRecord, previous: &WebhookRecord) -> Result<(), StoreError> {
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

    async fn mark_slow(&self, owner: Owner, id: WebhookId, slow_ms: Option<u32>) -> Result<(), StoreError> {
        if let Some(webhook) = self.tables()?.webhooks.get_mut(&(owner, id)) {
            webhook.slow_ms = slow_ms;
        }
        Ok(())
    }

    async fn disable_webhook(&self, disabled: &WebhookRecord, previous: &WebhookRecord) -> Result<(), StoreError> {
        let mut tables = self.tables()?;
        let stored = tables.webhooks.get_mut(&key_of(disabled)).ok_or(StoreError::NotFound)?;
        if stored.info.version != previous.info.version || stored.failing_since != previous.failing_since {
            return Err(StoreError::VersionConflict { current: stored.info.version });
        }
        *stored = disabled.clone();
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

#[cfg(test)]
mod tests;

#[async_trait]
impl RefusalRecord for MemoryStore {
    async fn record_refusal(&self, entity: EntityId, refusal: &Refusal) -> Result<(), StoreError> {
        self.writing()?.refusals.insert((entity, refusal.id), refusal.clone());
        Ok(())
    }
}

#[async_trait]
impl RefusalList for MemoryStore {
    async fn list_refusals(&self, entity: EntityId, page: PageRequest) -> Result<Page<Refusal>, StoreError> {
        let upper = page.after.map_or(Bound::Included((entity, Uuid::max())), |after| Bound::Excluded((entity, after)));
        let tables = self.tables()?;
        let newest: Vec<Refusal> = tables
            .refusals
            .range((Bound::Included((entity, Uuid::nil())), upper))
            .rev()
            .take(page.limit + 1)
            .map(|(_, refusal)| refusal.clone())
            .collect();
        Ok(Page::from_overfetch(newest, page.limit, |refusal| refusal.id))
    }
}
