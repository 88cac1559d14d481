//! `POST .../webhook/{webhookId}/secret/rotate` (of an entity's webhook or a global one): a new
//! signing secret at once, the previous one still signing for the overlap (docs/contract.md 12).

use lambda_http::http::{StatusCode, header};
use lambda_http::{Body, Request, Response};
use serde_json::json;

use super::{IfMatch, etag, if_match, json_response_with, optional_json_object, replace_read, scoped};
use crate::error::Error;
use crate::model::{Rotation, Timestamp};
use crate::runtime::Context;
use crate::store::{WebhookGet, WebhookReplace};

pub async fn rotate_secret<S: WebhookGet + WebhookReplace + ?Sized>(
    ctx: &Context,
    store: &S,
    request: Request,
) -> Result<Response<Body>, Error> {
    let scope = scoped(&request, &ctx.settings)?;
    let condition = if_match(&request)?;
    let rotation = Rotation::parse(&optional_json_object(&request)?)?;
    let current = scope.webhook(store, &request).await?;
    if let Some(IfMatch::Version(version)) = condition
        && version != current.info.version
    {
        return Err(Error::PreconditionFailed { current: current.info.version });
    }
    let secret = match rotation.secret {
        Some(secret) => secret,
        None => ctx.ids.new_secret().map_err(Error::internal)?,
    };
    let now = Timestamp::new(ctx.clock.now());
    let rotated = current.rotated(secret, rotation.overlap, &scope.caller.subject, now);
    replace_read(store, &rotated, &current, condition).await?;
    tracing::info!(webhook_id = %rotated.info.id, version = rotated.info.version, "secret rotated");
    let body = json!({
        "secret": rotated.secret.expose(),
        "previousSecretExpiresAt": rotated.previous_secret.as_ref().map(|p| p.expires_at),
    });
    json_response_with(StatusCode::OK, &body, &[(header::ETAG, etag(rotated.info.version))])
}
