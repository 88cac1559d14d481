//! `POST .../webhook/{webhookId}/test` (one synchronous signed attempt, whatever the webhook's
//! filter says, and whether it would let the event through) and
//! `GET .../webhook/{webhookId}/deliveries` (the attempt log, newest first, `status` filtering).

use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, RequestExt, Response};
use serde_json::json;

use super::{ListOut, encode_cursor, json_response, optional_json_object, page_request, scoped, webhook_id};
use crate::auth::PUBLISH_SCOPE;
use crate::delivery::{EventFor, WebhookSender, attempt_delivery};
use crate::error::Error;
use crate::model::{DeliveryStatus, Event, Timestamp, event_body};
use crate::runtime::Context;
use crate::store::{AccessTokenStore, DeliveryList, EventTypeGet, WebhookGet, event_type};

/// The type of the event the test route sends unless the body names a catalog type.
pub const TEST_EVENT_TYPE: &str = "webhook.test";

pub async fn test_webhook<S: WebhookGet + AccessTokenStore + EventTypeGet + ?Sized>(
    ctx: &Context,
    store: &S,
    sender: &dyn WebhookSender,
    request: Request,
) -> Result<Response<Body>, Error> {
    let scope = scoped(&request, &ctx.settings)?;
    let body = optional_json_object(&request)?;
    let webhook = scope.webhook(store, &request).await?;
    // The caller's `data`, to ask whether the filter would let such an event through: a
    // signed event of the caller's making, so it needs the right to publish one.
    let custom = body.get("data").filter(|v| !v.is_null()).cloned();
    if custom.is_some() {
        scope.caller.require(PUBLISH_SCOPE)?;
    }
    let (event_type, data) = match (body.get("eventType").filter(|v| !v.is_null()), custom) {
        (None, None) => (TEST_EVENT_TYPE.to_string(), json!({"message": "A test event sent from the webhook service"})),
        (None, Some(_)) => return Err(Error::validation("eventType", "is required with data")),
        (Some(name), custom) => {
            let name = name.as_str().unwrap_or_default();
            let known = event_type(store, name).await?;
            let known =
                known.ok_or_else(|| Error::validation("eventType", format!("{name:?} is not a known event type")))?;
            match custom {
                None => (known.name, known.example),
                Some(_) if known.platform => {
                    return Err(Error::validation(
                        "data",
                        "the platform's own event types are sent with their example only",
                    ));
                }
                Some(data) => {
                    known.check(&data)?;
                    (known.name, data)
                }
            }
        }
    };
    let event =
        Event { id: ctx.ids.new_id().to_string(), event_type, occurred_at: Timestamp::new(ctx.clock.now()), data };
    let entity = webhook.info.owner_identifier;
    let filter_matches = webhook.info.options.filter.as_ref().is_none_or(|f| f.matches(&event_body(&event, entity)));
    let published = EventFor { event: &event, entity, test: true };
    let outcome = attempt_delivery(sender, store, ctx.clock.as_ref(), &webhook, published, 1).await?;
    let attempt = outcome.attempt;
    json_response(
        StatusCode::OK,
        &json!({
            "delivered": outcome.delivered,
            "statusCode": attempt.status_code,
            "durationMs": attempt.duration_ms,
            "error": attempt.error,
            "responseBody": attempt.response_body,
            "filterMatches": filter_matches,
        }),
    )
}

pub async fn list_deliveries<S: WebhookGet + DeliveryList + ?Sized>(
    ctx: &Context,
    store: &S,
    request: Request,
) -> Result<Response<Body>, Error> {
    let scope = scoped(&request, &ctx.settings)?;
    let id = webhook_id(&request)?;
    let page = page_request(&request)?;
    let status = status_filter(&request)?;
    // Deliveries are keyed by webhook alone: the owner check is this read.
    scope.webhook(store, &request).await?;
    let page = store.list_deliveries(id, page, status).await?;
    json_response(StatusCode::OK, &ListOut { items: page.items, next_cursor: page.next.map(encode_cursor) })
}

/// The `status` query parameter, when given.
fn status_filter(request: &Request) -> Result<Option<DeliveryStatus>, Error> {
    let query = request.query_string_parameters();
    let Some(text) = query.first("status") else { return Ok(None) };
    serde_json::from_value(json!(text))
        .map(Some)
        .map_err(|_| Error::BadRequest("status must be one of pending, succeeded, failed, skipped".into()))
}
