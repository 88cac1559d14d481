//! Secret rotation (docs/contract.md 12): a new secret at once, the previous one still signing for
//! an overlap, so receivers can switch without missing a delivery.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::fields::{Fields, as_str};
use super::{SignatureScheme, Timestamp, WebhookOut, WebhookRecord, WebhookSecret};
use crate::config::parse_duration;
use crate::error::Error;

const DEFAULT_OVERLAP: Duration = Duration::from_secs(24 * 3600);
const MAX_OVERLAP: Duration = Duration::from_secs(7 * 24 * 3600);

/// The secret a rotation replaced, which signs every attempt beside the new one until
/// `expires_at`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PreviousSecret {
    pub secret: WebhookSecret,
    pub expires_at: Timestamp,
}

/// What a rotation's new key is.
#[derive(Debug, Clone, PartialEq)]
pub enum NewKey {
    /// The HMAC secret the caller chose.
    Chosen(WebhookSecret),
    /// One the platform makes, of this scheme.
    Made(SignatureScheme),
}

/// A rotation's body: `{"secret"?, "signature"?, "overlap"?}`.
#[derive(Debug, Clone, PartialEq)]
pub struct Rotation {
    /// The caller's choice of an HMAC secret; none means a new random one.
    pub secret: Option<WebhookSecret>,
    /// The new key's scheme; none keeps the webhook's.
    pub signature: Option<SignatureScheme>,
    pub overlap: Duration,
}

impl Rotation {
    pub fn parse(body: &Map<String, Value>) -> Result<Self, Error> {
        let mut fields = Fields::new(body);
        let secret = fields.optional("secret", || None, |v| WebhookSecret::parse(as_str(v)?).map(Some));
        let signature = fields.optional("signature", || None, |v| SignatureScheme::parse(as_str(v)?).map(Some));
        let overlap = fields.optional(
            "overlap",
            || DEFAULT_OVERLAP,
            |v| {
                let overlap = parse_duration(as_str(v)?)?;
                if overlap > MAX_OVERLAP { Err("must be at most 7d".into()) } else { Ok(overlap) }
            },
        );
        match (secret, signature, overlap) {
            (Some(secret), Some(signature), Some(overlap)) if fields.errors.is_empty() => {
                Ok(Self { secret, signature, overlap })
            }
            _ => Err(fields.into_error()),
        }
    }

    /// The new key of `webhook`: the HMAC secret the caller chose, or one to make of the
    /// asked scheme (the webhook's when none is asked). An ed25519 key is made by the platform,
    /// never taken from a caller.
    pub fn new_key(&self, webhook: &WebhookRecord) -> Result<NewKey, Error> {
        let scheme = self.signature.unwrap_or(webhook.info.signature);
        match (scheme, &self.secret) {
            (SignatureScheme::Ed25519, Some(_)) => {
                Err(Error::validation("secret", "an ed25519 key is made by the platform: leave secret out"))
            }
            (_, Some(chosen)) => Ok(NewKey::Chosen(chosen.clone())),
            (scheme, None) => Ok(NewKey::Made(scheme)),
        }
    }
}

impl WebhookRecord {
    /// This webhook signing with `secret` from `now`, and with its current secret too until
    /// `overlap` has passed; one version later, its failing clock restarted as by any write.
    pub fn rotated(&self, secret: WebhookSecret, overlap: std::time::Duration, user: &str, now: Timestamp) -> Self {
        // Rotation's parsing bounds the overlap to 7 days, which chrono always takes.
        let overlap = chrono::Duration::from_std(overlap).unwrap_or_else(|_| chrono::Duration::zero());
        let previous_secret = (overlap > chrono::Duration::zero())
            .then(|| PreviousSecret { secret: self.secret.clone(), expires_at: Timestamp::new(now.get() + overlap) });
        let (signature, public_key) = secret.shown();
        let info = WebhookOut {
            last_update: now,
            version: self.info.version + 1,
            user_identifier: user.to_string(),
            signature,
            public_key,
            ..self.info.clone()
        };
        Self { info, secret, previous_secret, failing_since: None, ..self.clone() }
    }

