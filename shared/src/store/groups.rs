//! The store traits grouped by who holds them: publishing, the deliver function, and the whole
//! store (the runner and the contract tests). Each function still takes only the narrow traits
//! it uses.

use super::{
    AccessTokenStore, DeliveryGet, DeliveryList, DeliveryRecord, DeliveryStats, EventGet, EventInsert, EventTypeGet,
    EventTypePut, FifoGate, PortalKeyStore, RateLimitStore, RefusalList, RefusalRecord, WebhookDelete, WebhookGet,
    WebhookHealth, WebhookInsert, WebhookList, WebhookReplace, WebhookSubscribers,
};

/// What the deliver function reads and writes: deliveries, and the pages of fan-outs and
/// recoveries (publishing a `webhook.disabled` notice aside).
pub trait DeliveryStore:
    WebhookGet
    + WebhookHealth
    + DeliveryGet
    + DeliveryRecord
    + DeliveryStats
    + DeliveryList
    + EventGet
    + FifoGate
    + AccessTokenStore
    + RateLimitStore
{
}

impl<T> DeliveryStore for T where
    T: WebhookGet
        + WebhookHealth
        + DeliveryGet
        + DeliveryRecord
        + DeliveryStats
        + DeliveryList
        + EventGet
        + FifoGate
        + AccessTokenStore
        + RateLimitStore
        + ?Sized
{
}

/// What publishing reads and writes: the subscribers, the event with its plan, and a paused
/// webhook's skipped delivery, counted in its statistics.
pub trait PublishStore:
    WebhookSubscribers + EventInsert + EventGet + DeliveryGet + DeliveryRecord + DeliveryStats
{
}

impl<T> PublishStore for T where
    T: WebhookSubscribers + EventInsert + EventGet + DeliveryGet + DeliveryRecord + DeliveryStats + ?Sized
{
}

/// Every operation: what the local runner and the contract tests hold.
pub trait Store:
    PublishStore
    + DeliveryStore
    + WebhookList
    + WebhookInsert
    + WebhookReplace
    + WebhookDelete
    + EventTypeGet
    + EventTypePut
    + RefusalRecord
    + RefusalList
    + PortalKeyStore
{
}

impl<T> Store for T where
    T: PublishStore
        + DeliveryStore
        + WebhookList
        + WebhookInsert
        + WebhookReplace
        + WebhookDelete
        + EventTypeGet
        + EventTypePut
        + RefusalRecord
        + RefusalList
        + PortalKeyStore
{
}
