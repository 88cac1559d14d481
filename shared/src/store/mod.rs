//! Where webhooks live. One narrow trait per operation, so each handler asks only for what it
//! uses; `MemoryStore` and `DynamoStore` implement them with the same semantics, which the
//! contract tests in `tests/` check against both.

mod dynamo;
mod error;
mod groups;
mod memory;
mod tally;

use std::collections::HashMap;
use std::time::Duration;

use async_trait::async_trait;
use futures::{StreamExt, TryStreamExt};
use uuid::Uuid;

use crate::rate_limit::{Decision, RatePolicy};

pub use dynamo::DynamoStore;
pub use error::StoreError;
pub use groups::{DeliveryStore, PublishStore, Store};
pub use memory::MemoryStore;
pub use tally::Tally;

/// How long delivery steps, events and statistics are kept (DynamoDB's TTL), and so how far
/// back a recovery or the statistics reach.
pub(crate) const RETENTION: Duration = Duration::from_secs(30 * 86_400);

/// Reads in flight at once when a view reads many deliveries.
const CONCURRENT_READS: usize = 10;

use crate::model::{
    Catalog, Delivery, DeliveryMessage, DeliveryState, DeliveryStatus, DeliveryStep, EntityId, Event, EventType,
    FanOutPlan, FanOutTarget, HourCounters, Owner, Refusal, Timestamp, WebhookId, WebhookRecord, default_event_type,
};

/// Targets of a fan-out plan per page: what one fan-out message sends (`crate::publish`), and
/// what one item of a stored plan holds (about 120 KB, well within DynamoDB's 400 KB).
pub const FAN_OUT_PAGE: usize = 1000;

/// Page `page` of a whole plan's `targets`: none past its last.
pub(crate) fn page_of(targets: &[FanOutTarget], page: u32) -> Vec<FanOutTarget> {
    targets.chunks(FAN_OUT_PAGE).nth(page as usize).map(<[_]>::to_vec).unwrap_or_default()
}

/// One page request: at most `limit` items after the item with id `after`, in id order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageRequest {
    pub limit: usize,
    pub after: Option<Uuid>,
}

/// One page: `next` is the id to continue after, present only when more items follow.
#[derive(Debug, Clone, PartialEq)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next: Option<Uuid>,
}

impl<T> Page<T> {
    /// Builds a page from up to `limit + 1` items read in order: the extra one only says
    /// that there is more, so that `next` is never a cursor to an empty page.
    pub(crate) fn from_overfetch(mut items: Vec<T>, limit: usize, id_of: impl Fn(&T) -> Uuid) -> Self {
        let next = if items.len() > limit {
            items.truncate(limit);
            items.last().map(&id_of)
        } else {
            None
        };
        Self { items, next }
    }
}

#[async_trait]
pub trait WebhookGet: Send + Sync {
    async fn get_webhook(&self, owner: Owner, id: WebhookId) -> Result<Option<WebhookRecord>, StoreError>;
    /// The same read, eventually consistent (half DynamoDB's price): for the deliver step, where
    /// a pause or delete may take a second to be seen.
    async fn get_webhook_eventually(&self, owner: Owner, id: WebhookId) -> Result<Option<WebhookRecord>, StoreError> {
        self.get_webhook(owner, id).await
    }
}

#[async_trait]
pub trait WebhookList: Send + Sync {
    /// The owner's webhooks (for `Owner::Global`, every global one) in creation order (their
    /// ids are UUIDv7).
    async fn list_webhooks(&self, owner: Owner, page: PageRequest) -> Result<Page<WebhookRecord>, StoreError>;

    /// The global webhooks of `account`, in creation order; a page may hold fewer than its
    /// limit and still have a `next`.
    async fn list_account_webhooks(&self, account: &str, page: PageRequest) -> Result<Page<WebhookRecord>, StoreError>;
}

#[async_trait]
pub trait WebhookSubscribers: Send + Sync {
    /// Every webhook an event published for `entity` may go to, enabled or not: the entity's
    /// own and the global ones covering it, found without reading other entities' webhooks.
    async fn subscribers(&self, entity: EntityId) -> Result<Vec<WebhookRecord>, StoreError>;

    /// The entity's own webhooks that list a platform type (`WebhookRecord::notices_of`): what a
    /// notice may go to, found without reading the entity's other webhooks, so that a webhook
    /// write's notice costs what its few subscribers do, not a read of every webhook. May lag
    /// a write by about a second (in DynamoDB, a global secondary index).
    async fn notice_subscribers(&self, entity: EntityId) -> Result<Vec<WebhookRecord>, StoreError>;
}

