//! `GET /api/event-types`: the catalog of subscribable events.

use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};
use serde_json::json;

use super::{caller, json_response, respond};
use crate::model::catalog;
use crate::runtime::Context;

pub async fn list_event_types(ctx: &Context, request: Request) -> Response<Body> {
    let result =
        caller(&request, &ctx.settings).and_then(|_| json_response(StatusCode::OK, &json!({"items": catalog()})));
    respond(&request, result)
}