    /// The secrets that sign an attempt made at `now`: the current one, then the previous
    /// one during its overlap.
    pub fn signing_secrets(&self, now: Timestamp) -> impl Iterator<Item = &WebhookSecret> {
        let previous = self.previous_secret.as_ref().filter(|p| p.expires_at > now).map(|p| &p.secret);
        std::iter::once(&self.secret).chain(previous)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::model::{Catalog, Owner, UrlPolicy, WebhookId, WebhookIn, WebhookRules};

    fn parse(body: Value) -> Result<Rotation, Error> {
        Rotation::parse(body.as_object().expect("object"))
    }

    #[test]
    fn an_empty_body_is_a_random_secret_and_a_day_of_overlap() {
        let empty = Rotation { secret: None, signature: None, overlap: DEFAULT_OVERLAP };
        assert_eq!(parse(json!({})).expect("valid"), empty);
        let chosen =
            parse(json!({"secret": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "overlap": "1h"})).expect("valid");
        assert_eq!(chosen.overlap, Duration::from_secs(3600));
        assert_eq!(
            chosen.secret.map(|s| s.expose().to_string()).as_deref(),
            Some("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
        );
    }

    #[test]
    fn a_chosen_secret_is_whsec_and_24_to_64_bytes_and_the_overlap_at_most_7d() {
        let of = |bytes: usize| WebhookSecret::from_key(&vec![7; bytes]).expose().to_string();
        assert!(parse(json!({"secret": of(24)})).is_ok() && parse(json!({"secret": of(64)})).is_ok());
        for secret in [of(23), of(65), "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".into(), "whsec_not base64!".into()] {
            let Err(Error::Validation(errors)) = parse(json!({"secret": secret})) else { panic!("{secret} accepted") };
            assert_eq!(errors[0].field, "secret");
        }
        for overlap in ["8d", "soon", "-1h"] {
            assert!(parse(json!({"overlap": overlap})).is_err(), "{overlap}");
        }
        assert!(parse(json!({"overlap": "7d"})).is_ok());
    }

    #[test]
    fn a_rotation_keeps_the_scheme_or_switches_it_and_never_takes_a_private_key() {
        let body = json!({"name": "Sync", "eventUrl": "https://api.example.com/hook", "entities": "*"});
        let rules = WebhookRules { owner: Owner::Global, policy: UrlPolicy::default(), catalog: Catalog::defaults() };
        let input = WebhookIn::parse(body.as_object().expect("object"), &rules, None).expect("valid");
        let now = Timestamp::new(chrono::Utc::now());
        let id = WebhookId(uuid::Uuid::nil());
        let hmac = WebhookSecret::from_key(&[1; 32]);
        let webhook = WebhookRecord::create(input, id, Owner::Global, "u", Some("u"), now, hmac);

        let to_ed25519 = parse(json!({"signature": "ed25519"})).expect("valid");
        assert_eq!(to_ed25519.new_key(&webhook).expect("a key"), NewKey::Made(SignatureScheme::Ed25519));
        let key = WebhookSecret::generate(SignatureScheme::Ed25519, &[2; 32]);
        let rotated = webhook.rotated(key.clone(), Duration::from_secs(60), "u", now);
        assert_eq!(
            (rotated.info.signature, rotated.info.public_key.clone()),
            (SignatureScheme::Ed25519, key.public_key())
        );
        let signing: Vec<_> = rotated.signing_secrets(now).map(WebhookSecret::scheme).collect();
        assert_eq!(signing, [SignatureScheme::Ed25519, SignatureScheme::Hmac], "both sign during the overlap");

        assert_eq!(
            parse(json!({})).expect("valid").new_key(&rotated).expect("a key"),
            NewKey::Made(SignatureScheme::Ed25519)
        );
        let chosen = parse(json!({"secret": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"})).expect("valid");
        let Err(Error::Validation(errors)) = chosen.new_key(&rotated) else { panic!("a chosen secret for ed25519") };
        assert_eq!(errors[0].field, "secret");
        let back = parse(json!({"secret": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "signature": "hmac"}));
        assert!(matches!(back.expect("valid").new_key(&rotated), Ok(NewKey::Chosen(_))));
        assert!(parse(json!({"signature": "rsa"})).is_err());
    }
}