#[async_trait]
pub trait WebhookInsert: Send + Sync {
    /// Stores a webhook whose id is new.
    async fn insert_webhook(&self, webhook: &WebhookRecord) -> Result<(), StoreError>;
}

#[async_trait]
pub trait WebhookReplace: Send + Sync {
    /// Replaces `previous`, the webhook as the writer read it, only if its version is still
    /// the stored one; otherwise `VersionConflict` with the stored version, or `NotFound`.
    async fn replace_webhook(&self, webhook: &WebhookRecord, previous: &WebhookRecord) -> Result<(), StoreError>;
}

#[async_trait]
pub trait WebhookDelete: Send + Sync {
    /// Deletes the webhook, if `expected` is given only at that version (`VersionConflict`
    /// otherwise); `NotFound` when there is none.
    async fn delete_webhook(&self, owner: Owner, id: WebhookId, expected: Option<u64>) -> Result<(), StoreError>;
}

#[async_trait]
pub trait WebhookHealth: Send + Sync {
    /// Starts the webhook's failing clock at `since`, unless it is running; no new version.
    async fn mark_failing(&self, owner: Owner, id: WebhookId, since: Timestamp) -> Result<(), StoreError>;
    /// Stops the webhook's failing clock, if it is running; no new version.
    async fn mark_recovered(&self, owner: Owner, id: WebhookId) -> Result<(), StoreError>;
    /// Sets (or with `None` removes) the webhook's latency mark `slowMs`; no new version.
    async fn mark_slow(&self, owner: Owner, id: WebhookId, slow_ms: Option<u32>) -> Result<(), StoreError>;
    /// Replaces `previous` with `disabled` only if neither its version nor its failing clock
    /// changed since it was read (a success stops the clock without a new version);
    /// `VersionConflict` or `NotFound` otherwise.
    async fn disable_webhook(&self, disabled: &WebhookRecord, previous: &WebhookRecord) -> Result<(), StoreError>;
}

/// The operator's event types; the defaults are `crate::model::Catalog`'s, never stored.
#[async_trait]
pub trait EventTypeGet: Send + Sync {
    async fn stored_event_type(&self, name: &str) -> Result<Option<EventType>, StoreError>;
    async fn stored_event_types(&self) -> Result<Vec<EventType>, StoreError>;
}

#[async_trait]
pub trait EventTypePut: Send + Sync {
    /// Creates or replaces the type of its name.
    async fn put_event_type(&self, event_type: &EventType) -> Result<(), StoreError>;
}

/// The type named `name`: the operator's, or else the default one.
pub async fn event_type<S: EventTypeGet + ?Sized>(store: &S, name: &str) -> Result<Option<EventType>, StoreError> {
    Ok(store.stored_event_type(name).await?.or_else(|| default_event_type(name).cloned()))
}

/// Every type: the defaults with the operator's in their place or beside them.
pub async fn catalog<S: EventTypeGet + ?Sized>(store: &S) -> Result<Catalog, StoreError> {
    Ok(Catalog::with(store.stored_event_types().await?))
}

#[async_trait]
pub trait EventInsert: Send + Sync {
    /// Stores `plan` for its event unless a plan stored less than `ttl` ago exists (the
    /// dedupe window; the plan itself is kept longer, for the event view); answers the plan in
    /// force and whether it is `plan`.
    async fn open_fan_out(
        &self,
        owner: EntityId,
        plan: &FanOutPlan,
        now: Timestamp,
        ttl: Duration,
    ) -> Result<(FanOutPlan, bool), StoreError>;
}

#[async_trait]
pub trait EventGet: Send + Sync {
    /// The event's fan-out plan `plan`, with its data and every target, however long ago it
    /// was published (within the retention of delivery records): its current plan when `plan`
    /// is `None` or that one, else the one its id had before it was published again.
    async fn get_plan(
        &self,
        owner: EntityId,
        event_id: &str,
        plan: Option<Uuid>,
    ) -> Result<Option<FanOutPlan>, StoreError>;

