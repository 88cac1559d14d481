//! Create, list, get, update (PUT and PATCH) and delete webhook subscriptions.

use lambda_http::http::{Method, StatusCode, header};
use lambda_http::{Body, Request, Response};
use serde_json::Value;

use super::{
    IfMatch, ListOut, encode_cursor, etag, if_match, json_object, json_response, json_response_with, page_request,
    respond, scoped, webhook_id,
};
use crate::error::Error;
use crate::model::{Timestamp, Webhook, WebhookCreated, WebhookId, WebhookIn, WebhookOut};
use crate::runtime::Context;
use crate::store::{StoreError, WebhookDelete, WebhookGet, WebhookInsert, WebhookList, WebhookReplace};

fn location(webhook: &WebhookOut) -> String {
    format!("/api/managing-entity/{}/webhook/{}", webhook.owner_identifier, webhook.id)
}

fn with_etag(status: StatusCode, body: &impl serde::Serialize, version: u64) -> Result<Response<Body>, Error> {
    json_response_with(status, body, &[(header::ETAG, etag(version))])
}

/// `POST /api/managing-entity/{entityId}/webhook`
pub async fn create_webhook<S: WebhookInsert + ?Sized>(ctx: &Context, store: &S, request: Request) -> Response<Body> {
    let result = async {
        let scope = scoped(&request, &ctx.settings)?;
        let input = WebhookIn::parse(&json_object(&request)?, scope.entity, ctx.settings.url_policy, None)?;
        let secret = ctx.ids.new_secret().map_err(Error::internal)?;
        let now = Timestamp::new(ctx.clock.now());
        let webhook =
            Webhook::create(input, WebhookId(ctx.ids.new_id()), scope.entity, &scope.caller.subject, now, secret);
        store.insert_webhook(&webhook).await?;
        tracing::info!(webhook_id = %webhook.info.id, entity = %scope.entity, "webhook created");
        let body = WebhookCreated { webhook: &webhook.info, secret: webhook.secret.expose() };
        json_response_with(
            StatusCode::CREATED,
            &body,
            &[(header::LOCATION, location(&webhook.info)), (header::ETAG, etag(webhook.info.version))],
        )
    }
    .await;
    respond(&request, result)
}

/// `GET /api/managing-entity/{entityId}/webhook?limit=&cursor=`
pub async fn list_webhooks<S: WebhookList + ?Sized>(ctx: &Context, store: &S, request: Request) -> Response<Body> {
    let result = async {
        let scope = scoped(&request, &ctx.settings)?;
        let page = store.list_webhooks(scope.entity, page_request(&request)?).await?;
        let body = ListOut {
            items: page.items.into_iter().map(|w| w.info).collect(),
            next_cursor: page.next.map(encode_cursor),
        };
        json_response(StatusCode::OK, &body)
    }
    .await;
    respond(&request, result)
}

/// `GET /api/managing-entity/{entityId}/webhook/{webhookId}`
pub async fn get_webhook<S: WebhookGet + ?Sized>(ctx: &Context, store: &S, request: Request) -> Response<Body> {
    let result = async {
        let scope = scoped(&request, &ctx.settings)?;
        let webhook = store.get_webhook(scope.entity, webhook_id(&request)?).await?.ok_or(Error::NotFound)?;
        with_etag(StatusCode::OK, &webhook.info, webhook.info.version)
    }
    .await;
    respond(&request, result)
}

/// `PUT` (replace every mutable field) and `PATCH` (JSON merge patch) of
/// `/api/managing-entity/{entityId}/webhook/{webhookId}`, both guarded by the version the
/// writer read (DESIGN.md 5.3).
pub async fn update_webhook<S: WebhookGet + WebhookReplace + ?Sized>(
    ctx: &Context,
    store: &S,
    request: Request,
) -> Response<Body> {
    let result = async {
        let scope = scoped(&request, &ctx.settings)?;
        let id = webhook_id(&request)?;
        let condition = if_match(&request)?;
        let body = json_object(&request)?;
        let current = store.get_webhook(scope.entity, id).await?.ok_or(Error::NotFound)?;
        let document = if request.method() == Method::PATCH {
            let mut document = WebhookIn::document_of(&current.info);
            json_patch::merge(&mut document, &Value::Object(body));
            document
        } else {
            Value::Object(body)
        };
        let Value::Object(document) = document else {
            return Err(Error::BadRequest("the merged document is not a JSON object".into()));
        };
        let input = WebhookIn::parse(
            &document,
            scope.entity,
            ctx.settings.url_policy,
            current.receiver_credentials().as_ref(),
        )?;
        let stored_version = current.info.version;
        let stale = |current| match condition {
            Some(_) => Error::PreconditionFailed { current },
            None => Error::VersionConflict { current },
        };
        match (condition, input.version) {
            (Some(IfMatch::Version(v)), _) if v != stored_version => return Err(stale(stored_version)),
            (_, Some(v)) if v != stored_version => return Err(Error::VersionConflict { current: stored_version }),
            (None, None) => {
                return Err(Error::validation("version", "is required: send the version you read, or If-Match"));
            }
            _ => {}
        }
        let updated = current.updated(input, &scope.caller.subject, Timestamp::new(ctx.clock.now()));
        store.replace_webhook(&updated, stored_version).await.map_err(|err| match err {
            StoreError::VersionConflict { current } => stale(current),
            other => other.into(),
        })?;
        tracing::info!(webhook_id = %id, version = updated.info.version, "webhook updated");
        with_etag(StatusCode::OK, &updated.info, updated.info.version)
    }
    .await;
    respond(&request, result)
}

/// `DELETE /api/managing-entity/{entityId}/webhook/{webhookId}`, `If-Match` optional.
pub async fn delete_webhook<S: WebhookDelete + ?Sized>(ctx: &Context, store: &S, request: Request) -> Response<Body> {
    let result = async {
        let scope = scoped(&request, &ctx.settings)?;
        let id = webhook_id(&request)?;
        let expected = match if_match(&request)? {
            Some(IfMatch::Version(version)) => Some(version),
            Some(IfMatch::Any) | None => None,
        };
        store.delete_webhook(scope.entity, id, expected).await.map_err(|err| match err {
            StoreError::VersionConflict { current } => Error::PreconditionFailed { current },
            other => other.into(),
        })?;
        tracing::info!(webhook_id = %id, "webhook deleted");
        Response::builder().status(StatusCode::NO_CONTENT).body(Body::Empty).map_err(Error::internal)
    }
    .await;
    respond(&request, result)
}
