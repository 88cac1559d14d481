//! The webhook subscription: its stored record, its public form, and the input that writes it.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::fields::{Fields, as_bool, as_str, as_string_array, as_string_map};
use super::receiver_auth::{AuthSecret, ReceiverAuth, ReceiverCredentials, parse_receiver_auth};
use super::rotation::PreviousSecret;
use super::{
    Catalog, Coverage, CustomHeaders, DeliveryOptions, EntityId, EventList, EventUrl, Owner, PublicKey,
    SignatureScheme, Timestamp, UrlPolicy, WebhookId, WebhookName, WebhookSecret,
};
use crate::error::Error;

const MAX_OWNER_NAME_CHARS: usize = 200;

/// A webhook as the API shows it (docs/contract.md 5.1): everything but the secret.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WebhookOut {
    pub id: WebhookId,
    pub created_date: Timestamp,
    pub last_update: Timestamp,
    /// How many times the record was persisted: 1 after create, +1 on every write.
    pub version: u64,
    pub user_identifier: String,
    /// The account a global webhook belongs to (its creator's account claim); none for an
    /// entity's own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account_identifier: Option<String>,
    /// The managing entity; none for a global webhook.
    pub owner_identifier: Option<EntityId>,
    /// The entities a global webhook covers; absent for an entity's own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entities: Option<Coverage>,
    pub owner_name: Option<String>,
    pub name: WebhookName,
    pub enabled: bool,
    pub event_url: EventUrl,
    pub event_list: EventList,
    pub headers: CustomHeaders,
    pub send_data: bool,
    pub disabled_reason: Option<String>,
    /// How attempts authenticate to the receiver; its secret is in `WebhookRecord::auth_secret`.
    #[serde(default)]
    pub auth: Option<ReceiverAuth>,
    #[serde(flatten)]
    pub options: DeliveryOptions,
    /// `hmac` (`v1`, a shared secret) or `ed25519` (`v1a`, verified with `public_key`).
    #[serde(default)]
    pub signature: SignatureScheme,
    /// An ed25519 webhook's public key, which receivers verify with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public_key: Option<PublicKey>,
}

/// A webhook as stored: the public form and its signing secret.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WebhookRecord {
    #[serde(flatten)]
    pub info: WebhookOut,
    pub secret: WebhookSecret,
    /// The password, token or client secret of `info.auth`.
    #[serde(default, rename = "authSecret", skip_serializing_if = "Option::is_none")]
    pub auth_secret: Option<AuthSecret>,
    /// The secret the last rotation replaced, while it still signs.
    #[serde(default, rename = "previousSecret", skip_serializing_if = "Option::is_none")]
    pub previous_secret: Option<PreviousSecret>,
    /// Since when attempts have failed with no success after (docs/contract.md 12): kept by the
    /// deliver step without a new version, and restarted by every write through the API.
    #[serde(default, rename = "failingSince", skip_serializing_if = "Option::is_none")]
    pub failing_since: Option<Timestamp>,
    /// The delivery whose failed attempt disabled the webhook: its message publishes the notice.
    #[serde(default, rename = "disabledBy", skip_serializing_if = "Option::is_none")]
    pub disabled_by: Option<uuid::Uuid>,
    /// How long its receiver's recent attempts took, when they were slow: kept by the deliver
    /// step without a new version, it caps the webhook's share of the deliver concurrency.
    #[serde(default, rename = "slowMs", skip_serializing_if = "Option::is_none")]
    pub slow_ms: Option<u32>,
}

/// The API's form of a stored webhook: all of it but its secrets and the deliver step's marks.
impl From<WebhookRecord> for WebhookOut {
    fn from(record: WebhookRecord) -> Self {
        record.info
    }
}

/// The create response: the only time an HMAC secret is shown. An ed25519 webhook's private
/// key is shown never: its `publicKey` is in every read. (No `Debug`: it holds the secret.)
#[derive(Serialize)]
pub struct WebhookCreated<'a> {
    #[serde(flatten)]
    pub webhook: &'a WebhookOut,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret: Option<&'a str>,
}

impl<'a> WebhookCreated<'a> {
    pub fn of(webhook: &'a WebhookRecord) -> Self {
        Self { webhook: &webhook.info, secret: webhook.secret.shown_once() }
    }
}

/// The mutable fields of a webhook, parsed from a create, PUT or merged PATCH body.
#[derive(Debug, Clone, PartialEq)]
pub struct WebhookIn {
    pub name: WebhookName,
    pub owner_name: Option<String>,
    pub enabled: bool,
    pub event_url: EventUrl,
    pub event_list: EventList,
    pub headers: CustomHeaders,
    pub send_data: bool,
    pub auth: Option<ReceiverCredentials>,
    /// A global webhook's entities (required for one, refused for an entity's own).
    pub entities: Option<Coverage>,
    pub options: DeliveryOptions,
    /// How attempts are signed: chosen at create (default `hmac`), then changed only by a
    /// rotation.
    pub signature: SignatureScheme,
    /// The version the writer read (for PUT and PATCH), if the body states one.
    pub version: Option<u64>,
}

