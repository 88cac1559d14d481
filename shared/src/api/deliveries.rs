//! `POST .../webhook/{webhookId}/test` (one synchronous signed attempt, whatever the webhook's
//! filter says, and whether it would let the event through) and
//! `GET .../webhook/{webhookId}/deliveries` (the attempt log, newest first, `status` filtering).

use lambda_http::http::StatusCode;
use lambda_http::{Request, RequestExt};
use serde_json::json;

use super::Handled;
use super::{ListOut, encode_cursor, json_response, optional_json_object, page_request, scoped, webhook_id};
use crate::delivery::WebhookSender;
use crate::error::Error;
use crate::model::DeliveryStatus;
use crate::runtime::ApiContext;
use crate::service::{TestRequest, send_test};
use crate::store::{AccessTokenStore, DeliveryList, EventTypeGet, WebhookGet};

pub(crate) async fn test_webhook<S>(
    ctx: &ApiContext,
    store: &S,
    sender: &dyn WebhookSender,
    request: Request,
) -> Handled
where
    S: WebhookGet + AccessTokenStore + EventTypeGet + ?Sized,
{
    let scope = scoped(&request, &ctx.settings)?;
    let asked = TestRequest::parse(&optional_json_object(&request)?);
    let outcome = send_test(ctx, (store, sender), &scope, webhook_id(&request)?, asked).await?;
    json_response(StatusCode::OK, &outcome)
}

pub(crate) async fn list_deliveries<S>(ctx: &ApiContext, store: &S, request: Request) -> Handled
where
    S: WebhookGet + DeliveryList + ?Sized,
{
    let scope = scoped(&request, &ctx.settings)?;
    let id = webhook_id(&request)?;
    let page = page_request(&request)?;
    let status = status_filter(&request)?;
    // Deliveries are keyed by webhook alone: the owner check is this read.
    scope.webhook(store, id).await?;
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
