//! `POST /api/managing-entity/{entityId}/event`: fans an event out to every matching webhook,
//! one delivery record each and one queue message per enabled one; a paused webhook gets a
//! `skipped` record, so its log shows what it missed.
//!
//! The fan-out is crash-safe. Its plan (targets and delivery ids) is stored first, under the
//! event id, with the deliveries still to enqueue; each batch the queue accepts is taken off
//! that list. A publish that fails midway answers 503 and leaves the plan; retried with the
//! same event id it enqueues only what is left, so every delivery is enqueued once. A publish
//! whose plan has nothing left is a duplicate.

use std::collections::HashSet;
use std::time::Duration;

use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};
use serde_json::json;

use super::{json_object, json_response, respond, scoped};
use crate::error::Error;
use crate::model::{
    Delivery, DeliveryMessage, DeliveryStatus, EntityId, Event, EventIn, FanOutPlan, FanOutTarget, Timestamp, Webhook,
};
use crate::queue::{DeliveryEnqueue, message_body};
use crate::runtime::Context;
use crate::store::{DeliveryInsert, EventOutbox, PageRequest, WebhookList};

/// How long a published event id is remembered, so a repeat publishes nothing.
pub const EVENT_ID_TTL: Duration = Duration::from_secs(24 * 3600);
/// SendMessageBatch's limit: the outbox is updated after each batch.
const ENQUEUE_BATCH: usize = 10;

pub async fn publish_event<S, Q>(ctx: &Context, store: &S, queue: &Q, request: Request) -> Response<Body>
where
    S: WebhookList + EventOutbox + DeliveryInsert + ?Sized,
    Q: DeliveryEnqueue + ?Sized,
{
    let result = async {
        let scope = scoped(&request, &ctx.settings)?;
        let input = EventIn::parse(&json_object(&request)?)?;
        let now = Timestamp::new(ctx.clock.now());
        let event_id = input.id.clone().unwrap_or_else(|| ctx.ids.new_id().to_string());
        let occurred_at = input.occurred_at.unwrap_or(now);
        // The queue takes messages up to 256 KiB: refuse a larger one before planning anything.
        let sample = Event { id: event_id.clone(), event_type: input.event_type.clone(), occurred_at, data: input.data.clone() };
        message_body(&DeliveryMessage {
            delivery_id: ctx.ids.new_id(),
            webhook_id: crate::model::WebhookId(ctx.ids.new_id()),
            owner_identifier: scope.entity,
            event: sample,
        })?;

        let targets: Vec<FanOutTarget> = matching_webhooks(store, scope.entity, &input.event_type)
            .await?
            .iter()
            .map(|w| FanOutTarget { webhook_id: w.info.id, delivery_id: ctx.ids.new_id(), enabled: w.info.enabled })
            .collect();
        let pending = targets.iter().filter(|t| t.enabled).map(|t| t.delivery_id).collect();
        let fresh = FanOutPlan { event_id, event_type: input.event_type, occurred_at, targets, pending };
        let (plan, created) = store.open_fan_out(scope.entity, &fresh, now, EVENT_ID_TTL).await?;
        if !created && plan.pending.is_empty() {
            tracing::info!(event_id = %plan.event_id, "duplicate publish");
            return json_response(StatusCode::OK, &json!({"eventId": plan.event_id, "duplicate": true}));
        }
        let event = Event { id: plan.event_id.clone(), event_type: plan.event_type.clone(), occurred_at: plan.occurred_at, data: input.data };
        enqueue_pending(store, queue, scope.entity, &plan, &event, created).await?;
        let deliveries = plan.targets.iter().filter(|t| t.enabled).count();
        tracing::info!(event_id = %event.id, event_type = %event.event_type, deliveries, resumed = !created, "event published");
        json_response(StatusCode::ACCEPTED, &json!({"eventId": event.id, "deliveries": deliveries}))
    }
    .await;
    respond(&request, result)
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
