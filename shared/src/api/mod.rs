//! The HTTP adapters, one per route: each parses the request, authorises the caller, calls the
//! domain and renders the answer, returning a response or an error. `routes` dispatches to
//! them for the Lambda binaries and the local runner alike, and `serve` turns every error into
//! problem+json, the one place that happens.

mod deliveries;
mod event_types;
mod events;
mod portal;
mod rate_limits;
mod replay;
mod routes;
mod secrets;
mod stats;
mod webhooks;

use std::future::Future;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use lambda_http::http::{HeaderValue, StatusCode, header};
use lambda_http::{Body, Request, RequestExt, Response};
use serde::Serialize;
use serde_json::{Map, Value};
use uuid::Uuid;

pub use routes::{Authorizer, Function, Route, routes};

use rate_limits::limited;

use crate::auth::Caller;
use crate::config::Settings;
use crate::error::{Error, problem_response};
use crate::model::{EntityId, Owner, WebhookId};
use crate::service::{IfMatch, Scoped};

/// Largest accepted request body (docs/contract.md 7: 413 above it).
pub(crate) const MAX_BODY_BYTES: usize = 256 * 1024;
const DEFAULT_PAGE_SIZE: usize = 20;
const MAX_PAGE_SIZE: usize = 100;

/// What a handler answers: its response, or the error `serve` renders.
pub(crate) type Handled = Result<Response<Body>, Error>;

/// Runs `handler` on `request` and answers its result, an error as problem+json for the
/// request's path: the one place an error becomes a response, where handlers are served (the
/// Lambda entry and the runner's dispatch, both through `limited`).
pub(crate) async fn serve<F, Fut>(request: Request, handler: F) -> Response<Body>
where
    F: FnOnce(Request) -> Fut,
    Fut: Future<Output = Handled>,
{
    let path = request.raw_http_path().to_string();
    handler(request).await.unwrap_or_else(|err| problem_response(&err, &path))
}

/// The checks every route makes first: claims (401), a portal session's limits (401, 403),
/// `Wink-Version` (400).
pub(crate) fn caller(request: &Request, settings: &Settings) -> Result<Caller, Error> {
    let caller = Caller::from_request(request, settings)?;
    caller.check_session(request.method())?;
    match request.headers().get("wink-version").map(HeaderValue::to_str) {
        None | Some(Ok("2.0")) => Ok(caller),
        Some(_) => Err(Error::BadRequest("unsupported Wink-Version; the supported version is 2.0".into())),
    }
}

/// `caller`, then the path's entity (400 if not a UUID), which the caller must manage: any
/// other entity is a 404, so that other tenants' ids cannot be probed. A path without one is
/// of the global webhooks, which only a caller with an account may use (401 otherwise).
pub(crate) fn scoped(request: &Request, settings: &Settings) -> Result<Scoped, Error> {
    let caller = caller(request, settings)?;
    if request.path_parameters().first("entityId").is_none() {
        return match caller.account {
            Some(_) => Ok(Scoped { caller, owner: Owner::Global }),
            None => Err(Error::Unauthorized),
        };
    }
    let entity = path_param(request, "entityId", EntityId::parse)?;
    if !caller.may_manage(entity) {
        return Err(Error::NotFound);
    }
    Ok(Scoped { caller, owner: Owner::Entity(entity) })
}

pub(crate) fn webhook_id(request: &Request) -> Result<WebhookId, Error> {
    path_param(request, "webhookId", WebhookId::parse)
}

pub(crate) fn path_param<T>(
    request: &Request,
    name: &str,
    parse: impl Fn(&str) -> Result<T, String>,
) -> Result<T, Error> {
    let params = request.path_parameters();
    let value = params.first(name).ok_or_else(|| Error::BadRequest(format!("missing path parameter {name}")))?;
    parse(value).map_err(Error::BadRequest)
}

/// A path parameter as it is, for names checked by what reads them (an event id, a type name).
pub(crate) fn path_text(request: &Request, name: &str) -> Result<String, Error> {
    path_param(request, name, |text| Ok(text.to_string()))
}

