//! A webhook's signing secret (docs/contract.md 5.1 and 12): an HMAC key (`whsec_`, Standard
//! Webhooks' `v1`) or an ed25519 key pair (`whsk_`, its asymmetric `v1a`), whose public half
//! (`whpk_`) every read of the webhook shows so that receivers verify without a shared secret.

use std::fmt;

use aws_lc_rs::signature::{Ed25519KeyPair, KeyPair as _};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Serialize};

const HMAC_PREFIX: &str = "whsec_";
const PRIVATE_KEY_PREFIX: &str = "whsk_";
const PUBLIC_KEY_PREFIX: &str = "whpk_";
const ED25519_KEY_LEN: usize = 32;

/// How a webhook's attempts are signed: chosen at create, changed only by a rotation.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SignatureScheme {
    #[default]
    Hmac,
    Ed25519,
}

impl SignatureScheme {
    pub(crate) fn parse(text: &str) -> Result<Self, String> {
        match text {
            "hmac" => Ok(Self::Hmac),
            "ed25519" => Ok(Self::Ed25519),
            _ => Err("must be hmac or ed25519".into()),
        }
    }
}

/// An ed25519 webhook's public key: `whpk_` and the base64 of its 32 bytes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct PublicKey(String);

/// A stored secret that does not decode: a bug or a damaged item, never the caller's input.
#[derive(Debug, thiserror::Error)]
#[error("a stored signing secret does not decode")]
pub struct InvalidSecret;

/// What signs an attempt.
pub(crate) enum SigningKey {
    Hmac(Vec<u8>),
    Ed25519(Ed25519KeyPair),
}

/// A signing secret: `whsec_` and the base64 of an HMAC key, or `whsk_` and the base64 of an
/// ed25519 seed followed by its public key (libsodium's secret key form). Its `Debug` never
/// shows it.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct WebhookSecret(String);

impl WebhookSecret {
    /// The HMAC secret of `key`.
    pub fn from_key(key: &[u8]) -> Self {
        Self(format!("{HMAC_PREFIX}{}", STANDARD.encode(key)))
    }

    /// A new secret of `scheme` made from 32 random bytes: the HMAC key, or the ed25519 seed.
    pub fn generate(scheme: SignatureScheme, random: &[u8; 32]) -> Self {
        match scheme {
            SignatureScheme::Hmac => Self::from_key(random),
            SignatureScheme::Ed25519 => {
                // Any 32 bytes are an ed25519 seed: only a seed of another length is refused.
                let pair = Ed25519KeyPair::from_seed_unchecked(random)
                    .unwrap_or_else(|_| unreachable!("a 32-byte seed is an ed25519 key"));
                let key = [random.as_slice(), pair.public_key().as_ref()].concat();
                Self(format!("{PRIVATE_KEY_PREFIX}{}", STANDARD.encode(key)))
            }
        }
    }

    /// A secret a caller chose: `whsec_` and the base64 of 24 to 64 bytes. A private key is
    /// never taken from a caller: the platform makes it, so it is never anywhere else.
    pub fn parse(text: &str) -> Result<Self, String> {
        let key = text.strip_prefix(HMAC_PREFIX).and_then(|key| STANDARD.decode(key).ok());
        match key.map(|key| key.len()) {
            Some(24..=64) => Ok(Self(text.to_string())),
            _ => Err("must be whsec_ and the base64 of 24 to 64 random bytes".into()),
        }
    }

    pub fn scheme(&self) -> SignatureScheme {
        if self.0.starts_with(PRIVATE_KEY_PREFIX) { SignatureScheme::Ed25519 } else { SignatureScheme::Hmac }
    }

    /// What every read of a webhook signing with this secret shows of it: its scheme, and an
    /// ed25519 one's public key.
    pub fn shown(&self) -> (SignatureScheme, Option<PublicKey>) {
        (self.scheme(), self.public_key())
    }

