//! `POST .../webhook/{webhookId}/secret/rotate` (of an entity's webhook or a global one): a new
//! signing secret at once, the previous one still signing for the overlap (docs/contract.md 12).

use lambda_http::Request;
use lambda_http::http::{StatusCode, header};
use serde::Serialize;

use super::Handled;
use super::{etag, if_match, json_response_with, optional_json_object, scoped, webhook_id};
use crate::model::{PublicKey, Rotation, SignatureScheme, Timestamp};
use crate::runtime::ApiContext;
use crate::service;
use crate::store::{WebhookGet, WebhookReplace};

/// The new HMAC secret, shown this once, or the new ed25519 public key, and when the previous
/// one stops signing.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct RotatedOut<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    secret: Option<&'a str>,
    signature: SignatureScheme,
    #[serde(skip_serializing_if = "Option::is_none")]
    public_key: Option<&'a PublicKey>,
    previous_secret_expires_at: Option<Timestamp>,
}

pub(crate) async fn rotate_secret<S>(ctx: &ApiContext, store: &S, request: Request) -> Handled
where
    S: WebhookGet + WebhookReplace + ?Sized,
{
    let scope = scoped(&request, &ctx.settings)?;
    let condition = if_match(&request)?;
    let rotation = Rotation::parse(&optional_json_object(&request)?)?;
    let written = (webhook_id(&request)?, condition);
    let rotated = service::rotate_secret(ctx, store, &scope, written, rotation).await?;
    let previous_secret_expires_at = rotated.previous_secret.as_ref().map(|p| p.expires_at);
    let body = RotatedOut {
        secret: rotated.secret.shown_once(),
        signature: rotated.info.signature,
        public_key: rotated.info.public_key.as_ref(),
        previous_secret_expires_at,
    };
    json_response_with(StatusCode::OK, &body, &[(header::ETAG, etag(rotated.info.version))])
}
