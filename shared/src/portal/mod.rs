//! Portal sessions (docs/contract.md 16): a platform backend holding `portal:create` gets a
//! short-lived bearer token for one entity's webhooks, which that entity's own users then use
//! through the embedded console. The token is a JWT (HS256) under the deployment's portal key: 32
//! random bytes made by the first session and kept sealed like every secret, never shown. On AWS
//! the portal routes' Lambda authorizer checks it, on the runner the runner does: both with
//! `authorize`.

mod session;

use aws_lambda_events::apigw::ApiGatewayV2CustomAuthorizerSimpleResponse;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use tokio::sync::OnceCell;

pub(crate) use session::{SessionRequest, open_session, origin};

use crate::error::Error;
use crate::model::EntityId;
use crate::store::PortalKeyStore;

/// The issuer and audience of portal tokens: no other token has them.
const ISSUER: &str = "webhooks-portal";

/// What a portal token says: the entity it reaches, whether only to read, the event types its
/// webhooks may list (any, when absent), the origin that may frame the portal, the entity's name
/// to show, and its window. The console reads them too (its payload is not secret).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct SessionClaims {
    pub sub: String,
    pub entity: EntityId,
    pub read_only: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_types: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allowed_origin: Option<String>,
    /// The name the portal shows for the entity.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entity_name: Option<String>,
    pub iss: String,
    pub aud: String,
    pub iat: i64,
    pub exp: i64,
    pub jti: String,
}

/// The deployment's portal key.
pub struct PortalKey(Vec<u8>);

impl PortalKey {
    fn parse(kept: &str) -> Result<Self, Error> {
        STANDARD.decode(kept).map(Self).map_err(|_| Error::internal("the kept portal key is not base64"))
    }

    pub(crate) fn issue(&self, claims: &SessionClaims) -> Result<String, Error> {
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), claims, &EncodingKey::from_secret(&self.0))
            .map_err(Error::internal)
    }

    /// The claims of `token` if this key signed it for portal use. Its expiry is not checked
    /// here but where the request is answered (`crate::auth`): API Gateway keeps an authorizer's
    /// answer for minutes, past a token's expiry, and an expired token is a 401 like any other.
    fn verify(&self, token: &str) -> Option<SessionClaims> {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_issuer(&[ISSUER]);
        validation.set_audience(&[ISSUER]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation.validate_exp = false;
        match jsonwebtoken::decode::<SessionClaims>(token, &DecodingKey::from_secret(&self.0), &validation) {
            Ok(data) => Some(data.claims),
            Err(err) => {
                tracing::info!(error = %err, "portal token refused");
                None
            }
        }
    }
}

/// The portal key a process reads (or makes) once and keeps.
#[derive(Default)]
pub struct PortalKeys(OnceCell<PortalKey>);

impl PortalKeys {
    /// The key, made and kept if this is the deployment's first session.
    pub(crate) async fn get_or_make<S: PortalKeyStore + ?Sized>(&self, store: &S) -> Result<&PortalKey, Error> {
        self.0
            .get_or_try_init(|| async {
                let kept = match store.portal_key().await? {
                    Some(kept) => kept,
                    None => store.keep_portal_key(&STANDARD.encode(random_key()?)).await?,
                };
                PortalKey::parse(&kept)
            })
            .await
    }

    /// The key, if one was made (an authorizer never makes one: no token can verify before).
    async fn get<S: PortalKeyStore + ?Sized>(&self, store: &S) -> Result<Option<&PortalKey>, Error> {
        if let Some(key) = self.0.get() {
            return Ok(Some(key));
        }
        match store.portal_key().await? {
            Some(kept) => Ok(Some(self.0.get_or_try_init(|| async { PortalKey::parse(&kept) }).await?)),
            None => Ok(None),
        }
    }
}

fn random_key() -> Result<[u8; 32], Error> {
    let mut key = [0u8; 32];
    getrandom::fill(&mut key).map_err(Error::internal)?;
    Ok(key)
}

/// What the portal routes' authorizer decides of a request.
#[derive(Debug, PartialEq)]
pub enum Verdict {
    /// No `Authorization` header: API Gateway answers 401 itself.
    NoToken,
    /// A token this deployment did not sign for portal use: 403.
    Refused,
    /// The context handed to the function (`requestContext.authorizer.lambda`).
    Granted(Map<String, Value>),
}

/// Decides a portal route's request by its `Authorization` header.
pub async fn authorize<S: PortalKeyStore + ?Sized>(
    keys: &PortalKeys,
    store: &S,
    headers: &http::HeaderMap,
) -> Result<Verdict, Error> {
    let Some(value) = headers.get(http::header::AUTHORIZATION) else { return Ok(Verdict::NoToken) };
    let token = value.to_str().ok().and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")));
    let (Some(token), Some(key)) = (token, keys.get(store).await?) else { return Ok(Verdict::Refused) };
    Ok(key.verify(token.trim()).map_or(Verdict::Refused, |claims| Verdict::Granted(context(&claims))))
}

/// The `authorize-portal` Lambda authorizer's answer of `verdict` (payload 2.0, simple
/// responses): API Gateway answers 403 to a refusal.
pub fn simple_response(verdict: Verdict) -> ApiGatewayV2CustomAuthorizerSimpleResponse {
    let mut response = ApiGatewayV2CustomAuthorizerSimpleResponse::default();
    response.is_authorized = matches!(verdict, Verdict::Granted(_));
    response.context = Value::Object(match verdict {
        Verdict::Granted(context) => context,
        Verdict::NoToken | Verdict::Refused => Map::new(),
    });
    response
}

/// The authorizer's context of a verified session: what `crate::auth::Caller` reads.
fn context(claims: &SessionClaims) -> Map<String, Value> {
    let mut context = Map::new();
    context.insert("portal".into(), Value::Bool(true));
    context.insert("sub".into(), Value::String(claims.sub.clone()));
    context.insert("entities".into(), Value::String(claims.entity.to_string()));
    context.insert("readOnly".into(), Value::Bool(claims.read_only));
    context.insert("exp".into(), Value::from(claims.exp));
    if let Some(types) = &claims.event_types {
        context.insert("eventTypes".into(), Value::String(types.join(" ")));
    }
    context
}

#[cfg(test)]
mod tests;
