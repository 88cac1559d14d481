//! `POST .../webhook/{webhookId}/deliveries/{deliveryId}/resend` and `POST .../recover`, the
//! HTTP adapters of `crate::replay`, for an entity's webhooks and global ones.

use lambda_http::Request;
use lambda_http::http::StatusCode;
use serde::Serialize;
use uuid::Uuid;

use super::Handled;
use super::{json_object, json_response, path_param, scoped, webhook_id};
use crate::error::Error;
use crate::model::Timestamp;
use crate::queue::DeliveryEnqueue;
use crate::replay::{Recovery, recover, resend};
use crate::runtime::ApiContext;
use crate::store::{DeliveryGet, DeliveryList, DeliveryRecord, EventGet, WebhookGet};

/// The new delivery a resend made.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ResentOut {
    delivery_id: Uuid,
}

pub(crate) async fn resend_delivery<S, Q>(ctx: &ApiContext, store: &S, queue: &Q, request: Request) -> Handled
where
    S: WebhookGet + DeliveryGet + DeliveryRecord + EventGet + ?Sized,
    Q: DeliveryEnqueue + ?Sized,
{
    let scope = scoped(&request, &ctx.settings)?;
    let delivery_id = path_param(&request, "deliveryId", |id| {
        uuid::Uuid::parse_str(id).map_err(|_| format!("delivery id {id:?} is not a UUID"))
    })?;
    let webhook = scope.webhook(store, webhook_id(&request)?).await?;
    let delivery = store.get_delivery(webhook.info.id, delivery_id).await?.ok_or(Error::NotFound)?;
    let resent = resend(store, queue, ctx.ids.as_ref(), &webhook, &delivery).await?;
    json_response(StatusCode::ACCEPTED, &ResentOut { delivery_id: resent })
}

pub(crate) async fn recover_deliveries<S, Q>(ctx: &ApiContext, store: &S, queue: &Q, request: Request) -> Handled
where
    S: WebhookGet + DeliveryList + DeliveryGet + DeliveryRecord + ?Sized,
    Q: DeliveryEnqueue + ?Sized,
{
    let scope = scoped(&request, &ctx.settings)?;
    let now = Timestamp::new(ctx.clock.now());
    let recovery = Recovery::parse(&json_object(&request)?, now)?;
    let webhook = scope.webhook(store, webhook_id(&request)?).await?;
    let recovered =
        recover(store, queue, ctx.ids.as_ref(), &webhook, &recovery, (now, ctx.settings.resend_delay)).await?;
    json_response(StatusCode::ACCEPTED, &recovered)
}
