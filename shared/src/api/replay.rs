//! `POST .../webhook/{webhookId}/deliveries/{deliveryId}/resend` and `POST .../recover`, the
//! HTTP adapters of `crate::replay`, for an entity's webhooks and global ones.

use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};
use serde_json::json;

use super::{json_object, json_response, path_param, scoped};
use crate::error::Error;
use crate::model::Timestamp;
use crate::queue::DeliveryEnqueue;
use crate::replay::{Recovery, recover, resend};
use crate::runtime::Context;
use crate::store::{DeliveryGet, DeliveryList, DeliveryRecord, EventGet, WebhookGet};

pub async fn resend_delivery<S, Q>(
    ctx: &Context,
    store: &S,
    queue: &Q,
    request: Request,
) -> Result<Response<Body>, Error>
where
    S: WebhookGet + DeliveryGet + DeliveryRecord + EventGet + ?Sized,
    Q: DeliveryEnqueue + ?Sized,
{
    let scope = scoped(&request, &ctx.settings)?;
    let delivery_id = path_param(&request, "deliveryId", |id| {
        uuid::Uuid::parse_str(id).map_err(|_| format!("delivery id {id:?} is not a UUID"))
    })?;
    let webhook = scope.webhook(store, &request).await?;
    let delivery = store.get_delivery(webhook.info.id, delivery_id).await?.ok_or(Error::NotFound)?;
    let resent = resend(store, queue, ctx.ids.as_ref(), &webhook, &delivery).await?;
    json_response(StatusCode::ACCEPTED, &json!({"deliveryId": resent}))
}

pub async fn recover_deliveries<S, Q>(
    ctx: &Context,
    store: &S,
    queue: &Q,
    request: Request,
) -> Result<Response<Body>, Error>
where
    S: WebhookGet + DeliveryList + DeliveryGet + DeliveryRecord + ?Sized,
    Q: DeliveryEnqueue + ?Sized,
{
    let scope = scoped(&request, &ctx.settings)?;
    let now = Timestamp::new(ctx.clock.now());
    let recovery = Recovery::parse(&json_object(&request)?, now)?;
    let webhook = scope.webhook(store, &request).await?;
    let recovered =
        recover(store, queue, ctx.ids.as_ref(), &webhook, &recovery, (now, ctx.settings.resend_delay)).await?;
    json_response(StatusCode::ACCEPTED, &json!({"deliveries": recovered.deliveries, "continues": recovered.continues}))
}
