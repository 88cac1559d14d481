//! `auth`: how every attempt authenticates to the receiver (docs/contract.md 11). The public part is
//! shown by the API; the one secret of each kind (password, token, client secret) is kept
//! beside it, write-only.

use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::fields::{Fields, as_str};
use super::{EventUrl, UrlPolicy};
use crate::error::FieldError;

const MAX_NAME_LEN: usize = 256;
const MAX_SECRET_LEN: usize = 4096;

/// The receiver authentication a webhook shows: everything but its secret.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum ReceiverAuth {
    /// `Authorization: Basic` of the username and the stored password.
    Basic { username: String },
    /// `Authorization: Bearer` of the stored token.
    Bearer,
    /// `Authorization: Bearer` of an access token from the client-credentials grant.
    #[serde(rename = "oauth2", rename_all = "camelCase")]
    OAuth2 {
        token_url: EventUrl,
        client_id: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        scope: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        audience: Option<String>,
    },
}

/// The secret of a `ReceiverAuth`: its `Debug` never shows it, and the API never returns it.
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct AuthSecret(String);

impl AuthSecret {
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for AuthSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AuthSecret(redacted)")
    }
}

/// A receiver authentication with its secret, as a webhook stores it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ReceiverCredentials {
    pub auth: ReceiverAuth,
    pub secret: AuthSecret,
}

impl ReceiverCredentials {
    /// A digest of everything the credentials are and the origin they are sent to: a token
    /// kept under it is never used after any part of them, or the receiver's origin, changed.
    pub(crate) fn fingerprint(&self, destination: &EventUrl) -> String {
        let origin = destination.as_url().origin().ascii_serialization();
        crate::signing::sha256_hex(&serde_json::json!([self.auth, self.secret, origin]).to_string())
    }
}

impl ReceiverAuth {
    /// Whether a secret stored for `stored` may stay with this: the same type, username, token
    /// URL and client id. Anything else asks for the secret again, so that a write cannot send
    /// a stored secret to a new party.
    fn keeps_secret_of(&self, stored: &Self) -> bool {
        match (self, stored) {
            (Self::Basic { username }, Self::Basic { username: was }) => username == was,
            (Self::Bearer, Self::Bearer) => true,
            (Self::OAuth2 { token_url, client_id, .. }, Self::OAuth2 { token_url: was_url, client_id: was_id, .. }) => {
                token_url == was_url && client_id == was_id
            }
            _ => false,
        }
    }

    pub fn type_name(&self) -> &'static str {
        match self {
            Self::Basic { .. } => "basic",
            Self::Bearer => "bearer",
            Self::OAuth2 { .. } => "oauth2",
        }
    }

    /// The name of the field that holds this kind's secret.
    fn secret_field(type_name: &str) -> &'static str {
        match type_name {
            "basic" => "password",
            "bearer" => "token",
            _ => "clientSecret",
        }
    }
}

/// Parses `auth` (an object, or null for none). A secret left out keeps `stored`'s when the
/// type is the same: a client that read the webhook can write it back without knowing it.
/// Errors are named `auth.<field>`.
pub(crate) fn parse_receiver_auth(
    value: &Value,
    stored: Option<&ReceiverCredentials>,
    policy: UrlPolicy,
) -> Result<Option<ReceiverCredentials>, Vec<FieldError>> {
    let object = match value {
        Value::Null => return Ok(None),
        Value::Object(object) => object,
        _ => return Err(vec![FieldError::new("auth", "must be an object with a type, or null")]),
    };
    let mut fields = Fields::new(object);
    let auth = parse_public(&mut fields, policy);
    let type_name = object.get("type").and_then(Value::as_str).unwrap_or_default();
    let secret_field = ReceiverAuth::secret_field(type_name);
    let same_type = stored.filter(|s| s.auth.type_name() == type_name);
    let kept =
        same_type.filter(|s| auth.as_ref().is_some_and(|a| a.keeps_secret_of(&s.auth))).map(|s| s.secret.clone());
    let secret = match object.get(secret_field).filter(|v| !v.is_null()) {
        Some(value) => fields.check(secret_field, as_str(value).and_then(secret_text)),
        None if kept.is_some() => kept,
        None if auth.is_some() && same_type.is_some() => {
            fields.push(secret_field, "is required again: the username, token URL or client id changed");
            None
        }
        None if auth.is_some() => {
            fields.push(secret_field, "is required");
            None
        }
        None => None,
    };
    match (auth, secret) {
        (Some(auth), Some(secret)) if fields.errors.is_empty() => Ok(Some(ReceiverCredentials { auth, secret })),
        _ => Err(fields.errors.into_iter().map(|e| FieldError::new(format!("auth.{}", e.field), e.message)).collect()),
    }
}

fn parse_public(fields: &mut Fields<'_>, policy: UrlPolicy) -> Option<ReceiverAuth> {
    let type_name = fields.required("type", as_str)?;
    match type_name {
        "basic" => fields
            .required("username", |v| {
                let name = name_text(v)?;
                // RFC 7617: the user-id of Basic cannot contain a colon.
                if name.contains(':') { Err("must not contain a colon".into()) } else { Ok(name) }
            })
            .map(|username| ReceiverAuth::Basic { username }),
        "bearer" => Some(ReceiverAuth::Bearer),
        "oauth2" => {
            let token_url = fields.required("tokenUrl", |v| EventUrl::parse(as_str(v)?, policy));
            let client_id = fields.required("clientId", name_text);
            let scope = fields.optional("scope", || None, |v| name_text(v).map(Some));
            let audience = fields.optional("audience", || None, |v| name_text(v).map(Some));
            Some(ReceiverAuth::OAuth2 {
                token_url: token_url?,
                client_id: client_id?,
                scope: scope?,
                audience: audience?,
            })
        }
        _ => {
            fields.push("type", "must be basic, bearer or oauth2");
            None
        }
    }
}

