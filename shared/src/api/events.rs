//! `POST /api/managing-entity/{entityId}/event`: fans an event out to every matching, enabled
//! webhook, one delivery record and one queue message each. A matching webhook that is paused
//! gets a `skipped` record and no message, so its log shows what it missed.

use std::time::Duration;

use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};
use serde_json::json;
use uuid::Uuid;

use super::{json_object, json_response, respond, scoped};
use crate::error::Error;
use crate::model::{Delivery, DeliveryMessage, DeliveryStatus, EntityId, Event, EventIn, Timestamp, Webhook};
use crate::queue::{DeliveryEnqueue, message_body};
use crate::runtime::Context;
use crate::store::{DeliveryInsert, EventClaim, PageRequest, WebhookList};

/// How long a published event id is remembered, so a repeat publishes nothing.
pub const EVENT_ID_TTL: Duration = Duration::from_secs(24 * 3600);

pub async fn publish_event<S, Q>(ctx: &Context, store: &S, queue: &Q, request: Request) -> Response<Body>
where
    S: WebhookList + EventClaim + DeliveryInsert + ?Sized,
    Q: DeliveryEnqueue + ?Sized,
{
    let result = async {
        let scope = scoped(&request, &ctx.settings)?;
        let input = EventIn::parse(&json_object(&request)?)?;
        let now = Timestamp::new(ctx.clock.now());
        let event = Event {
            id: input.id.clone().unwrap_or_else(|| ctx.ids.new_id().to_string()),
            event_type: input.event_type,
            occurred_at: input.occurred_at.unwrap_or(now),
            data: input.data,
        };
        if input.id.is_some() && !store.claim_event(scope.entity, &event.id, now, EVENT_ID_TTL).await? {
            tracing::info!(event_id = %event.id, "duplicate publish");
            return json_response(StatusCode::OK, &json!({"eventId": event.id, "duplicate": true}));
        }
        let fanned_out = fan_out(ctx, store, queue, scope.entity, &event).await;
        let count = match fanned_out {
            Ok(count) => count,
            Err(err) => {
                // Without the claim, the publisher's retry of the same id fans out again.
                if input.id.is_some() {
                    if let Err(release) = store.release_event(scope.entity, &event.id).await {
                        tracing::error!(event_id = %event.id, error = %crate::error::chain(&release), "could not release the event id");
                    }
                }
                return Err(err);
            }
        };
        tracing::info!(event_id = %event.id, event_type = %event.event_type, deliveries = count, "event published");
        json_response(StatusCode::ACCEPTED, &json!({"eventId": event.id, "deliveries": count}))
    }
    .await;
    respond(&request, result)
}

/// Writes a delivery per matching webhook, then enqueues the pending ones; answers how many.
async fn fan_out<S, Q>(ctx: &Context, store: &S, queue: &Q, owner: EntityId, event: &Event) -> Result<usize, Error>
where
    S: WebhookList + DeliveryInsert + ?Sized,
    Q: DeliveryEnqueue + ?Sized,
{
    let mut deliveries = Vec::new();
    let mut messages = Vec::new();
    for webhook in matching_webhooks(store, owner, &event.event_type).await? {
        let delivery_id: Uuid = ctx.ids.new_id();
        let mut delivery = Delivery::pending(delivery_id, webhook.info.id, event);
        if webhook.info.enabled {
            let webhook_id = webhook.info.id;
            messages.push(DeliveryMessage { delivery_id, webhook_id, owner_identifier: owner, event: event.clone() });
        } else {
            delivery.status = DeliveryStatus::Skipped;
        }
        deliveries.push(delivery);
    }
    // Every message is the same size but for ids: refuse an oversized one before writing anything.
    if let Some(first) = messages.first() {
        message_body(first)?;
    }
    store.insert_deliveries(&deliveries).await?;
    queue.enqueue(&messages).await?;
    Ok(messages.len())
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
