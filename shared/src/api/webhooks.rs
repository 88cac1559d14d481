//! Create, list, get, update (PUT and PATCH) and delete webhook subscriptions.

use lambda_http::http::{Method, StatusCode, header};
use lambda_http::{Body, Request, Response};
use serde_json::Value;

use super::{
    IfMatch, ListOut, Scoped, encode_cursor, etag, if_match, json_object, json_response, json_response_with,
    page_request, replace_read, scoped, stale, webhook_id,
};
use crate::error::Error;
use crate::model::{
    Catalog, Owner, Timestamp, Webhook, WebhookCreated, WebhookId, WebhookIn, WebhookOut, WebhookRules,
};
use crate::runtime::Context;
use crate::store::{
    EventTypeGet, Page, PageRequest, StoreError, WebhookDelete, WebhookGet, WebhookInsert, WebhookList, WebhookReplace,
    catalog,
};

fn location(webhook: &WebhookOut) -> String {
    match webhook.owner_identifier {
        Some(entity) => format!("/api/managing-entity/{entity}/webhook/{}", webhook.id),
        None => format!("/api/webhook/{}", webhook.id),
    }
}

/// A global webhook's `entities` must all be the caller's: otherwise 404, as if the caller
/// had asked for another tenant's webhook.
fn check_coverage(scope: &Scoped, input: &WebhookIn) -> Result<(), Error> {
    match &input.entities {
        Some(entities) if !scope.caller.may_cover(entities) => Err(Error::NotFound),
        _ => Ok(()),
    }
}

/// One page of the webhooks the caller may reach: an entity's are all its; of the global
/// ones, its account's are read a page at a time until enough cover only its entities.
async fn reachable_page<S: WebhookList + ?Sized>(
    store: &S,
    scope: &Scoped,
    page: PageRequest,
) -> Result<Page<Webhook>, Error> {
    let account = match (scope.owner, scope.caller.account.as_deref()) {
        (Owner::Entity(_), _) => return Ok(store.list_webhooks(scope.owner, page).await?),
        (Owner::Global, None) => return Err(Error::Unauthorized),
        (Owner::Global, Some(account)) => account,
    };
    let (mut items, mut after) = (Vec::new(), page.after);
    loop {
        let read = store.list_account_webhooks(account, PageRequest { after, ..page }).await?;
        items.extend(read.items.into_iter().filter(|w| scope.caller.may_reach(w)));
        match read.next {
            Some(next) if items.len() <= page.limit => after = Some(next),
            _ => return Ok(Page::from_overfetch(items, page.limit, |w| w.info.id.0)),
        }
    }
}

fn rules<'a>(ctx: &Context, scope: &Scoped, catalog: &'a Catalog) -> WebhookRules<'a> {
    WebhookRules { owner: scope.owner, policy: ctx.settings.url_policy, catalog }
}

fn with_etag(status: StatusCode, body: &impl serde::Serialize, version: u64) -> Result<Response<Body>, Error> {
    json_response_with(status, body, &[(header::ETAG, etag(version))])
}

/// `POST /api/managing-entity/{entityId}/webhook` and `POST /api/webhook`
pub async fn create_webhook<S: WebhookInsert + EventTypeGet + ?Sized>(
    ctx: &Context,
    store: &S,
    request: Request,
) -> Result<Response<Body>, Error> {
    let scope = scoped(&request, &ctx.settings)?;
    let body = json_object(&request)?;
    let catalog = catalog(store).await?;
    let input = WebhookIn::parse(&body, &rules(ctx, &scope, &catalog), None)?;
    check_coverage(&scope, &input)?;
    let secret = ctx.ids.new_secret().map_err(Error::internal)?;
    let now = Timestamp::new(ctx.clock.now());
    let (id, caller) = (WebhookId(ctx.ids.new_id()), &scope.caller);
    let webhook = Webhook::create(input, id, scope.owner, &caller.subject, caller.account.as_deref(), now, secret);
    store.insert_webhook(&webhook).await?;
    tracing::info!(webhook_id = %webhook.info.id, owner = ?scope.owner, "webhook created");
    let body = WebhookCreated { webhook: &webhook.info, secret: webhook.secret.expose() };
    json_response_with(
        StatusCode::CREATED,
        &body,
        &[(header::LOCATION, location(&webhook.info)), (header::ETAG, etag(webhook.info.version))],
    )
}