/// A non-empty string of printable ASCII, as a header value needs.
fn printable(text: &str, max: usize) -> Result<String, String> {
    let ok = !text.is_empty() && text.len() <= max && text.bytes().all(|b| (0x20..=0x7e).contains(&b));
    if ok { Ok(text.to_string()) } else { Err(format!("must be 1 to {max} printable ASCII characters")) }
}

fn name_text(value: &Value) -> Result<String, String> {
    printable(as_str(value)?, MAX_NAME_LEN)
}

fn secret_text(text: &str) -> Result<AuthSecret, String> {
    printable(text, MAX_SECRET_LEN).map(AuthSecret)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    const POLICY: UrlPolicy = UrlPolicy { allow_private: false };

    fn parse(value: Value, stored: Option<&ReceiverCredentials>) -> Result<Option<ReceiverCredentials>, Vec<String>> {
        parse_receiver_auth(&value, stored, POLICY).map_err(|errors| errors.into_iter().map(|e| e.field).collect())
    }

    #[test]
    fn each_kind_parses_and_shows_no_secret() {
        let basic = parse(json!({"type": "basic", "username": "wink", "password": "pw"}), None).expect("valid");
        let basic = basic.expect("some");
        assert_eq!(serde_json::to_value(&basic.auth).expect("json"), json!({"type": "basic", "username": "wink"}));
        assert_eq!(basic.secret.expose(), "pw");
        assert!(!format!("{basic:?}").contains("pw"));
        let bearer = parse(json!({"type": "bearer", "token": "t0k"}), None).expect("valid").expect("some");
        assert_eq!(serde_json::to_value(&bearer.auth).expect("json"), json!({"type": "bearer"}));
        let oauth = parse(
            json!({"type": "oauth2", "tokenUrl": "https://id.example.com/token", "clientId": "c", "clientSecret": "s",
                   "scope": "hooks"}),
            None,
        )
        .expect("valid")
        .expect("some");
        assert_eq!(
            serde_json::to_value(&oauth.auth).expect("json"),
            json!({"type": "oauth2", "tokenUrl": "https://id.example.com/token", "clientId": "c", "scope": "hooks"})
        );
        assert_eq!(parse(json!(null), None), Ok(None));
    }

    #[test]
    fn a_left_out_secret_is_kept_only_for_the_same_type_and_holder() {
        let stored = parse(json!({"type": "basic", "username": "a", "password": "old"}), None).expect("ok");
        let kept = parse(json!({"type": "basic", "username": "a"}), stored.as_ref()).expect("ok").expect("some");
        assert_eq!(kept.secret.expose(), "old");
        let other_user = parse(json!({"type": "basic", "username": "b"}), stored.as_ref());
        assert_eq!(other_user, Err(vec!["auth.password".to_string()]), "a new username asks for its password");
        let oauth =
            json!({"type": "oauth2", "tokenUrl": "https://id.example.com/token", "clientId": "c", "clientSecret": "s"});
        let stored_oauth = parse(oauth, None).expect("ok");
        for changed in [
            json!({"type": "oauth2", "tokenUrl": "https://elsewhere.example.com/token", "clientId": "c"}),
            json!({"type": "oauth2", "tokenUrl": "https://id.example.com/token", "clientId": "d"}),
        ] {
            assert_eq!(parse(changed, stored_oauth.as_ref()), Err(vec!["auth.clientSecret".to_string()]));
        }
        let rescoped =
            json!({"type": "oauth2", "tokenUrl": "https://id.example.com/token", "clientId": "c", "scope": "x"});
        assert!(parse(rescoped, stored_oauth.as_ref()).is_ok(), "a new scope keeps the secret");
        let replaced =
            parse(json!({"type": "basic", "username": "b", "password": "new"}), stored.as_ref()).expect("ok");
        assert_eq!(replaced.expect("some").secret.expose(), "new");
        assert_eq!(parse(json!({"type": "bearer"}), stored.as_ref()), Err(vec!["auth.token".to_string()]));
    }

    #[test]
    fn a_kept_access_token_is_for_one_destination_origin() {
        let credentials = parse(json!({"type": "bearer", "token": "t"}), None).expect("valid").expect("some");
        let at = |url: &str| EventUrl::parse(url, POLICY).expect("url");
        let here = credentials.fingerprint(&at("https://a.example.com/hooks"));
        assert_eq!(here, credentials.fingerprint(&at("https://a.example.com/moved?x=1")), "same origin");
        assert_ne!(here, credentials.fingerprint(&at("https://b.example.com/hooks")), "another host");
        assert_ne!(here, credentials.fingerprint(&at("https://a.example.com:8443/hooks")), "another port");
    }

    #[test]
    fn every_bad_field_is_named() {
        assert_eq!(parse(json!("basic"), None), Err(vec!["auth".to_string()]));
        assert_eq!(parse(json!({"type": "digest"}), None), Err(vec!["auth.type".to_string()]));
        assert_eq!(
            parse(json!({"type": "basic", "username": "a:b", "password": ""}), None),
            Err(vec!["auth.username".to_string(), "auth.password".to_string()])
        );
        assert_eq!(
            parse(json!({"type": "oauth2", "tokenUrl": "https://10.0.0.1/token", "clientSecret": "s"}), None),
            Err(vec!["auth.tokenUrl".to_string(), "auth.clientId".to_string()])
        );
    }
}
