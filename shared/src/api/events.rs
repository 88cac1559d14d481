//! `POST /api/managing-entity/{entityId}/event`, the HTTP adapter of `crate::publish`, and
//! `GET .../event/{eventId}`: the event as published and every delivery it planned.

use lambda_http::Request;
use lambda_http::http::StatusCode;
use serde::Serialize;

use super::rate_limits::take_publish;
use super::{Handled, json_object, json_response, path_text, scoped};
use crate::auth::PUBLISH_SCOPE;
use crate::error::{Error, add_rate_limit_headers};
use crate::model::{EventIn, Timestamp};
use crate::publish::{Published, publish};
use crate::queue::DeliveryEnqueue;
use crate::runtime::ApiContext;
use crate::service::event_view;
use crate::store::{DeliveryGet, EventGet, EventTypeGet, PublishStore, RateLimitStore, event_type};

/// A publish that planned `deliveries` (202).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct AcceptedOut {
    event_id: String,
    deliveries: usize,
}

/// A publish of an event id published before (200).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct DuplicateOut {
    event_id: String,
    duplicate: bool,
}

pub(crate) async fn publish_event<S, Q>(ctx: &ApiContext, store: &S, queue: &Q, request: Request) -> Handled
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
    let mut response = match publish(store, queue, ctx.ids.as_ref(), entity, input, now, ctx.settings.resend_delay)
        .await?
    {
        Published::Accepted { event_id, deliveries } => {
            json_response(StatusCode::ACCEPTED, &AcceptedOut { event_id, deliveries })
        }
        Published::Duplicate { event_id } => json_response(StatusCode::OK, &DuplicateOut { event_id, duplicate: true }),
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

pub(crate) async fn get_event<S>(ctx: &ApiContext, store: &S, request: Request) -> Handled
where
    S: EventGet + DeliveryGet + ?Sized,
{
    let scope = scoped(&request, &ctx.settings)?;
    let event_id = path_text(&request, "eventId")?;
    json_response(StatusCode::OK, &event_view(store, &scope, &event_id).await?)
}