    /// The event as published in plan `plan` (as `get_plan` finds it), without reading its
    /// targets: what a delivery's message that only names its event delivers.
    async fn published_event(
        &self,
        owner: EntityId,
        event_id: &str,
        plan: Option<Uuid>,
    ) -> Result<Option<Event>, StoreError> {
        Ok(self.get_plan(owner, event_id, plan).await?.map(|plan| plan.event()))
    }

    /// The event and the targets of page `page` (`FAN_OUT_PAGE` of them) of plan `plan`.
    async fn plan_page(
        &self,
        owner: EntityId,
        event_id: &str,
        plan: Uuid,
        page: u32,
    ) -> Result<Option<(Event, Vec<FanOutTarget>)>, StoreError> {
        let Some(whole) = self.get_plan(owner, event_id, Some(plan)).await? else { return Ok(None) };
        Ok(Some((whole.event(), page_of(&whole.targets, page))))
    }
}

#[async_trait]
pub trait DeliveryGet: Send + Sync {
    /// The delivery with every attempt, built from its steps.
    async fn get_delivery(&self, webhook: WebhookId, delivery: Uuid) -> Result<Option<Delivery>, StoreError>;
    /// Its last step, read consistently: the next step's number follows from it. `None`
    /// before the first step (a planned delivery whose first attempt has not been recorded).
    async fn delivery_state(&self, webhook: WebhookId, delivery: Uuid) -> Result<Option<DeliveryState>, StoreError>;
}

/// Where each of these deliveries stands, read a few at a time; those with no step are left out.
pub async fn delivery_states<S: DeliveryGet + ?Sized>(
    store: &S,
    keys: &[(WebhookId, Uuid)],
) -> Result<HashMap<Uuid, DeliveryState>, StoreError> {
    // Collected first: a stream of borrowing closures would not be `Send` for every lifetime.
    let reads: Vec<_> = keys
        .iter()
        .map(|&(webhook, delivery)| async move {
            Ok::<_, StoreError>(store.delivery_state(webhook, delivery).await?.map(|state| (delivery, state)))
        })
        .collect();
    let states: Vec<_> = futures::stream::iter(reads).buffer_unordered(CONCURRENT_READS).try_collect().await?;
    Ok(states.into_iter().flatten().collect())
}

/// Whether a delivery step was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recorded {
    Written,
    /// A step of that number is stored already (another copy of the message recorded it
    /// first): nothing was written.
    Stale,
}

#[async_trait]
pub trait DeliveryRecord: Send + Sync {
    /// Stores `step` unless a step of its number is stored. Steps are never rewritten, and a
    /// writer numbers its step from the last step it read (`delivery_state`), so nothing can
    /// move a finished delivery back: its next number was never read as pending. Writers
    /// record through a `Tally`, which counts what they wrote in the statistics.
    async fn record_step(&self, step: &DeliveryStep) -> Result<Recorded, StoreError>;
}

#[async_trait]
pub trait DeliveryStats: Send + Sync {
    /// Adds `counters` to those of `webhook`'s hour `counters.hour`.
    async fn add_counts(&self, webhook: WebhookId, counters: &HourCounters) -> Result<(), StoreError>;

    /// The hourly counters of `webhook`'s deliveries from hour `first` to hour `last` (unix
    /// seconds of their starts), both included; hours without any may be left out.
    async fn hourly_counters(&self, webhook: WebhookId, first: i64, last: i64)
    -> Result<Vec<HourCounters>, StoreError>;
}

#[async_trait]
pub trait DeliveryList: Send + Sync {
    /// A webhook's deliveries, newest first; only those in `status` when given.
    async fn list_deliveries(
        &self,
        webhook: WebhookId,
        page: PageRequest,
        status: Option<DeliveryStatus>,
    ) -> Result<Page<Delivery>, StoreError>;

    /// Up to `limit` of a webhook's deliveries whose ids come after `after`, oldest first (ids
    /// are UUIDv7, so this is creation order): what a recovery reads, a page at a time.
    async fn deliveries_after(
        &self,
        webhook: WebhookId,
        after: Uuid,
        limit: usize,
    ) -> Result<Vec<Delivery>, StoreError>;
}

/// The delivery a FIFO webhook's later messages wait behind.
#[derive(Debug, Clone, PartialEq)]
pub struct FifoHead {
    pub delivery: Uuid,
    /// Its message, when a release made it the head: sent again should the release have stopped
    /// before sending it.
    pub message: Option<DeliveryMessage>,
}