/// `GET /api/managing-entity/{entityId}/webhook?limit=&cursor=` and `GET /api/webhook?...`
pub async fn list_webhooks<S: WebhookList + ?Sized>(
    ctx: &Context,
    store: &S,
    request: Request,
) -> Result<Response<Body>, Error> {
    let scope = scoped(&request, &ctx.settings)?;
    let page = reachable_page(store, &scope, page_request(&request)?).await?;
    let body =
        ListOut { items: page.items.into_iter().map(|w| w.info).collect(), next_cursor: page.next.map(encode_cursor) };
    json_response(StatusCode::OK, &body)
}

/// `GET /api/managing-entity/{entityId}/webhook/{webhookId}` and `GET /api/webhook/{webhookId}`
pub async fn get_webhook<S: WebhookGet + ?Sized>(
    ctx: &Context,
    store: &S,
    request: Request,
) -> Result<Response<Body>, Error> {
    let scope = scoped(&request, &ctx.settings)?;
    let webhook = scope.webhook(store, &request).await?;
    with_etag(StatusCode::OK, &webhook.info, webhook.info.version)
}

/// `PUT` (replace every mutable field) and `PATCH` (JSON merge patch) of
/// `/api/managing-entity/{entityId}/webhook/{webhookId}` and `/api/webhook/{webhookId}`, both
/// guarded by the version the writer read (docs/contract.md 5.3).
pub async fn update_webhook<S: WebhookGet + WebhookReplace + EventTypeGet + ?Sized>(
    ctx: &Context,
    store: &S,
    request: Request,
) -> Result<Response<Body>, Error> {
    let scope = scoped(&request, &ctx.settings)?;
    let id = webhook_id(&request)?;
    let condition = if_match(&request)?;
    let body = json_object(&request)?;
    let current = scope.webhook(store, &request).await?;
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
    let catalog = catalog(store).await?;
    let input = WebhookIn::parse(&document, &rules(ctx, &scope, &catalog), Some(&current))?;
    check_coverage(&scope, &input)?;
    let stored_version = current.info.version;
    let stale = |current| stale(condition, current);
    match (condition, input.version) {
        (Some(IfMatch::Version(v)), _) if v != stored_version => return Err(stale(stored_version)),
        (_, Some(v)) if v != stored_version => return Err(Error::VersionConflict { current: stored_version }),
        (None, None) => {
            return Err(Error::validation("version", "is required: send the version you read, or If-Match"));
        }
        _ => {}
    }
    let updated = current.updated(input, &scope.caller.subject, Timestamp::new(ctx.clock.now()));
    replace_read(store, &updated, &current, condition).await?;
    tracing::info!(webhook_id = %id, version = updated.info.version, "webhook updated");
    with_etag(StatusCode::OK, &updated.info, updated.info.version)
}

/// `DELETE /api/managing-entity/{entityId}/webhook/{webhookId}` and
/// `DELETE /api/webhook/{webhookId}`, `If-Match` optional.
pub async fn delete_webhook<S: WebhookGet + WebhookDelete + ?Sized>(
    ctx: &Context,
    store: &S,
    request: Request,
) -> Result<Response<Body>, Error> {
    let scope = scoped(&request, &ctx.settings)?;
    let id = webhook_id(&request)?;
    let condition = if_match(&request)?;
    // Who may delete a global webhook depends on its account and what it covers: the delete
    // is of the version that was checked, so a change in between cannot slip past the check.
    let checked = match scope.owner {
        Owner::Global => Some(scope.webhook(store, &request).await?.info.version),
        Owner::Entity(_) => None,
    };
    let expected = match (condition, checked) {
        (Some(IfMatch::Version(version)), Some(current)) if version != current => {
            return Err(Error::PreconditionFailed { current });
        }
        (Some(IfMatch::Version(version)), None) => Some(version),
        _ => checked,
    };
    store.delete_webhook(scope.owner, id, expected).await.map_err(|err| match err {
        StoreError::VersionConflict { current } => stale(condition, current),
        other => other.into(),
    })?;
    tracing::info!(webhook_id = %id, "webhook deleted");
    Response::builder().status(StatusCode::NO_CONTENT).body(Body::Empty).map_err(Error::internal)
}
