//! Opening a portal session: what the platform backend asks, checked, and the token it gets.

use serde_json::{Map, Value};

use super::{ISSUER, PortalKeys, SessionClaims};
use crate::error::Error;
use crate::model::fields::{Fields, as_bool, as_str, as_string_array};
use crate::model::{Catalog, EntityId, EventList, Timestamp};
use crate::runtime::ApiContext;
use crate::store::PortalKeyStore;

const DEFAULT_EXPIRES_IN: i64 = 3_600;
/// A day: a portal session is handed to a browser, not kept by a backend.
const MAX_EXPIRES_IN: i64 = 86_400;

/// The body of `POST .../portal-session`, checked.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct SessionRequest {
    pub expires_in: i64,
    pub read_only: bool,
    pub event_types: Option<Vec<String>>,
    pub allowed_origin: Option<String>,
    pub entity_name: Option<String>,
}

/// The longest entity name a session shows.
const MAX_ENTITY_NAME_CHARS: usize = 200;

impl SessionRequest {
    /// `eventTypes` are checked as a webhook's `eventList` entries are, against `catalog`.
    pub(crate) fn parse(body: &Map<String, Value>, catalog: &Catalog) -> Result<Self, Error> {
        let mut fields = Fields::new(body);
        let expires_in = fields.optional(
            "expiresIn",
            || DEFAULT_EXPIRES_IN,
            |v| match v.as_i64() {
                Some(seconds) if (1..=MAX_EXPIRES_IN).contains(&seconds) => Ok(seconds),
                _ => Err(format!("must be a whole number of seconds from 1 to {MAX_EXPIRES_IN}")),
            },
        );
        let read_only = fields.optional("readOnly", || false, as_bool);
        let event_types = fields.optional(
            "eventTypes",
            || None,
            |v| {
                let entries = as_string_array(v)?;
                if entries.is_empty() {
                    return Err("must list at least one event type (leave it out to allow every one)".into());
                }
                EventList::parse(entries, catalog, None).map(|list| Some(list.to_strings()))
            },
        );
        let allowed_origin = fields.optional("allowedOrigin", || None, |v| origin(as_str(v)?).map(Some));
        let entity_name = fields.optional(
            "entityName",
            || None,
            |v| match as_str(v)?.trim() {
                name if (1..=MAX_ENTITY_NAME_CHARS).contains(&name.chars().count()) => Ok(Some(name.to_string())),
                _ => Err(format!("must be 1 to {MAX_ENTITY_NAME_CHARS} characters")),
            },
        );
        match (expires_in, read_only, event_types, allowed_origin, entity_name) {
            (Some(expires_in), Some(read_only), Some(event_types), Some(allowed_origin), Some(entity_name))
                if fields.errors.is_empty() =>
            {
                Ok(Self { expires_in, read_only, event_types, allowed_origin, entity_name })
            }
            _ => Err(fields.into_error()),
        }
    }
}

/// An origin as `Content-Security-Policy: frame-ancestors` names one: scheme, host and port. The
/// host is a domain name or an IPv4 address, of letters, digits, dots and hyphens only: a URL's
/// host may also hold `*`, `;`, `,` or quotes, which the header would read as a wildcard, another
/// directive or another policy, and CSP cannot name an IPv6 address.
pub(crate) fn origin(text: &str) -> Result<String, String> {
    let problem = || "must be an origin (scheme, host and port only), e.g. https://app.example.com".to_string();
    let url = url::Url::parse(text).map_err(|_| problem())?;
    let host_named = match url.host() {
        Some(url::Host::Domain(name)) => name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-'),
        Some(url::Host::Ipv4(_)) => true,
        _ => false,
    };
    let origin = url.origin().ascii_serialization();
    if matches!(url.scheme(), "https" | "http") && host_named && origin == text { Ok(origin) } else { Err(problem()) }
}

/// A session's token, when it stops working, and the origin that may frame its portal.
pub(crate) struct Session {
    pub token: String,
    pub expires_at: Timestamp,
    pub allowed_origin: Option<String>,
}

/// Opens a session on `entity`'s webhooks as `asked`, signed by the deployment's portal key
/// (made now if this is the first session).
pub(crate) async fn open_session<S: PortalKeyStore + ?Sized>(
    ctx: &ApiContext,
    keys: &PortalKeys,
    store: &S,
    entity: EntityId,
    asked: SessionRequest,
) -> Result<Session, Error> {
    let now = ctx.clock.now();
    let expires_at = Timestamp::new(now + chrono::Duration::seconds(asked.expires_in));
    let claims = SessionClaims {
        // The caller the session's writes are recorded as, and its rate limit's key: the entity's
        // own, so that one tenant's portal use leaves another's alone.
        sub: format!("portal:{entity}"),
        entity,
        read_only: asked.read_only,
        event_types: asked.event_types,
        allowed_origin: asked.allowed_origin,
        entity_name: asked.entity_name,
        iss: ISSUER.to_string(),
        aud: ISSUER.to_string(),
        iat: now.timestamp(),
        exp: expires_at.get().timestamp(),
        jti: ctx.ids.new_id().to_string(),
    };
    let token = keys.get_or_make(store).await?.issue(&claims)?;
    tracing::debug!(entity = %entity, jti = %claims.jti, read_only = claims.read_only, "portal session opened");
    Ok(Session { token, expires_at, allowed_origin: claims.allowed_origin })
}
