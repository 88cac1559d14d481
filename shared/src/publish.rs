//! Publishing an event: every matching webhook is planned a delivery, and each enabled one gets
//! a queue message (its record starts with its first attempt); a paused webhook gets a
//! `skipped` record at once, so its log shows what it missed.
//!
//! The fan-out is crash-safe without bookkeeping writes. Its plan (targets and delivery ids)
//! is stored once, with the event, under the event id; then the messages are sent. A publish
//! that fails midway leaves the plan; retried with the same event id, it answers as for any
//! duplicate and sends a copy, marked `resent` and delayed by the resend delay, of every
//! planned delivery that has no step yet (one it cannot tell was sent). The deliver step drops
//! a copy whose delivery has started by the time it arrives (the original carries it) and
//! otherwise carries the delivery itself. Nothing is lost; the receiver gets an event twice
//! only if an original is still unstarted after the delay (a queue backed up that long),
//! which at-least-once delivery allows: the `webhook-id` is the same.

use std::time::Duration;

use futures::{StreamExt, TryStreamExt};

use async_trait::async_trait;

use crate::error::Error;
use crate::model::{
    DISABLED_EVENT_TYPE, DeliveryMessage, DeliveryStatus, DeliveryStep, EntityId, Event, EventIn, FanOutPlan,
    FanOutTarget, Ordering, Timestamp, Webhook, WebhookId, event_body,
};
use crate::queue::{DeliveryEnqueue, message_body};
use crate::runtime::IdGenerator;
use crate::store::{
    DeliveryGet, DeliveryRecord, DeliveryStats, EventInsert, Tally, WebhookSubscribers, delivery_states,
};

/// How long a published event id is remembered, so a repeat publishes nothing.
pub const EVENT_ID_TTL: Duration = Duration::from_secs(24 * 3600);
/// SendMessageBatch's limit.
const ENQUEUE_BATCH: usize = 10;
/// Skipped records written at once.
const CONCURRENT_WRITES: usize = 10;

/// What came of a publish.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Published {
    /// Planned and enqueued: `deliveries` enabled webhooks will be POSTed.
    Accepted { event_id: String, deliveries: usize },
    /// The event id was published before: nothing new is planned, and a copy of each
    /// delivery that has not started is sent, delayed, in case the first try stopped midway.
    Duplicate { event_id: String },
}

/// Publishes `input` for `owner` at `now`.
pub async fn publish<S, Q>(
    store: &S,
    queue: &Q,
    ids: &dyn IdGenerator,
    owner: EntityId,
    input: EventIn,
    now: Timestamp,
    resend_delay: Duration,
) -> Result<Published, Error>
where
    S: WebhookSubscribers + EventInsert + DeliveryGet + DeliveryRecord + DeliveryStats + ?Sized,
    Q: DeliveryEnqueue + ?Sized,
{
    let event_id = input.id.clone().unwrap_or_else(|| ids.new_id().to_string());
    let occurred_at = input.occurred_at.unwrap_or(now);
    // The queue takes messages up to its limit: refuse a larger one before planning anything.
    let sample =
        Event { id: event_id.clone(), event_type: input.event_type.clone(), occurred_at, data: input.data.clone() };
    let body = event_body(&sample, Some(owner));
    message_body(&DeliveryMessage {
        delivery_id: ids.new_id(),
        webhook_id: WebhookId(ids.new_id()),
        owner_identifier: owner,
        global: false,
        event: sample,
        resent: false,
        fifo: false,
    })?;

    let targets: Vec<FanOutTarget> = store
        .subscribers(owner)
        .await?
        .iter()
        // An event a webhook's filter refuses is neither delivered nor recorded for it.
        .filter(|w| w.info.event_list.matches(&input.event_type))
        .filter(|w| w.info.options.filter.as_ref().is_none_or(|filter| filter.matches(&body)))
        .map(|w| FanOutTarget {
            webhook_id: w.info.id,
            delivery_id: ids.new_id(),
            enabled: w.info.enabled,
            global: w.info.owner_identifier.is_none(),
            fifo: w.info.options.ordering == Ordering::Fifo,
        })
        .collect();
    let data = input.data;
    let fresh = FanOutPlan { event_id, event_type: input.event_type, occurred_at, data, targets };
    let (plan, created) = store.open_fan_out(owner, &fresh, now, EVENT_ID_TTL).await?;
    // A retried publish sends the event as it was first published.
    let event = Event {
        id: plan.event_id.clone(),
        event_type: plan.event_type.clone(),
        occurred_at: plan.occurred_at,
        data: plan.data.clone(),
    };
    record_skipped(store, owner, &plan, &event).await?;
    let enabled = plan.targets.iter().filter(|t| t.enabled);
    let unstarted: Vec<&FanOutTarget> = if created {
        enabled.collect()
    } else {
        let keys: Vec<_> = enabled.clone().map(|t| (t.webhook_id, t.delivery_id)).collect();
        let started = delivery_states(store, &keys).await?;
        enabled.filter(|t| !started.contains_key(&t.delivery_id)).collect()
    };
    let messages: Vec<_> = unstarted
        .iter()
        .map(|t| DeliveryMessage {
            delivery_id: t.delivery_id,
            webhook_id: t.webhook_id,
            owner_identifier: owner,
            global: t.global,
            event: event.clone(),
            resent: !created,
            fifo: t.fifo,
        })
        .collect();
    // A copy waits, so that an original still on the queue starts first and the copy is dropped.
    let delay = if created { Duration::ZERO } else { resend_delay };
    for batch in messages.chunks(ENQUEUE_BATCH) {
        queue.enqueue(batch, delay).await?;
    }
    if !created {
        tracing::info!(event_id = %event.id, resent = messages.len(), "duplicate publish");
        return Ok(Published::Duplicate { event_id: event.id });
    }
    let deliveries = messages.len();
    tracing::info!(event_id = %event.id, event_type = %event.event_type, deliveries, "event published");
    Ok(Published::Accepted { event_id: event.id, deliveries })
}

