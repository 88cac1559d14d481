//! Standard Webhooks signatures of `{id}.{timestamp}.{body}`: `v1,` and the base64 of its
//! HMAC-SHA256, or `v1a,` and the base64 of its ed25519 signature.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::model::{InvalidSecret, SigningKey, WebhookSecret};

/// One entry of the `webhook-signature` header of an attempt, by `secret`.
pub fn sign(secret: &WebhookSecret, message_id: &str, timestamp: i64, body: &str) -> Result<String, InvalidSecret> {
    Ok(match secret.signing_key()? {
        SigningKey::Hmac(key) => hmac_signature(&key, message_id, timestamp, body),
        SigningKey::Ed25519(pair) => {
            let signed = format!("{message_id}.{timestamp}.{body}");
            format!("v1a,{}", STANDARD.encode(pair.sign(signed.as_bytes())))
        }
    })
}

fn hmac_signature(key: &[u8], message_id: &str, timestamp: i64, body: &str) -> String {
    // HMAC takes keys of any length, so this never fails.
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).unwrap_or_else(|_| unreachable!("HMAC accepts any key"));
    mac.update(message_id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body.as_bytes());
    format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()))
}

/// The SHA-256 of `text` in hex: a digest that names a secret without showing it.
pub(crate) fn sha256_hex(text: &str) -> String {
    use sha2::Digest;
    Sha256::digest(text.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::SignatureScheme;

    /// The test vector of the Standard Webhooks reference libraries.
    #[test]
    fn standard_webhooks_test_vector() {
        let secret: WebhookSecret =
            serde_json::from_value(serde_json::json!("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")).expect("secret");
        let signature = sign(&secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, r#"{"test": 2432232314}"#);
        assert_eq!(signature.expect("a signature"), "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    }

    #[test]
    fn any_change_changes_the_signature_of_either_scheme() {
        for scheme in [SignatureScheme::Hmac, SignatureScheme::Ed25519] {
            let (key, other) = (WebhookSecret::generate(scheme, &[1; 32]), WebhookSecret::generate(scheme, &[2; 32]));
            let sign = |key: &WebhookSecret, id: &str, timestamp: i64, body: &str| {
                sign(key, id, timestamp, body).expect("a signature")
            };
            let base = sign(&key, "id", 1, "{}");
            assert!(base.starts_with(if scheme == SignatureScheme::Hmac { "v1," } else { "v1a," }), "{base}");
            assert_ne!(base, sign(&key, "id", 2, "{}"));
            assert_ne!(base, sign(&key, "id2", 1, "{}"));
            assert_ne!(base, sign(&key, "id", 1, "{ }"));
            assert_ne!(base, sign(&other, "id", 1, "{}"));
        }
    }
}
