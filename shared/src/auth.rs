//! The caller, as the API Gateway JWT authorizer describes it (docs/contract.md 5.4). The handler
//! trusts these claims because the authorizer (or the local runner) already checked the token.

use std::collections::HashSet;

use lambda_http::{Request, RequestExt, request::RequestContext};
use uuid::Uuid;

use crate::config::Settings;
use crate::error::Error;
use crate::model::{Coverage, EntityId, WebhookRecord};

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
}

impl Caller {
    /// Reads `sub`, the account and the entities claims from the request context. No claims,
    /// or no `sub`, is unauthorized.
    pub(crate) fn from_request(request: &Request, settings: &Settings) -> Result<Self, Error> {
        let claims = request
            .request_context_ref()
            .and_then(RequestContext::authorizer)
            .and_then(|authorizer| authorizer.jwt.as_ref())
            .map(|jwt| &jwt.claims)
            .ok_or(Error::Unauthorized)?;
        let subject = claims.get("sub").filter(|s| !s.is_empty()).ok_or(Error::Unauthorized)?;
        let account = claims.get(&settings.account_claim).filter(|a| !a.is_empty() && a.len() <= MAX_ACCOUNT_BYTES);
        let entities =
            claims.get(&settings.entities_claim).map_or(EntityScope::Only(HashSet::new()), |v| parse_entities(v));
        let scopes = claims.get("scope").map(|v| claim_entries(v).into_iter().collect()).unwrap_or_default();
        Ok(Self { subject: subject.clone(), account: account.cloned(), entities, scopes })
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
        let caller =
            Caller { subject: "u".into(), account: Some("u".into()), entities: ids(&[A]), scopes: HashSet::new() };
        assert!(caller.may_manage(EntityId::parse(A).expect("uuid")));
        assert!(!caller.may_manage(EntityId::parse(B).expect("uuid")));
    }

    #[test]
    fn a_global_webhook_is_reached_only_by_a_caller_covering_all_its_entities() {
        let id = |s: &str| EntityId::parse(s).expect("uuid");
        let only_a =
            Caller { subject: "u".into(), account: Some("u".into()), entities: ids(&[A]), scopes: HashSet::new() };
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
            let caller = Caller { subject: "u".into(), account: Some("u".into()), entities: ids(&[]), scopes };
            assert!(caller.require(PUBLISH_SCOPE).is_ok(), "{claim}");
        }
        let caller = Caller {
            subject: "u".into(),
            account: Some("u".into()),
            entities: EntityScope::All,
            scopes: HashSet::new(),
        };
        assert!(matches!(caller.require(PUBLISH_SCOPE), Err(Error::Forbidden(PUBLISH_SCOPE))));
    }
}