/// What a webhook body is checked against besides itself.
#[derive(Debug, Clone, Copy)]
pub struct WebhookRules<'a> {
    /// The owner of the path.
    pub owner: Owner,
    pub policy: UrlPolicy,
    /// The event types an `eventList` may name.
    pub catalog: &'a Catalog,
}

impl WebhookIn {
    /// Parses a request body, listing every invalid field. `previous` is the webhook before
    /// this write: a body of the same `auth.type` may leave its secret out, and the entries
    /// of its `eventList` stay allowed as written.
    pub fn parse(
        body: &Map<String, Value>,
        rules: &WebhookRules<'_>,
        previous: Option<&WebhookRecord>,
    ) -> Result<Self, Error> {
        let (owner, policy) = (rules.owner, rules.policy);
        let stored = previous.and_then(WebhookRecord::receiver_credentials);
        let stored = stored.as_ref();
        let kept = previous.map(|w| &w.info.event_list);
        let mut fields = Fields::new(body);
        let name = fields.required("name", |v| WebhookName::parse(as_str(v)?));
        let owner_name = parse_entity(&mut fields, body, owner);
        let entities = match owner {
            Owner::Global => fields.required("entities", Coverage::parse).map(Some),
            Owner::Entity(_) => match body.get("entities") {
                None | Some(Value::Null) => Some(None),
                Some(_) => {
                    fields.push("entities", "only a global webhook (/api/webhook) covers other entities");
                    None
                }
            },
        };
        let enabled = fields.optional("enabled", || true, as_bool);
        let event_url = fields.required("eventUrl", |v| EventUrl::parse(as_str(v)?, policy));
        // A stored secret stays only with the destination's origin it was given for.
        let stored = stored.filter(|_| {
            let origin = |url: &EventUrl| url.as_url().origin();
            event_url.as_ref().zip(previous).is_some_and(|(url, p)| origin(url) == origin(&p.info.event_url))
        });
        let event_list = fields
            .optional("eventList", EventList::default, |v| EventList::parse(as_string_array(v)?, rules.catalog, kept));
        let headers = fields.optional("headers", CustomHeaders::default, |v| CustomHeaders::parse(as_string_map(v)?));
        let send_data = fields.optional("sendData", || true, as_bool);
        let auth = match parse_receiver_auth(body.get("auth").unwrap_or(&Value::Null), stored, policy) {
            Ok(auth) => Some(auth),
            Err(errors) => {
                fields.errors.extend(errors);
                None
            }
        };
        if let (Some(Some(_)), Some(headers)) = (&auth, &headers)
            && headers.iter().any(|(name, _)| name.eq_ignore_ascii_case("authorization"))
        {
            fields.push("headers", "must not set Authorization when auth is set");
        }
        let options = DeliveryOptions::parse(body, &mut fields);
        let signature = parse_signature(&mut fields, previous);
        let version = fields.optional(
            "version",
            || None,
            |v| v.as_u64().filter(|n| *n >= 1).map(Some).ok_or_else(|| "must be a positive integer".into()),
        );
        let rest = (auth, options, signature);
        match (name, owner_name, entities, enabled, event_url, event_list, headers, send_data, rest, version) {
            (
                Some(name),
                Some(owner_name),
                Some(entities),
                Some(enabled),
                Some(event_url),
                Some(event_list),
                Some(headers),
                Some(send_data),
                (Some(auth), Some(options), Some(signature)),
                Some(version),
            ) if fields.errors.is_empty() => Ok(Self {
                name,
                owner_name,
                enabled,
                event_url,
                event_list,
                headers,
                send_data,
                auth,
                entities,
                options,
                signature,
                version,
            }),
            _ => Err(fields.into_error()),
        }
    }

    /// The input document that would write `webhook` as it is: the base a merge patch applies to.
    pub fn document_of(webhook: &WebhookOut) -> Value {
        let mut document = json!({
            "name": webhook.name,
            "entity": {"id": webhook.owner_identifier, "name": webhook.owner_name},
            "enabled": webhook.enabled,
            "eventUrl": webhook.event_url,
            "eventList": webhook.event_list,
            "headers": webhook.headers,
            "sendData": webhook.send_data,
            "auth": webhook.auth,
            "filter": webhook.options.filter,
            "rateLimit": webhook.options.rate_limit,
            "ordering": webhook.options.ordering,
            "signature": webhook.signature,
        });
        if let Some(entities) = &webhook.entities {
            document["entities"] = json!(entities);
        }
        document
    }
}

/// `signature`: `hmac` when absent at create, the stored one at an update, which may not change
/// it (a new scheme needs a new key: a rotation makes it).
fn parse_signature(fields: &mut Fields<'_>, previous: Option<&WebhookRecord>) -> Option<SignatureScheme> {
    let stored = previous.map(|webhook| webhook.info.signature);
    fields.optional(
        "signature",
        || stored.unwrap_or_default(),
        |v| match (SignatureScheme::parse(as_str(v)?)?, stored) {
            (scheme, Some(stored)) if scheme != stored => {
                Err("changes only with a new key: POST .../secret/rotate with {\"signature\": ...}".into())
            }
            (scheme, _) => Ok(scheme),
        },
    )
}

