//! `POST /api/managing-entity/{entityId}/event`: the HTTP adapter of `crate::publish`.

use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};
use serde_json::json;

use super::{json_object, json_response, respond, scoped};
use crate::model::{EventIn, Timestamp};
use crate::publish::{Published, publish};
use crate::queue::DeliveryEnqueue;
use crate::runtime::Context;
use crate::store::{DeliveryInsert, EventOutbox, WebhookList};

pub async fn publish_event<S, Q>(ctx: &Context, store: &S, queue: &Q, request: Request) -> Response<Body>
where
    S: WebhookList + EventOutbox + DeliveryInsert + ?Sized,
    Q: DeliveryEnqueue + ?Sized,
{
    let result = async {
        let scope = scoped(&request, &ctx.settings)?;
        let input = EventIn::parse(&json_object(&request)?)?;
        let now = Timestamp::new(ctx.clock.now());
        match publish(store, queue, ctx.ids.as_ref(), scope.entity, input, now).await? {
            Published::Accepted { event_id, deliveries } => {
                json_response(StatusCode::ACCEPTED, &json!({"eventId": event_id, "deliveries": deliveries}))
            }
            Published::Duplicate { event_id } => {
                json_response(StatusCode::OK, &json!({"eventId": event_id, "duplicate": true}))
            }
        }
    }
    .await;
    respond(&request, result)
}
