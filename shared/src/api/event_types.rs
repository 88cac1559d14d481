//! The event catalog (docs/contract.md 13): `GET /api/event-types` lists it; `PUT` and `DELETE
//! /api/event-types/{name}`, the operator's (scope `event-types:write`), create or replace a
//! type and archive one.

use lambda_http::http::{Method, StatusCode};
use lambda_http::{Body, Request, Response};

use super::Handled;
use super::{ItemsOut, caller, json_object, json_response, path_text};
use crate::auth::EVENT_TYPES_SCOPE;
use crate::error::Error;
use crate::model::{is_platform_event_type, parse_event_type};
use crate::runtime::ApiContext;
use crate::store::{EventTypeGet, EventTypePut, catalog, event_type};

pub(crate) async fn list_event_types<S: EventTypeGet + ?Sized>(
    ctx: &ApiContext,
    store: &S,
    request: Request,
) -> Handled {
    caller(&request, &ctx.settings)?;
    let catalog = catalog(store).await?;
    json_response(StatusCode::OK, &ItemsOut { items: catalog.types().collect() })
}

/// The catalog's writes, one function in AWS: `PUT` (`put_event_type`) or `DELETE`
/// (`archive_event_type`) of `/api/event-types/{name}`.
pub(crate) async fn write_event_type<S>(ctx: &ApiContext, store: &S, request: Request) -> Handled
where
    S: EventTypeGet + EventTypePut + ?Sized,
{
    if request.method() == Method::DELETE {
        archive_event_type(ctx, store, request).await
    } else {
        put_event_type(ctx, store, request).await
    }
}

/// The type a catalog write names, once its caller is found to hold the scope to write.
fn type_to_write(ctx: &ApiContext, request: &Request) -> Result<String, Error> {
    caller(request, &ctx.settings)?.require(EVENT_TYPES_SCOPE)?;
    path_text(request, "name")
}

/// `PUT /api/event-types/{name}`: `{"description", "schema"?, "example"?}`; a type archived
/// before is in use again.
async fn put_event_type<S: EventTypePut + ?Sized>(ctx: &ApiContext, store: &S, request: Request) -> Handled {
    let name = type_to_write(ctx, &request)?;
    let event_type = parse_event_type(&name, &json_object(&request)?)?;
    store.put_event_type(&event_type).await?;
    tracing::info!(event_type = %event_type.name, "event type written");
    json_response(StatusCode::OK, &event_type)
}

/// `DELETE /api/event-types/{name}`: archives the type, which stays listed and delivered to
/// those subscribed to it.
async fn archive_event_type<S>(ctx: &ApiContext, store: &S, request: Request) -> Handled
where
    S: EventTypeGet + EventTypePut + ?Sized,
{
    let name = type_to_write(ctx, &request)?;
    if is_platform_event_type(&name) {
        return Err(Error::validation("name", format!("{name:?} is the platform's own")));
    }
    let mut archived = event_type(store, &name).await?.ok_or(Error::NotFound)?;
    archived.archived = true;
    store.put_event_type(&archived).await?;
    tracing::info!(event_type = %name, "event type archived");
    Response::builder().status(StatusCode::NO_CONTENT).body(Body::Empty).map_err(Error::internal)
}
