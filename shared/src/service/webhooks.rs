//! A webhook's life through the API: created, listed as far as the caller may see, updated
//! (replaced or merged), deleted, its secret rotated.

use serde_json::{Map, Value};

use super::Scoped;
use super::versions::{IfMatch, check_if_match, check_update, stale};
use crate::error::Error;
use crate::model::{Catalog, NewKey, Owner, Rotation, Timestamp, WebhookId, WebhookIn, WebhookRecord, WebhookRules};
use crate::publish::{Notices, WebhookWrite};
use crate::runtime::ApiContext;
use crate::store::{
    EventTypeGet, Page, PageRequest, WebhookDelete, WebhookGet, WebhookInsert, WebhookList, WebhookReplace, catalog,
};

/// A global webhook's `entities` must all be the caller's: otherwise 404, as if the caller
/// had asked for another tenant's webhook. A portal session's webhooks list only the event types
/// it grants (422).
fn check_allowed(scope: &Scoped, input: &WebhookIn) -> Result<(), Error> {
    if scope.caller.portal.as_ref().is_some_and(|grant| !grant.may_list(&input.event_list)) {
        return Err(Error::validation("eventList", "lists an event type this portal session does not grant"));
    }
    match &input.entities {
        Some(entities) if !scope.caller.may_cover(entities) => Err(Error::NotFound),
        _ => Ok(()),
    }
}

fn rules<'a>(ctx: &ApiContext, scope: &Scoped, catalog: &'a Catalog) -> WebhookRules<'a> {
    WebhookRules { owner: scope.owner, policy: ctx.settings.url_policy, catalog }
}

/// Tells the entity of `write` (docs/contract.md 12). The write is done whatever comes of it: a
/// notice that cannot be published is logged, and the write's answer stands.
async fn tell(notices: &Notices<'_>, write: WebhookWrite<'_>, now: Timestamp) {
    if let Err(err) = notices.webhook_written(write, now).await {
        let webhook_id = write.webhook_id();
        tracing::warn!(%webhook_id, error = %crate::error::chain(&err), "a webhook notice was not published");
    }
}

/// A new webhook of the scope's owner from `body`, with a new signing secret; its entity told.
pub(crate) async fn create_webhook<S: WebhookInsert + EventTypeGet + ?Sized>(
    ctx: &ApiContext,
    store: &S,
    notices: &Notices<'_>,
    scope: &Scoped,
    body: &Map<String, Value>,
) -> Result<WebhookRecord, Error> {
    let catalog = catalog(store).await?;
    let input = WebhookIn::parse(body, &rules(ctx, scope, &catalog), None)?;
    check_allowed(scope, &input)?;
    let secret = ctx.ids.new_secret(input.signature)?;
    let now = Timestamp::new(ctx.clock.now());
    let (id, caller) = (WebhookId(ctx.ids.new_id()), &scope.caller);
    let webhook =
        WebhookRecord::create(input, id, scope.owner, &caller.subject, caller.account.as_deref(), now, secret);
    store.insert_webhook(&webhook).await?;
    tracing::info!(webhook_id = %webhook.info.id, owner = ?scope.owner, "webhook created");
    tell(notices, WebhookWrite::Created(&webhook), now).await;
    Ok(webhook)
}

/// One page of the webhooks the caller may reach: an entity's are all its; of the global
/// ones, its account's are read a page at a time until enough cover only its entities.
pub(crate) async fn reachable_page<S: WebhookList + ?Sized>(
    store: &S,
    scope: &Scoped,
    page: PageRequest,
) -> Result<Page<WebhookRecord>, Error> {
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

/// What an update asks: every mutable field (PUT), or a JSON merge patch of them (PATCH).
pub(crate) enum Change {
    Replace(Map<String, Value>),
    Merge(Map<String, Value>),
}

/// Webhook `id` changed as `change` says, if the version its writer read is still stored; its
/// entity told.
pub(crate) async fn update_webhook<S: WebhookGet + WebhookReplace + EventTypeGet + ?Sized>(
    ctx: &ApiContext,
    store: &S,
    notices: &Notices<'_>,
    scope: &Scoped,
    (id, condition): (WebhookId, Option<IfMatch>),
    change: Change,
) -> Result<WebhookRecord, Error> {
    let current = scope.webhook(store, id).await?;
    let document = match change {
        Change::Replace(body) => body,
        Change::Merge(patch) => {
            let mut document = WebhookIn::document_of(&current.info);
            json_patch::merge(&mut document, &Value::Object(patch));
            let Value::Object(document) = document else {
                return Err(Error::BadRequest("the merged document is not a JSON object".into()));
            };
            document
        }
    };
    let catalog = catalog(store).await?;
    let input = WebhookIn::parse(&document, &rules(ctx, scope, &catalog), Some(&current))?;
    check_allowed(scope, &input)?;
    check_update(condition, input.version, current.info.version)?;
    let now = Timestamp::new(ctx.clock.now());
    let updated = current.updated(input, &scope.caller.subject, now);
    store.replace_webhook(&updated, &current).await.map_err(stale(condition))?;
    tracing::info!(webhook_id = %id, version = updated.info.version, "webhook updated");
    tell(notices, WebhookWrite::Updated(&updated), now).await;
    Ok(updated)
}

/// Deletes webhook `id`, `If-Match` optional; its entity told.
pub(crate) async fn delete_webhook<S: WebhookGet + WebhookDelete + ?Sized>(
    ctx: &ApiContext,
    store: &S,
    notices: &Notices<'_>,
    scope: &Scoped,
    (id, condition): (WebhookId, Option<IfMatch>),
) -> Result<(), Error> {
    // Who may delete a global webhook depends on its account and what it covers: the delete
    // is of the version that was checked, so a change in between cannot slip past the check.
    let checked = match scope.owner {
        Owner::Global => Some(scope.webhook(store, id).await?.info.version),
        Owner::Entity(_) => None,
    };
    if let Some(current) = checked {
        check_if_match(condition, current)?;
    }
    let expected = match (condition, checked) {
        (Some(IfMatch::Version(version)), None) => Some(version),
        _ => checked,
    };
    store.delete_webhook(scope.owner, id, expected).await.map_err(stale(condition))?;
    tracing::info!(webhook_id = %id, "webhook deleted");
    tell(notices, WebhookWrite::Deleted(scope.owner, id), Timestamp::new(ctx.clock.now())).await;
    Ok(())
}

/// A new signing secret for webhook `id` at once, the previous one still signing for the
/// overlap (docs/contract.md 12).
pub(crate) async fn rotate_secret<S: WebhookGet + WebhookReplace + ?Sized>(
    ctx: &ApiContext,
    store: &S,
    scope: &Scoped,
    (id, condition): (WebhookId, Option<IfMatch>),
    rotation: Rotation,
) -> Result<WebhookRecord, Error> {
    let current = scope.webhook(store, id).await?;
    check_if_match(condition, current.info.version)?;
    let secret = match rotation.new_key(&current)? {
        NewKey::Chosen(secret) => secret,
        NewKey::Made(scheme) => ctx.ids.new_secret(scheme)?,
    };
    let now = Timestamp::new(ctx.clock.now());
    let rotated = current.rotated(secret, rotation.overlap, &scope.caller.subject, now);
    store.replace_webhook(&rotated, &current).await.map_err(stale(condition))?;
    tracing::info!(webhook_id = %id, version = rotated.info.version, "secret rotated");
    Ok(rotated)
}
