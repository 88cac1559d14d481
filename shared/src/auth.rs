//! The caller, as the API Gateway JWT authorizer describes it (docs/contract.md 5.4). The handler
//! trusts these claims because the authorizer (or the local runner) already checked the token.

use std::collections::{HashMap, HashSet};

use chrono::Utc;

use lambda_http::http::Method;
use lambda_http::{Request, RequestExt, request::RequestContext};
use serde_json::Value;
use uuid::Uuid;

use crate::config::Settings;
use crate::error::Error;
use crate::model::{Coverage, EntityId, EventList, WebhookRecord};

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum EntityScope {
    All,
    Only(HashSet<Uuid>),
}

/// The longest account a global webhook can be kept under (a DynamoDB partition key holds 2,048
/// bytes; the account's is `ACCOUNT#` and the value).
const MAX_ACCOUNT_BYTES: usize = 1024;

/// The scope publishing needs (docs/contract.md 5.4); the template declares it on the route too.
pub(crate) const PUBLISH_SCOPE: &str = "events:publish";
/// The scope of the catalog's writes (docs/contract.md 13): the platform operator's.
pub(crate) const EVENT_TYPES_SCOPE: &str = "event-types:write";
/// The scope of opening portal sessions (docs/contract.md 16): a platform backend's.
pub(crate) const PORTAL_SCOPE: &str = "portal:create";

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Caller {
    /// The token's `sub`, recorded as `userIdentifier` on writes.
    pub subject: String,
    /// The account claim's value (`WEBHOOKS_ACCOUNT_CLAIM`): the global webhooks the caller
    /// creates are that account's, and only its callers reach them. None when the token has
    /// no such claim (or one too long to be a key), which keeps the caller off the global routes.
    pub account: Option<String>,
    pub entities: EntityScope,
    /// The token's `scope` claim.
    pub scopes: HashSet<String>,
    /// What a portal session grants (docs/contract.md 16); `None` for the platform's own tokens.
    pub portal: Option<PortalGrant>,
}

/// A portal session's limits beyond its one entity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PortalGrant {
    /// Its one entity.
    pub entity: EntityId,
    pub read_only: bool,
    /// The event types and families its webhooks may list; any, when `None`.
    pub event_types: Option<Vec<String>>,
    /// When it ends (unix seconds).
    pub expires: i64,
}

impl Caller {
    /// The caller the authorizer described: a JWT authorizer's claims (`sub`, the account, the
    /// entities, `scope`), or the portal authorizer's context (`crate::portal`). None, or no
    /// `sub`, is unauthorized. A portal session's expiry and read-only are `check_session`'s.
    pub(crate) fn from_request(request: &Request, settings: &Settings) -> Result<Self, Error> {
        let authorizer =
            request.request_context_ref().and_then(RequestContext::authorizer).ok_or(Error::Unauthorized)?;
        match &authorizer.jwt {
            Some(jwt) => Self::from_claims(&jwt.claims, settings),
            None => Self::from_portal(&authorizer.fields),
        }
    }

    fn from_claims(claims: &HashMap<String, String>, settings: &Settings) -> Result<Self, Error> {
        let subject = claims.get("sub").filter(|s| !s.is_empty()).ok_or(Error::Unauthorized)?;
        let account = claims.get(&settings.account_claim).filter(|a| !a.is_empty() && a.len() <= MAX_ACCOUNT_BYTES);
        let entities =
            claims.get(&settings.entities_claim).map_or(EntityScope::Only(HashSet::new()), |v| parse_entities(v));
        let scopes = claims.get("scope").map(|v| claim_entries(v).into_iter().collect()).unwrap_or_default();
        Ok(Self { subject: subject.clone(), account: account.cloned(), entities, scopes, portal: None })
    }

    fn from_portal(context: &HashMap<String, Value>) -> Result<Self, Error> {
        if context.get("portal") != Some(&Value::Bool(true)) {
            return Err(Error::Unauthorized);
        }
        let expires = context.get("exp").and_then(Value::as_i64).ok_or(Error::Unauthorized)?;
        let text = |name: &str| context.get(name).and_then(Value::as_str).filter(|s| !s.is_empty());
        let subject = text("sub").ok_or(Error::Unauthorized)?;
        // One entity, never `*`: the session's, as its token names it.
        let entity = text("entities").and_then(|e| EntityId::parse(e).ok()).ok_or(Error::Unauthorized)?;
        let grant = PortalGrant {
            entity,
            read_only: context.get("readOnly") != Some(&Value::Bool(false)),
            event_types: text("eventTypes").map(claim_entries),
            expires,
        };
        Ok(Self {
            subject: subject.to_string(),
            account: None,
            entities: EntityScope::Only(HashSet::from([entity.0])),
            scopes: HashSet::new(),
            portal: Some(grant),
        })
    }

    /// The key of the caller's API rate limit: its `sub`, or its portal session's entity (a
    /// prefix of its own, so that no identity provider's `sub` can share it).
    pub fn rate_key(&self) -> String {
        match &self.portal {
            Some(grant) => format!("portal#{}", grant.entity),
            None => format!("caller#{}", self.subject),
        }
    }