    /// The public key of an ed25519 secret.
    pub fn public_key(&self) -> Option<PublicKey> {
        let key = STANDARD.decode(self.0.strip_prefix(PRIVATE_KEY_PREFIX)?).ok()?;
        let public = key.get(ED25519_KEY_LEN..)?;
        Some(PublicKey(format!("{PUBLIC_KEY_PREFIX}{}", STANDARD.encode(public))))
    }

    pub(crate) fn signing_key(&self) -> Result<SigningKey, InvalidSecret> {
        if let Some(encoded) = self.0.strip_prefix(PRIVATE_KEY_PREFIX) {
            let key = STANDARD.decode(encoded).map_err(|_| InvalidSecret)?;
            let (seed, public) = key.split_at_checked(ED25519_KEY_LEN).ok_or(InvalidSecret)?;
            let pair = Ed25519KeyPair::from_seed_and_public_key(seed, public).map_err(|_| InvalidSecret)?;
            return Ok(SigningKey::Ed25519(pair));
        }
        let encoded = self.0.strip_prefix(HMAC_PREFIX).unwrap_or(&self.0);
        STANDARD.decode(encoded).map(SigningKey::Hmac).map_err(|_| InvalidSecret)
    }

    /// What the answer that makes this secret shows of it: an HMAC secret, which the receiver
    /// must hold; never a private key, which no one but the platform needs.
    pub fn shown_once(&self) -> Option<&str> {
        (self.scheme() == SignatureScheme::Hmac).then_some(self.0.as_str())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for WebhookSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("WebhookSecret(redacted)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_hmac_secret_is_whsec_and_its_key_and_never_debug_printed() {
        let secret = WebhookSecret::from_key(&[7u8; 32]);
        assert!(secret.expose().starts_with("whsec_"));
        assert_eq!(secret.scheme(), SignatureScheme::Hmac);
        assert!(matches!(secret.signing_key(), Ok(SigningKey::Hmac(key)) if key == [7u8; 32]));
        assert_eq!(secret.public_key(), None);
        assert_eq!(format!("{secret:?}"), "WebhookSecret(redacted)");
    }

    /// RFC 8032's test 1: this seed's public key, which an independent implementation derived.
    #[test]
    fn an_ed25519_secret_shows_the_public_key_of_its_seed() {
        let hex = |text: &str| -> Vec<u8> {
            (0..text.len()).step_by(2).map(|i| u8::from_str_radix(&text[i..i + 2], 16).expect("hex")).collect()
        };
        let seed: [u8; 32] =
            hex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60").try_into().expect("32 bytes");
        let public = hex("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a");
        let secret = WebhookSecret::generate(SignatureScheme::Ed25519, &seed);
        assert!(secret.expose().starts_with("whsk_"));
        let shown = PublicKey(format!("whpk_{}", STANDARD.encode(public)));
        assert_eq!(secret.shown(), (SignatureScheme::Ed25519, Some(shown)));
        assert!(matches!(secret.signing_key(), Ok(SigningKey::Ed25519(_))));
        assert_eq!(format!("{secret:?}"), "WebhookSecret(redacted)");
    }

    #[test]
    fn a_caller_may_choose_an_hmac_secret_but_never_a_private_key() {
        assert!(WebhookSecret::parse(&format!("whsec_{}", STANDARD.encode([1u8; 32]))).is_ok());
        let private = WebhookSecret::generate(SignatureScheme::Ed25519, &[1u8; 32]);
        assert!(WebhookSecret::parse(private.expose()).is_err());
    }

    #[test]
    fn a_damaged_private_key_does_not_sign() {
        let private = WebhookSecret::generate(SignatureScheme::Ed25519, &[1u8; 32]);
        let mut bytes = STANDARD.decode(&private.expose()["whsk_".len()..]).expect("base64");
        bytes[40] ^= 1;
        let damaged = WebhookSecret(format!("whsk_{}", STANDARD.encode(bytes)));
        assert!(damaged.signing_key().is_err(), "a public key that is not the seed's");
    }
}
