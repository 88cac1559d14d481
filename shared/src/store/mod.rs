//! Where webhooks live. One narrow trait per operation, so each handler asks only for what it
//! uses; `MemoryStore` and `DynamoStore` implement them with the same semantics, which the
//! contract tests in `tests/` check against both.

mod dynamo;
mod memory;

use std::time::Duration;

use async_trait::async_trait;
use uuid::Uuid;

pub use dynamo::DynamoStore;
pub use memory::MemoryStore;

use crate::error::Error;
use crate::model::{Delivery, DeliveryStatus, DeliveryUpdate, EntityId, FanOutPlan, Timestamp, Webhook, WebhookId};

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
    pub fn from_overfetch(mut items: Vec<T>, limit: usize, id_of: impl Fn(&T) -> Uuid) -> Self {
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
    async fn get_webhook(&self, owner: EntityId, id: WebhookId) -> Result<Option<Webhook>, Error>;
}

#[async_trait]
pub trait WebhookList: Send + Sync {
    /// The owner's webhooks in creation order (their ids are UUIDv7).
    async fn list_webhooks(&self, owner: EntityId, page: PageRequest) -> Result<Page<Webhook>, Error>;
}

#[async_trait]
pub trait WebhookInsert: Send + Sync {
    /// Stores a webhook whose id is new.
    async fn insert_webhook(&self, webhook: &Webhook) -> Result<(), Error>;
}

#[async_trait]
pub trait WebhookReplace: Send + Sync {
    /// Replaces the stored webhook only if its version is still `expected`; otherwise
    /// `VersionConflict` with the stored version, or `NotFound`.
    async fn replace_webhook(&self, webhook: &Webhook, expected: u64) -> Result<(), Error>;
}

#[async_trait]
pub trait WebhookDelete: Send + Sync {
    /// Deletes the webhook, if `expected` is given only at that version (`VersionConflict`
    /// otherwise); `NotFound` when there is none.
    async fn delete_webhook(&self, owner: EntityId, id: WebhookId, expected: Option<u64>) -> Result<(), Error>;
}

/// Every webhook operation: what the local runner and the contract tests hold.
pub trait WebhookStore: WebhookGet + WebhookList + WebhookInsert + WebhookReplace + WebhookDelete {}

impl<T: WebhookGet + WebhookList + WebhookInsert + WebhookReplace + WebhookDelete> WebhookStore for T {}

#[async_trait]
pub trait EventOutbox: Send + Sync {
    /// Stores `plan` for its event unless a plan stored less than `ttl` ago exists (the
    /// dedupe window; the plan itself is kept longer, for the event view); answers the plan in
    /// force and whether it is `plan`.
    async fn open_fan_out(
        &self,
        owner: EntityId,
        plan: &FanOutPlan,
        now: Timestamp,
        ttl: Duration,
    ) -> Result<(FanOutPlan, bool), Error>;
    /// Takes deliveries the queue accepted off the plan's pending list.
    async fn mark_enqueued(&self, owner: EntityId, event_id: &str, deliveries: &[Uuid]) -> Result<(), Error>;
}

#[async_trait]
pub trait DeliveryInsert: Send + Sync {
    /// Stores records whose ids were never stored (a fresh fan-out plan's).
    async fn insert_deliveries(&self, deliveries: &[Delivery]) -> Result<(), Error>;
    /// Stores the records not stored yet and leaves the others as they are: a resumed publish
    /// must not turn a delivery that has moved on back into a pending one.
    async fn insert_missing_deliveries(&self, deliveries: &[Delivery]) -> Result<(), Error>;
}

#[async_trait]
pub trait EventGet: Send + Sync {
    /// The event's fan-out plan, with its data, however long ago it was published (within
    /// the retention of delivery records).
    async fn get_event(&self, owner: EntityId, event_id: &str) -> Result<Option<FanOutPlan>, Error>;
}

#[async_trait]
pub trait DeliveryGet: Send + Sync {
    async fn get_delivery(&self, webhook: WebhookId, delivery: Uuid) -> Result<Option<Delivery>, Error>;
    /// The stored ones of these deliveries, in no particular order.
    async fn get_deliveries(&self, keys: &[(WebhookId, Uuid)]) -> Result<Vec<Delivery>, Error>;
}

/// Whether a delivery step was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recorded {
    Written,
    /// The record had moved on since it was read (finished, or another copy of the message
    /// recorded an attempt first): nothing was written.
    Stale,
}

#[async_trait]
pub trait DeliveryRecord: Send + Sync {
    /// Applies one delivery step (`Delivery::apply`) to the stored record if it is still
    /// pending with `recorded` attempts, as it was read; `NotFound` when there is none.
    async fn update_delivery(
        &self,
        webhook: WebhookId,
        delivery: Uuid,
        recorded: usize,
        update: &DeliveryUpdate,
    ) -> Result<Recorded, Error>;
}

#[async_trait]
pub trait DeliveryList: Send + Sync {
    /// A webhook's deliveries, newest first; only those in `status` when given.
    async fn list_deliveries(
        &self,
        webhook: WebhookId,
        page: PageRequest,
        status: Option<DeliveryStatus>,
    ) -> Result<Page<Delivery>, Error>;
}

/// What delivering reads and writes.
pub trait DeliveryStore: WebhookGet + DeliveryGet + DeliveryRecord {}

impl<T: WebhookGet + DeliveryGet + DeliveryRecord + ?Sized> DeliveryStore for T {}

/// Every operation: what the local runner and the contract tests hold.
pub trait Store: WebhookStore + EventOutbox + EventGet + DeliveryInsert + DeliveryList + DeliveryStore {}

impl<T: WebhookStore + EventOutbox + EventGet + DeliveryInsert + DeliveryList + DeliveryStore> Store for T {}