    /// A portal session's own limits on a request with `method`, checked after the request is
    /// counted against the rate limit: expired (401), or read-only and a write (403).
    pub fn check_session(&self, method: &Method) -> Result<(), Error> {
        let Some(grant) = &self.portal else { return Ok(()) };
        if grant.expires <= Utc::now().timestamp() {
            return Err(Error::Unauthorized);
        }
        if grant.read_only && !matches!(*method, Method::GET | Method::HEAD) {
            return Err(Error::ReadOnly);
        }
        Ok(())
    }

    /// `Forbidden` unless the token was granted `scope`.
    pub fn require(&self, scope: &'static str) -> Result<(), Error> {
        if self.scopes.contains(scope) { Ok(()) } else { Err(Error::Forbidden(scope)) }
    }

    pub fn may_manage(&self, entity: EntityId) -> bool {
        match &self.entities {
            EntityScope::All => true,
            EntityScope::Only(ids) => ids.contains(&entity.0),
        }
    }

    /// Whether the caller manages every entity of `coverage` (`*` needs `*`, docs/contract.md 11).
    pub fn may_cover(&self, coverage: &Coverage) -> bool {
        match (&self.entities, coverage) {
            (EntityScope::All, _) => true,
            (EntityScope::Only(_), Coverage::All) => false,
            (EntityScope::Only(_), Coverage::Only(ids)) => ids.iter().all(|id| self.may_manage(*id)),
        }
    }

    /// Whether the caller may see and change `webhook`: an entity's, if it manages the entity;
    /// a global one, if it is of the webhook's account and manages every entity it covers.
    pub fn may_reach(&self, webhook: &WebhookRecord) -> bool {
        match (&webhook.info.entities, webhook.info.owner_identifier) {
            (Some(coverage), _) => {
                self.account.is_some() && webhook.info.account_identifier == self.account && self.may_cover(coverage)
            }
            (None, Some(entity)) => self.may_manage(entity),
            (None, None) => false,
        }
    }
}

impl PortalGrant {
    /// Whether a webhook of this session may list `list`: each entry granted by name or family,
    /// and every event (`*`, or an empty list) only if every event is granted.
    pub fn may_list(&self, list: &EventList) -> bool {
        let Some(granted) = &self.event_types else { return true };
        let entries = list.to_strings();
        let grants = |entry: &str| {
            granted.iter().any(|g| {
                g == "*"
                    || g == entry
                    || g.strip_suffix('*').is_some_and(|family| !entry.ends_with('*') && entry.starts_with(family))
            })
        };
        if entries.is_empty() { granted.iter().any(|g| g == "*") } else { entries.iter().all(|e| grants(e)) }
    }
}

/// The entities claim: `*`, or UUIDs as `claim_entries` reads them. Entries that are not
/// UUIDs grant nothing.
pub(crate) fn parse_entities(claim: &str) -> EntityScope {
    let entries = claim_entries(claim);
    if entries.iter().any(|e| e == "*") {
        return EntityScope::All;
    }
    EntityScope::Only(entries.iter().filter_map(|e| Uuid::parse_str(e).ok()).collect())
}

