//! Publishing an event: every matching webhook is planned a delivery, and each enabled one gets
//! a queue message (its record starts with its first attempt); a paused webhook gets a
//! `skipped` record at once, so its log shows what it missed.
//!
//! The fan-out is crash-safe. Its plan (targets and delivery ids) is stored first, under the
//! event id, with the deliveries still to enqueue; each batch the queue accepts is taken off
//! that list. A publish that fails midway leaves the plan; retried with the same event id it
//! enqueues only what is left, so every delivery is enqueued once. A publish whose plan has
//! nothing left is a duplicate.

use std::collections::HashSet;
use std::time::Duration;

use futures::{StreamExt, TryStreamExt};

use crate::error::Error;
use crate::model::{
    DeliveryMessage, DeliveryStatus, DeliveryStep, EntityId, Event, EventIn, FanOutPlan, FanOutTarget, Timestamp,
    Webhook, WebhookId,
};
use crate::queue::{DeliveryEnqueue, message_body};
use crate::runtime::IdGenerator;
use crate::store::{DeliveryRecord, EventOutbox, PageRequest, WebhookList};

/// How long a published event id is remembered, so a repeat publishes nothing.
pub const EVENT_ID_TTL: Duration = Duration::from_secs(24 * 3600);
/// SendMessageBatch's limit: the outbox is updated after each batch.
const ENQUEUE_BATCH: usize = 10;
/// Skipped records written at once.
const CONCURRENT_WRITES: usize = 10;

/// What came of a publish.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Published {
    /// Planned (or resumed) and enqueued: `deliveries` enabled webhooks will be POSTed.
    Accepted { event_id: String, deliveries: usize },
    /// The event id was published before and nothing of it is left to enqueue.
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
) -> Result<Published, Error>
where
    S: WebhookList + EventOutbox + DeliveryRecord + ?Sized,
    Q: DeliveryEnqueue + ?Sized,
{
    let event_id = input.id.clone().unwrap_or_else(|| ids.new_id().to_string());
    let occurred_at = input.occurred_at.unwrap_or(now);
    // The queue takes messages up to its limit: refuse a larger one before planning anything.
    let sample =
        Event { id: event_id.clone(), event_type: input.event_type.clone(), occurred_at, data: input.data.clone() };
    message_body(&DeliveryMessage {
        delivery_id: ids.new_id(),
        webhook_id: WebhookId(ids.new_id()),
        owner_identifier: owner,
        event: sample,
        resent: false,
    })?;

    let targets: Vec<FanOutTarget> = matching_webhooks(store, owner, &input.event_type)
        .await?
        .iter()
        .map(|w| FanOutTarget { webhook_id: w.info.id, delivery_id: ids.new_id(), enabled: w.info.enabled })
        .collect();
    let pending = targets.iter().filter(|t| t.enabled).map(|t| t.delivery_id).collect();
    let data = input.data;
    let fresh = FanOutPlan { event_id, event_type: input.event_type, occurred_at, data, targets, pending };
    let (plan, created) = store.open_fan_out(owner, &fresh, now, EVENT_ID_TTL).await?;
    if !created && plan.pending.is_empty() {
        tracing::info!(event_id = %plan.event_id, "duplicate publish");
        return Ok(Published::Duplicate { event_id: plan.event_id });
    }
    // A resumed publish sends the event as it was first published.
    let event = Event {
        id: plan.event_id.clone(),
        event_type: plan.event_type.clone(),
        occurred_at: plan.occurred_at,
        data: plan.data.clone(),
    };
    enqueue_pending(store, queue, owner, &plan, &event, created).await?;
    let deliveries = plan.targets.iter().filter(|t| t.enabled).count();
    tracing::info!(event_id = %event.id, event_type = %event.event_type, deliveries, resumed = !created, "event published");
    Ok(Published::Accepted { event_id: event.id, deliveries })
}

/// Records the paused webhooks' deliveries as skipped, then enqueues the pending ones a batch
/// at a time, ticking each batch off the plan. A resumed publish marks its messages `resent`:
/// a batch enqueued before the tick failed may have been delivered since, and the deliver
/// step must read its record before it sends it again.
async fn enqueue_pending<S, Q>(
    store: &S,
    queue: &Q,
    owner: EntityId,
    plan: &FanOutPlan,
    event: &Event,
    created: bool,
) -> Result<(), Error>
where
    S: EventOutbox + DeliveryRecord + ?Sized,
    Q: DeliveryEnqueue + ?Sized,
{
    let pending: HashSet<_> = plan.pending.iter().collect();
    let messages: Vec<_> = plan
        .targets
        .iter()
        .filter(|t| pending.contains(&t.delivery_id))
        .map(|t| DeliveryMessage {
            delivery_id: t.delivery_id,
            webhook_id: t.webhook_id,
            owner_identifier: owner,
            event: event.clone(),
            resent: !created,
        })
        .collect();
    // Written again on a resumed publish, as its first try may have stopped before: a step
    // already stored is left as it is.
    let skipped: Vec<_> = plan
        .targets
        .iter()
        .filter(|t| !t.enabled)
        .map(|t| DeliveryStep::of(t.delivery_id, t.webhook_id, event, 1, DeliveryStatus::Skipped))
        .collect();
    // Collected first: a stream of borrowing closures would not be `Send` for every lifetime.
    let skipped: Vec<_> = skipped.iter().map(|step| store.record_step(step)).collect();
    futures::stream::iter(skipped).buffer_unordered(CONCURRENT_WRITES).try_collect::<Vec<_>>().await?;
    for batch in messages.chunks(ENQUEUE_BATCH) {
        queue.enqueue(batch).await?;
        let ids: Vec<_> = batch.iter().map(|m| m.delivery_id).collect();
        store.mark_enqueued(owner, &event.id, &ids).await?;
    }
    Ok(())
}

async fn matching_webhooks<S: WebhookList + ?Sized>(
    store: &S,
    owner: EntityId,
    event_type: &str,
) -> Result<Vec<Webhook>, Error> {
    let mut matching = Vec::new();
    let mut after = None;
    loop {
        let page = store.list_webhooks(owner, PageRequest { limit: 100, after }).await?;
        matching.extend(page.items.into_iter().filter(|w| w.info.event_list.matches(event_type)));
        match page.next {
            Some(next) => after = Some(next),
            None => return Ok(matching),
        }
    }
}