/// `entity {id, name}`: the id, when given, must be the path's (a global webhook has none);
/// the name becomes `ownerName`.
fn parse_entity(fields: &mut Fields<'_>, body: &Map<String, Value>, owner: Owner) -> Option<Option<String>> {
    let Some(value) = body.get("entity").filter(|v| !v.is_null()) else {
        return Some(None);
    };
    let Some(object) = value.as_object() else {
        fields.push("entity", "must be an object with id and name");
        return None;
    };
    let mut ok = true;
    match object.get("id") {
        None | Some(Value::Null) => {}
        Some(Value::String(id)) if EntityId::parse(id).is_ok_and(|id| owner == Owner::Entity(id)) => {}
        Some(_) if owner == Owner::Global => {
            fields.push("entity.id", "must be absent: a global webhook names its entities in `entities`");
            ok = false;
        }
        Some(_) => {
            fields.push("entity.id", "must be the managing entity id of the path");
            ok = false;
        }
    }
    let name = match object.get("name") {
        None | Some(Value::Null) => None,
        Some(Value::String(name)) if name.chars().count() <= MAX_OWNER_NAME_CHARS => Some(name.clone()),
        Some(_) => {
            fields.push("entity.name", format!("must be a string of at most {MAX_OWNER_NAME_CHARS} characters"));
            ok = false;
            None
        }
    };
    ok.then_some(name)
}

impl WebhookRecord {
    /// A new webhook at version 1; a global one belongs to `account`.
    pub fn create(
        input: WebhookIn,
        id: WebhookId,
        owner: Owner,
        user: &str,
        account: Option<&str>,
        now: Timestamp,
        secret: WebhookSecret,
    ) -> Self {
        let (signature, public_key) = secret.shown();
        let info = WebhookOut {
            id,
            created_date: now,
            last_update: now,
            version: 1,
            user_identifier: user.to_string(),
            account_identifier: account.filter(|_| owner == Owner::Global).map(str::to_string),
            owner_identifier: owner.entity(),
            entities: input.entities,
            owner_name: input.owner_name,
            name: input.name,
            enabled: input.enabled,
            event_url: input.event_url,
            event_list: input.event_list,
            headers: input.headers,
            send_data: input.send_data,
            disabled_reason: None,
            auth: None,
            options: input.options,
            signature,
            public_key,
        };
        let webhook = Self {
            info,
            secret,
            auth_secret: None,
            previous_secret: None,
            failing_since: None,
            disabled_by: None,
            slow_ms: None,
        };
        webhook.with_auth(input.auth)
    }

    pub fn owner(&self) -> Owner {
        self.info.owner_identifier.map_or(Owner::Global, Owner::Entity)
    }

    /// The entity whose notices go to this webhook: its own, when it lists a platform type.
    pub fn notices_of(&self) -> Option<EntityId> {
        self.info.owner_identifier.filter(|_| self.info.event_list.lists_platform_types())
    }

    /// Whether an event published for `entity` may go to this webhook.
    pub fn covers(&self, entity: EntityId) -> bool {
        match (&self.info.entities, self.info.owner_identifier) {
            (Some(entities), _) => entities.covers(entity),
            (None, owner) => owner == Some(entity),
        }
    }

    /// The receiver authentication with its secret, if the webhook has one.
    pub fn receiver_credentials(&self) -> Option<ReceiverCredentials> {
        let (auth, secret) = (self.info.auth.clone()?, self.auth_secret.clone()?);
        Some(ReceiverCredentials { auth, secret })
    }

    fn with_auth(mut self, credentials: Option<ReceiverCredentials>) -> Self {
        let (auth, secret) = credentials.map(|c| (c.auth, c.secret)).unzip();
        (self.info.auth, self.auth_secret) = (auth, secret);
        self
    }

    /// This webhook with every mutable field replaced, one version later. Enabling it clears
    /// why the platform disabled it.
    pub fn updated(&self, input: WebhookIn, user: &str, now: Timestamp) -> Self {
        let disabled = !input.enabled;
        let (id, owner, account) = (self.info.id, self.owner(), self.info.account_identifier.as_deref());
        // Written as a new one at the same id, then given back what a write keeps.
        let mut updated = Self::create(input, id, owner, user, account, now, self.secret.clone());
        updated.info.created_date = self.info.created_date;
        updated.info.account_identifier.clone_from(&self.info.account_identifier);
        updated.info.version = self.info.version + 1;
        updated.info.disabled_reason = self.info.disabled_reason.clone().filter(|_| disabled);
        updated.previous_secret.clone_from(&self.previous_secret);
        // The health marks start again (the endpoint the write names may be new), but the
        // delivery that disabled it still owes its notice while it stays disabled.
        updated.disabled_by = self.disabled_by.filter(|_| disabled);
        updated
    }
}

#[cfg(test)]
#[path = "webhook_tests.rs"]
mod tests;