/// A list claim as API Gateway passes it: always a string, holding space-separated entries, a
/// JSON array, or an array the authorizer flattened to `[a b]`.
fn claim_entries(claim: &str) -> Vec<String> {
    let claim = claim.trim();
    match serde_json::from_str::<Vec<String>>(claim) {
        Ok(list) => list,
        Err(_) => claim
            .trim_start_matches('[')
            .trim_end_matches(']')
            .split(|c: char| c.is_whitespace() || c == ',')
            .map(|s| s.trim_matches('"').to_string())
            .filter(|s| !s.is_empty())
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = "d5b8a3c2-9e6f-4a1b-8d34-7c2e1f0a5b69";
    const B: &str = "0d9e8f7a-6b5c-4d3e-8f2a-1b0c9d8e7f6a";

    fn ids(list: &[&str]) -> EntityScope {
        EntityScope::Only(list.iter().map(|s| Uuid::parse_str(s).expect("uuid")).collect())
    }

    #[test]
    fn every_documented_claim_form() {
        assert_eq!(parse_entities("*"), EntityScope::All);
        assert_eq!(parse_entities(&format!("{A} {B}")), ids(&[A, B]));
        assert_eq!(parse_entities(&format!("[\"{A}\",\"{B}\"]")), ids(&[A, B]));
        assert_eq!(parse_entities(&format!("[{A} {B}]")), ids(&[A, B]));
        assert_eq!(parse_entities("[*]"), EntityScope::All);
        assert_eq!(parse_entities(&format!("not-a-uuid {A}")), ids(&[A]));
        assert_eq!(parse_entities(""), ids(&[]));
    }

    #[test]
    fn scope_decides_access() {
        let caller = Caller {
            subject: "u".into(),
            account: Some("u".into()),
            entities: ids(&[A]),
            scopes: HashSet::new(),
            portal: None,
        };
        assert!(caller.may_manage(EntityId::parse(A).expect("uuid")));
        assert!(!caller.may_manage(EntityId::parse(B).expect("uuid")));
    }

    #[test]
    fn a_global_webhook_is_reached_only_by_a_caller_covering_all_its_entities() {
        let id = |s: &str| EntityId::parse(s).expect("uuid");
        let only_a = Caller {
            subject: "u".into(),
            account: Some("u".into()),
            entities: ids(&[A]),
            scopes: HashSet::new(),
            portal: None,
        };
        let both = Caller { entities: ids(&[A, B]), ..only_a.clone() };
        let star = Caller { entities: EntityScope::All, ..only_a.clone() };
        let a_and_b = Coverage::Only([id(A), id(B)].into());
        assert!(!only_a.may_cover(&a_and_b) && both.may_cover(&a_and_b) && star.may_cover(&a_and_b));
        assert!(only_a.may_cover(&Coverage::Only([id(A)].into())));
        assert!(!both.may_cover(&Coverage::All) && star.may_cover(&Coverage::All));
    }

    #[test]
    fn scopes_in_every_claim_form_and_none_without_the_claim() {
        for claim in ["events:publish event-types:write", "[events:publish event-types:write]", r#"["events:publish"]"#]
        {
            let scopes: HashSet<String> = claim_entries(claim).into_iter().collect();
            let caller =
                Caller { subject: "u".into(), account: Some("u".into()), entities: ids(&[]), scopes, portal: None };
            assert!(caller.require(PUBLISH_SCOPE).is_ok(), "{claim}");
        }
        let caller = Caller {
            subject: "u".into(),
            account: Some("u".into()),
            entities: EntityScope::All,
            scopes: HashSet::new(),
            portal: None,
        };
        assert!(matches!(caller.require(PUBLISH_SCOPE), Err(Error::Forbidden(PUBLISH_SCOPE))));
    }

    #[test]
    fn a_portal_grant_lets_webhooks_list_only_what_it_names() {
        let grant = |types: Option<&[&str]>| PortalGrant {
            entity: EntityId::parse(A).expect("uuid"),
            read_only: false,
            event_types: types.map(|t| t.iter().map(ToString::to_string).collect()),
            expires: 0,
        };
        let list = |entries: &[&str]| {
            EventList::parse(entries.iter().copied(), crate::model::Catalog::defaults(), None).expect("a list")
        };
        let families = grant(Some(&["booking.*", "payment.completed"]));
        assert!(families.may_list(&list(&["booking.created", "booking.*", "payment.completed"])));
        assert!(!families.may_list(&list(&["payment.failed"])));
        assert!(!families.may_list(&list(&["payment.*"])));
        assert!(!families.may_list(&list(&["*"])));
        assert!(!families.may_list(&list(&[])), "an empty list is every event");
        assert!(grant(Some(&["*"])).may_list(&list(&[])));
        assert!(grant(None).may_list(&list(&["*"])));
    }

    #[test]
    fn a_portal_session_is_its_entitys_caller_until_it_expires_and_only_reads_when_read_only() {
        use crate::testing::ApiEvent;
        let settings = Settings::default();
        let soon = Utc::now().timestamp() + 60;
        let context = |read_only: bool, exp: i64| {
            serde_json::json!({"portal": true, "sub": format!("portal:{A}"), "entities": A, "readOnly": read_only,
                               "exp": exp, "eventTypes": "booking.*"})
        };
        let caller = |method: &str, context: Value| {
            let event = ApiEvent::list_webhooks().route(
                method,
                "/portal/api/managing-entity/{entityId}/webhook",
                &[("entityId", A)],
            );
            Caller::from_request(&event.portal_context(context).request(), &settings)
        };
        let writer = caller("POST", context(false, soon)).expect("a caller");
        assert_eq!((&writer.entities, &writer.account, &writer.scopes), (&ids(&[A]), &None, &HashSet::new()));
        assert_eq!(writer.portal.as_ref().and_then(|p| p.event_types.clone()), Some(vec!["booking.*".to_string()]));
        assert_eq!(writer.rate_key(), format!("portal#{A}"));
        assert!(writer.check_session(&Method::POST).is_ok());
        let reader = caller("GET", context(true, soon)).expect("a caller");
        assert!(reader.check_session(&Method::GET).is_ok());
        assert!(matches!(reader.check_session(&Method::POST), Err(Error::ReadOnly)));
        assert!(matches!(reader.check_session(&Method::DELETE), Err(Error::ReadOnly)));
        let expired = caller("GET", context(false, Utc::now().timestamp())).expect("a caller, counted");
        assert!(matches!(expired.check_session(&Method::GET), Err(Error::Unauthorized)));
        assert!(matches!(caller("GET", serde_json::json!({"sub": "x", "entities": A})), Err(Error::Unauthorized)));
        let mut everyone = context(false, soon);
        everyone["entities"] = "*".into();
        assert!(matches!(caller("GET", everyone), Err(Error::Unauthorized)), "one entity, never every one");
    }
}
