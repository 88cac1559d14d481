//! `POST /api/managing-entity/{entityId}/portal-session` (scope `portal:create`): a bearer token
//! for the portal routes of the entity's webhooks, and the console's URL that uses it
//! (docs/contract.md 16).

use lambda_http::Request;
use lambda_http::http::{StatusCode, header};
use serde::Serialize;

use super::{Handled, json_response_with, optional_json_object, scoped};
use crate::auth::PORTAL_SCOPE;
use crate::model::Timestamp;
use crate::portal::{PortalKeys, SessionRequest, open_session};
use crate::runtime::ApiContext;
use crate::store::{EventTypeGet, PortalKeyStore, catalog};

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SessionOut {
    url: String,
    token: String,
    expires_at: Timestamp,
}

pub(crate) async fn create_portal_session<S>(
    ctx: &ApiContext,
    store: &S,
    keys: &PortalKeys,
    request: Request,
) -> Handled
where
    S: EventTypeGet + PortalKeyStore + ?Sized,
{
    let scope = scoped(&request, &ctx.settings)?;
    scope.caller.require(PORTAL_SCOPE)?;
    let entity = scope.entity()?;
    let asked = SessionRequest::parse(&optional_json_object(&request)?, &catalog(store).await?)?;
    let session = open_session(ctx, keys, store, entity, asked).await?;
    // The token rides in the fragment, which browsers never send: no server or log sees it. The
    // origin that may frame the page is in its query, where the page's server reads it.
    let query = session.allowed_origin.as_deref().map(|origin| {
        format!("?{}", url::form_urlencoded::Serializer::new(String::new()).append_pair("origin", origin).finish())
    });
    let url = format!("{}/portal{}#token={}", public_base(&request), query.unwrap_or_default(), session.token);
    let body = SessionOut { url, token: session.token, expires_at: session.expires_at };
    // A bearer token: no cache may keep it.
    json_response_with(StatusCode::CREATED, &body, &[(header::CACHE_CONTROL, "no-store".into())])
}

/// Where the caller reached this API: API Gateway says `https` in `X-Forwarded-Proto`; the
/// runner serves plain HTTP on loopback.
fn public_base(request: &Request) -> String {
    let value = |name| request.headers().get(name).and_then(|v| v.to_str().ok());
    let scheme = value("x-forwarded-proto").unwrap_or("http");
    format!("{scheme}://{}", value(header::HOST.as_str()).unwrap_or("localhost"))
}
