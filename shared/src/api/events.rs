//! `POST /api/managing-entity/{entityId}/event`, the HTTP adapter of `crate::publish`, and
//! `GET .../event/{eventId}`: the event as published and every delivery it planned.

use lambda_http::http::StatusCode;

use lambda_http::{Body, Request, RequestExt, Response};
use serde_json::json;

use super::rate_limits::take_publish;
use super::{json_object, json_response, scoped};
use crate::auth::PUBLISH_SCOPE;
use crate::error::{Error, add_rate_limit_headers};
use crate::model::{DeliveryStatus, EventIn, Timestamp};
use crate::publish::{Published, publish};
use crate::queue::DeliveryEnqueue;
use crate::runtime::Context;
use crate::store::{DeliveryGet, EventGet, EventTypeGet, PublishStore, RateLimitStore, delivery_states, event_type};

pub async fn publish_event<S, Q>(ctx: &Context, store: &S, queue: &Q, request: Request) -> Result<Response<Body>, Error>
where
    S: PublishStore + EventTypeGet + RateLimitStore + ?Sized,
    Q: DeliveryEnqueue + ?Sized,
{
    let scope = scoped(&request, &ctx.settings)?;
    let entity = scope.entity()?;
    scope.caller.require(PUBLISH_SCOPE)?;
    let input = EventIn { idempotency_key: idempotency_key(&request)?, ..EventIn::parse(&json_object(&request)?)? };
    input.check_type(event_type(store, &input.event_type).await?.as_ref())?;
    // Counted only once the caller may publish for the entity and the event is well formed.
    let verdict = take_publish(ctx, store, entity).await?;
    let now = Timestamp::new(ctx.clock.now());
    let mut response =
        match publish(store, queue, ctx.ids.as_ref(), entity, input, now, ctx.settings.resend_delay).await? {
            Published::Accepted { event_id, deliveries } => {
                json_response(StatusCode::ACCEPTED, &json!({"eventId": event_id, "deliveries": deliveries}))
            }
            Published::Duplicate { event_id } => {
                json_response(StatusCode::OK, &json!({"eventId": event_id, "duplicate": true}))
            }
        }?;
    add_rate_limit_headers(&mut response, &verdict);
    Ok(response)
}

/// The longest `Idempotency-Key` taken, as event ids.
const MAX_IDEMPOTENCY_KEY_CHARS: usize = 255;

/// The `Idempotency-Key` header, when given: 1 to 255 printable characters.
fn idempotency_key(request: &Request) -> Result<Option<String>, Error> {
    let Some(value) = request.headers().get("idempotency-key") else { return Ok(None) };
    let key = value.to_str().ok().map(str::trim).filter(|k| !k.is_empty() && k.len() <= MAX_IDEMPOTENCY_KEY_CHARS);
    key.map(|k| Some(k.to_string())).ok_or_else(|| {
        Error::BadRequest(format!("Idempotency-Key must be 1 to {MAX_IDEMPOTENCY_KEY_CHARS} printable characters"))
    })
}

pub async fn get_event<S: EventGet + DeliveryGet + ?Sized>(
    ctx: &Context,
    store: &S,
    request: Request,
) -> Result<Response<Body>, Error> {
    let scope = scoped(&request, &ctx.settings)?;
    let params = request.path_parameters();
    let event_id = params.first("eventId").ok_or_else(|| Error::BadRequest("missing path parameter eventId".into()))?;
    let plan = store.get_plan(scope.entity()?, event_id, None).await?.ok_or(Error::NotFound)?;
    let keys: Vec<_> = plan.targets.iter().map(|t| (t.webhook_id, t.delivery_id)).collect();
    let recorded = delivery_states(store, &keys).await?;
    // A planned delivery has a record from its first attempt; until then it is what the
    // plan makes it. A delivery to a global webhook is its account's to see: the entity's
    // view does not show another account that a partner's webhook exists.
    let deliveries: Vec<_> = plan
        .targets
        .iter()
        .filter(|t| !t.global || (t.account.is_some() && t.account == scope.caller.account))
        .map(|t| {
            let planned = if t.enabled { DeliveryStatus::Pending } else { DeliveryStatus::Skipped };
            let status = recorded.get(&t.delivery_id).map_or(planned, |s| s.status);
            json!({"webhookId": t.webhook_id, "deliveryId": t.delivery_id, "status": status})
        })
        .collect();
    let view = json!({
        "id": plan.event_id,
        "type": plan.event_type,
        "occurredAt": plan.occurred_at,
        "data": plan.data,
        "deliveries": deliveries,
    });
    json_response(StatusCode::OK, &view)
}
