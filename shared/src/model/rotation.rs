//! Secret rotation (docs/contract.md 12): a new secret at once, the previous one still signing for
//! an overlap, so receivers can switch without missing a delivery.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::fields::{Fields, as_str};
use super::{Timestamp, WebhookOut, WebhookRecord, WebhookSecret};
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

/// A rotation's body: `{"secret"?, "overlap"?}`.
#[derive(Debug, Clone, PartialEq)]
pub struct Rotation {
    /// The caller's choice; none means a new random one.
    pub secret: Option<WebhookSecret>,
    pub overlap: Duration,
}

impl Rotation {
    pub fn parse(body: &Map<String, Value>) -> Result<Self, Error> {
        let mut fields = Fields::new(body);
        let secret = fields.optional("secret", || None, |v| WebhookSecret::parse(as_str(v)?).map(Some));
        let overlap = fields.optional(
            "overlap",
            || DEFAULT_OVERLAP,
            |v| {
                let overlap = parse_duration(as_str(v)?)?;
                if overlap > MAX_OVERLAP { Err("must be at most 7d".into()) } else { Ok(overlap) }
            },
        );
        match (secret, overlap) {
            (Some(secret), Some(overlap)) if fields.errors.is_empty() => Ok(Self { secret, overlap }),
            _ => Err(fields.into_error()),
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
        let info = WebhookOut {
            last_update: now,
            version: self.info.version + 1,
            user_identifier: user.to_string(),
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

    fn parse(body: Value) -> Result<Rotation, Error> {
        Rotation::parse(body.as_object().expect("object"))
    }

    #[test]
    fn an_empty_body_is_a_random_secret_and_a_day_of_overlap() {
        assert_eq!(parse(json!({})).expect("valid"), Rotation { secret: None, overlap: DEFAULT_OVERLAP });
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
}