/// The body as a JSON object: 413 when too large, 400 when not a JSON object.
pub(crate) fn json_object(request: &Request) -> Result<Map<String, Value>, Error> {
    json_object_within(request, MAX_BODY_BYTES)
}

/// `json_object` for a route that takes bodies up to `limit` bytes.
pub(crate) fn json_object_within(request: &Request, limit: usize) -> Result<Map<String, Value>, Error> {
    let bytes = request.body().as_ref();
    if bytes.len() > limit {
        return Err(Error::PayloadTooLarge { limit });
    }
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(Error::BadRequest("a JSON object body is required".into()));
    }
    match serde_json::from_slice(bytes) {
        Ok(Value::Object(object)) => Ok(object),
        Ok(_) => Err(Error::BadRequest("the body must be a JSON object".into())),
        Err(err) => Err(Error::BadRequest(format!("the body is not valid JSON: {err}"))),
    }
}

/// The body as a JSON object, or an empty one when there is no body (an optional body).
pub(crate) fn optional_json_object(request: &Request) -> Result<Map<String, Value>, Error> {
    if request.body().is_empty() { Ok(Map::new()) } else { json_object(request) }
}

/// The `If-Match` header, when given (400 when it is not an ETag of this API).
pub(crate) fn if_match(request: &Request) -> Result<Option<IfMatch>, Error> {
    let Some(value) = request.headers().get(header::IF_MATCH) else { return Ok(None) };
    let text = value.to_str().unwrap_or_default().trim();
    if text == "*" {
        return Ok(Some(IfMatch::Any));
    }
    text.trim_start_matches("W/")
        .trim_matches('"')
        .parse()
        .map(|version| Some(IfMatch::Version(version)))
        .map_err(|_| Error::BadRequest(format!("If-Match {text:?} is not an ETag of this API")))
}

pub(crate) fn etag(version: u64) -> String {
    format!("\"{version}\"")
}

/// `limit` (1..=100, default 20) and the opaque `cursor` of a list route.
pub(crate) fn page_request(request: &Request) -> Result<crate::store::PageRequest, Error> {
    let query = request.query_string_parameters();
    let limit = match query.first("limit") {
        None => DEFAULT_PAGE_SIZE,
        Some(text) => text
            .parse()
            .ok()
            .filter(|n| (1..=MAX_PAGE_SIZE).contains(n))
            .ok_or_else(|| Error::BadRequest(format!("limit must be an integer from 1 to {MAX_PAGE_SIZE}")))?,
    };
    let after = query.first("cursor").filter(|c| !c.is_empty()).map(decode_cursor).transpose()?;
    Ok(crate::store::PageRequest { limit, after })
}

pub(crate) fn encode_cursor(id: Uuid) -> String {
    URL_SAFE_NO_PAD.encode(id.as_bytes())
}

fn decode_cursor(text: &str) -> Result<Uuid, Error> {
    URL_SAFE_NO_PAD
        .decode(text)
        .ok()
        .and_then(|bytes| Uuid::from_slice(&bytes).ok())
        .ok_or_else(|| Error::BadRequest("cursor is not one this API returned".into()))
}

/// `{"items": [...]}`, a list read whole.
#[derive(Serialize)]
pub(crate) struct ItemsOut<T: Serialize> {
    pub items: Vec<T>,
}

/// `{"items": [...], "nextCursor": ...}`
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ListOut<T: Serialize> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

pub(crate) fn json_response(status: StatusCode, body: &impl Serialize) -> Handled {
    json_response_with(status, body, &[])
}

pub(crate) fn json_response_with(
    status: StatusCode,
    body: &impl Serialize,
    headers: &[(header::HeaderName, String)],
) -> Handled {
    let text = serde_json::to_string(body).map_err(Error::internal)?;
    let mut builder = Response::builder().status(status).header(header::CONTENT_TYPE, "application/json");
    for (name, value) in headers {
        builder = builder.header(name, value);
    }
    builder.body(Body::Text(text)).map_err(Error::internal)
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod publish_tests;

#[cfg(test)]
mod rate_limit_tests;
