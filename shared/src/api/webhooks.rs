//! Create, list, get, update (PUT and PATCH) and delete webhook subscriptions.

use lambda_http::http::{Method, StatusCode, header};
use lambda_http::{Body, Request, Response};

use super::Handled;
use super::{
    ListOut, encode_cursor, etag, if_match, json_object, json_response, json_response_with, page_request, scoped,
    webhook_id,
};
use crate::error::Error;
use crate::model::{WebhookCreated, WebhookOut};
use crate::publish::Notices;
use crate::runtime::ApiContext;
use crate::service::{self, Change};
use crate::store::{EventTypeGet, WebhookDelete, WebhookGet, WebhookInsert, WebhookList, WebhookReplace};

fn location(webhook: &WebhookOut) -> String {
    match webhook.owner_identifier {
        Some(entity) => format!("/api/managing-entity/{entity}/webhook/{}", webhook.id),
        None => format!("/api/webhook/{}", webhook.id),
    }
}

/// The webhook as the API shows it, with its version as the ETag.
fn with_etag(status: StatusCode, webhook: &WebhookOut) -> Handled {
    json_response_with(status, webhook, &[(header::ETAG, etag(webhook.version))])
}

/// `POST /api/managing-entity/{entityId}/webhook` and `POST /api/webhook`
pub(crate) async fn create_webhook<S>(ctx: &ApiContext, store: &S, notices: &Notices<'_>, request: Request) -> Handled
where
    S: WebhookInsert + EventTypeGet + ?Sized,
{
    let scope = scoped(&request, &ctx.settings)?;
    let webhook = service::create_webhook(ctx, store, notices, &scope, &json_object(&request)?).await?;
    let body = WebhookCreated::of(&webhook);
    json_response_with(
        StatusCode::CREATED,
        &body,
        &[(header::LOCATION, location(&webhook.info)), (header::ETAG, etag(webhook.info.version))],
    )
}

/// `GET /api/managing-entity/{entityId}/webhook?limit=&cursor=` and `GET /api/webhook?...`
pub(crate) async fn list_webhooks<S: WebhookList + ?Sized>(ctx: &ApiContext, store: &S, request: Request) -> Handled {
    let scope = scoped(&request, &ctx.settings)?;
    let page = service::reachable_page(store, &scope, page_request(&request)?).await?;
    let body = ListOut {
        items: page.items.into_iter().map(WebhookOut::from).collect(),
        next_cursor: page.next.map(encode_cursor),
    };
    json_response(StatusCode::OK, &body)
}

/// `GET /api/managing-entity/{entityId}/webhook/{webhookId}` and `GET /api/webhook/{webhookId}`
pub(crate) async fn get_webhook<S: WebhookGet + ?Sized>(ctx: &ApiContext, store: &S, request: Request) -> Handled {
    let scope = scoped(&request, &ctx.settings)?;
    let webhook = scope.webhook(store, webhook_id(&request)?).await?;
    with_etag(StatusCode::OK, &webhook.info)
}

/// `PUT` (replace every mutable field) and `PATCH` (JSON merge patch) of
/// `/api/managing-entity/{entityId}/webhook/{webhookId}` and `/api/webhook/{webhookId}`, both
/// guarded by the version the writer read (docs/contract.md 5.3).
pub(crate) async fn update_webhook<S>(ctx: &ApiContext, store: &S, notices: &Notices<'_>, request: Request) -> Handled
where
    S: WebhookGet + WebhookReplace + EventTypeGet + ?Sized,
{
    let scope = scoped(&request, &ctx.settings)?;
    let written = (webhook_id(&request)?, if_match(&request)?);
    let body = json_object(&request)?;
    let change = if request.method() == Method::PATCH { Change::Merge(body) } else { Change::Replace(body) };
    let updated = service::update_webhook(ctx, store, notices, &scope, written, change).await?;
    with_etag(StatusCode::OK, &updated.info)
}

/// `DELETE /api/managing-entity/{entityId}/webhook/{webhookId}` and
/// `DELETE /api/webhook/{webhookId}`, `If-Match` optional.
pub(crate) async fn delete_webhook<S>(ctx: &ApiContext, store: &S, notices: &Notices<'_>, request: Request) -> Handled
where
    S: WebhookGet + WebhookDelete + ?Sized,
{
    let scope = scoped(&request, &ctx.settings)?;
    let deleted = (webhook_id(&request)?, if_match(&request)?);
    service::delete_webhook(ctx, store, notices, &scope, deleted).await?;
    Response::builder().status(StatusCode::NO_CONTENT).body(Body::Empty).map_err(Error::internal)
}