/// Records the paused webhooks' deliveries as skipped. A retried publish writes them again,
/// as its first try may have stopped before; a step already stored is left as it is.
async fn record_skipped<S: DeliveryRecord + DeliveryStats + ?Sized>(
    store: &S,
    owner: EntityId,
    plan: &FanOutPlan,
    event: &Event,
) -> Result<(), Error> {
    let skipped: Vec<_> = plan
        .targets
        .iter()
        .filter(|t| !t.enabled)
        .map(|t| DeliveryStep::of(t.delivery_id, t.webhook_id, owner, event, 1, DeliveryStatus::Skipped))
        .collect();
    // Collected first: a stream of borrowing closures would not be `Send` for every lifetime.
    let tally = Tally::new(store);
    let writes: Vec<_> = skipped.iter().map(|step| tally.record(step)).collect();
    let written = futures::stream::iter(writes).buffer_unordered(CONCURRENT_WRITES).try_collect::<Vec<_>>().await;
    tally.flush().await;
    written?;
    Ok(())
}

/// The platform's notice that it disabled a webhook (docs/contract.md 12), which the deliver step
/// publishes.
#[async_trait]
pub trait DisableNotice: Send + Sync {
    /// Publishes `webhook.disabled` for `webhook`, as the platform disabled it, to its entity's
    /// webhooks that subscribe to it. Its event id is the webhook's id and version, so that
    /// publishing it again (after a failure midway) plans nothing twice.
    async fn webhook_disabled(&self, webhook: &Webhook, now: Timestamp) -> Result<(), Error>;
}

/// `DisableNotice` through `publish`.
pub struct Notices<'a, S: ?Sized, Q: ?Sized> {
    pub store: &'a S,
    pub queue: &'a Q,
    pub ids: &'a dyn IdGenerator,
    pub resend_delay: Duration,
}

#[async_trait]
impl<S, Q> DisableNotice for Notices<'_, S, Q>
where
    S: WebhookSubscribers + EventInsert + DeliveryGet + DeliveryRecord + DeliveryStats + ?Sized,
    Q: DeliveryEnqueue + ?Sized,
{
    async fn webhook_disabled(&self, webhook: &Webhook, now: Timestamp) -> Result<(), Error> {
        let Some(entity) = webhook.info.owner_identifier else {
            // A global webhook belongs to no entity, whose webhooks would be told; its
            // `disabledReason` says why to whoever manages it.
            tracing::info!(webhook_id = %webhook.info.id, "a global webhook was disabled: no entity to notify");
            return Ok(());
        };
        let input = EventIn {
            id: Some(format!("{DISABLED_EVENT_TYPE}.{}.{}", webhook.info.id, webhook.info.version)),
            event_type: DISABLED_EVENT_TYPE.into(),
            data: webhook.disabled_notice(),
            occurred_at: Some(webhook.info.last_update),
        };
        publish(self.store, self.queue, self.ids, entity, input, now, self.resend_delay).await.map(|_| ())
    }
}