/// A FIFO webhook's gate (`crate::delivery`): the head its later messages wait behind, and
/// those messages, parked in their order, counted as they are parked and released so that the
/// gate opens only when none is left, whatever is parked meanwhile.
#[async_trait]
pub trait FifoGate: Send + Sync {
    /// The delivery the webhook's later messages wait behind, if any.
    async fn fifo_head(&self, webhook: WebhookId) -> Result<Option<FifoHead>, StoreError>;
    /// Makes `head` the delivery the webhook's later messages wait behind.
    async fn hold_fifo(&self, webhook: WebhookId, head: Uuid) -> Result<(), StoreError>;
    /// Parks `message` behind those parked before it, if the gate is closed (`false`, parking
    /// nothing, when it is open). Atomic with its count.
    async fn park(&self, webhook: WebhookId, message: &DeliveryMessage) -> Result<bool, StoreError>;
    /// The first parked message, with its place.
    async fn first_parked(&self, webhook: WebhookId) -> Result<Option<(String, DeliveryMessage)>, StoreError>;
    /// Makes `next`, parked at `place`, the head in place of `head`: unparked and counted in one
    /// write, on condition that `head` is still the head (`false` otherwise).
    async fn release_parked(
        &self,
        webhook: WebhookId,
        head: Uuid,
        place: &str,
        next: &DeliveryMessage,
    ) -> Result<bool, StoreError>;
    /// Opens the gate if `head` is still the one messages wait behind and every parked message
    /// was released; `false` when one was parked meanwhile.
    async fn open_fifo(&self, webhook: WebhookId, head: Uuid) -> Result<bool, StoreError>;
}

/// The access tokens of OAuth 2.0 receivers, kept for every deliver instance.
#[async_trait]
pub trait AccessTokenStore: Send + Sync {
    /// The token kept for `webhook`'s credentials `fingerprint`, if it is still good at `now`.
    async fn access_token(
        &self,
        webhook: WebhookId,
        fingerprint: &str,
        now: Timestamp,
    ) -> Result<Option<String>, StoreError>;

    async fn keep_access_token(
        &self,
        webhook: WebhookId,
        fingerprint: &str,
        token: &str,
        good_until: Timestamp,
    ) -> Result<(), StoreError>;

    /// Drops `token`, which the receiver refused, unless another was kept since.
    async fn drop_access_token(&self, webhook: WebhookId, fingerprint: &str, token: &str) -> Result<(), StoreError>;
}

/// The deployment's portal key (docs/contract.md 16), which signs portal sessions' tokens: made
/// once by the first session, kept sealed like every secret.
#[async_trait]
pub trait PortalKeyStore: Send + Sync {
    /// The key, if one was kept (a consistent read: a session made a moment ago verifies).
    async fn portal_key(&self) -> Result<Option<String>, StoreError>;
    /// Keeps `key` unless a key is kept already, and answers the one kept: of two processes
    /// making the first key at once, both then sign with the same.
    async fn keep_portal_key(&self, key: &str) -> Result<String, StoreError>;
}

/// How long a refused ingest message's record is kept: as long as SQS keeps it on the ingest
/// dead-letter queue (its longest retention).
pub(crate) const REFUSAL_RETENTION: Duration = Duration::from_secs(14 * 86_400);

#[async_trait]
pub trait RefusalRecord: Send + Sync {
    /// Keeps `refusal` for `entity` (`REFUSAL_RETENTION`); the same refusal again rewrites it.
    async fn record_refusal(&self, entity: EntityId, refusal: &Refusal) -> Result<(), StoreError>;
}

#[async_trait]
pub trait RefusalList: Send + Sync {
    /// A page of `entity`'s refusals, newest first.
    async fn list_refusals(&self, entity: EntityId, page: PageRequest) -> Result<Page<Refusal>, StoreError>;
}

#[async_trait]
pub trait RateLimitStore: Send + Sync {
    /// `requests` at once (all or none) against `key`'s limit at `now_us` (unix microseconds),
    /// counted in one counter that every instance shares (`crate::rate_limit::gcra`): one
    /// write however many they are.
    async fn take_many(
        &self,
        key: &str,
        policy: &RatePolicy,
        requests: u32,
        now_us: i64,
    ) -> Result<Decision, StoreError>;

    /// One request against `key`'s limit.
    async fn take(&self, key: &str, policy: &RatePolicy, now_us: i64) -> Result<Decision, StoreError> {
        self.take_many(key, policy, 1, now_us).await
    }
}
