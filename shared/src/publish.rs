//! Publishing an event: every matching webhook gets a delivery record, and each enabled one a
//! queue message; a paused webhook gets a `skipped` record, so its log shows what it missed.
//!
//! The fan-out is crash-safe. Its plan (targets and delivery ids) is stored first, under the
//! event id, with the deliveries still to enqueue; each batch the queue accepts is taken off
//! that list. A publish that fails midway leaves the plan; retried with the same event id it
//! enqueues only what is left, so every delivery is enqueued once. A publish whose plan has
//! nothing left is a duplicate.

use std::collections::HashSet;
use std::time::Duration;

use crate::error::Error;
use crate::model::{
    Delivery, DeliveryMessage, DeliveryStatus, EntityId, Event, EventIn, FanOutPlan, FanOutTarget, Timestamp, Webhook,
    WebhookId,
};
use crate::queue::{DeliveryEnqueue, message_body};
use crate::runtime::IdGenerator;
use crate::store::{DeliveryInsert, EventOutbox, PageRequest, WebhookList};

/// How long a published event id is remembered, so a repeat publishes nothing.
pub const EVENT_ID_TTL: Duration = Duration::from_secs(24 * 3600);
/// SendMessageBatch's limit: the outbox is updated after each batch.
const ENQUEUE_BATCH: usize = 10;

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
    S: WebhookList + EventOutbox + DeliveryInsert + ?Sized,
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

/// Writes the records of the plan's pending deliveries (and, the first time, the skipped
/// ones), then enqueues the pending ones a batch at a time, ticking each batch off the plan.
/// A resumed publish writes only the records still missing: a batch enqueued before the tick
/// failed may have been delivered since, and its records must stay as they are.
async fn enqueue_pending<S, Q>(
    store: &S,
    queue: &Q,
    owner: EntityId,
    plan: &FanOutPlan,
    event: &Event,
    created: bool,
) -> Result<(), Error>
where
    S: EventOutbox + DeliveryInsert + ?Sized,
    Q: DeliveryEnqueue + ?Sized,
{
    let pending: HashSet<_> = plan.pending.iter().collect();
    let mut records = Vec::new();
    let mut messages = Vec::new();
    for target in &plan.targets {
        let mut record = Delivery::pending(target.delivery_id, target.webhook_id, event);
        if pending.contains(&target.delivery_id) {
            messages.push(DeliveryMessage {
                delivery_id: target.delivery_id,
                webhook_id: target.webhook_id,
                owner_identifier: owner,
                event: event.clone(),
            });
            records.push(record);
        } else if created && !target.enabled {
            record.status = DeliveryStatus::Skipped;
            records.push(record);
        }
    }
    if created {
        store.insert_deliveries(&records).await?;
    } else {
        store.insert_missing_deliveries(&records).await?;
    }
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
