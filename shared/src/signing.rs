//! Standard Webhooks signatures: `v1,` and the base64 HMAC-SHA256 of `{id}.{timestamp}.{body}`.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// The `webhook-signature` header value for one attempt.
pub fn sign(key: &[u8], message_id: &str, timestamp: i64, body: &str) -> String {
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
    use crate::model::WebhookSecret;

    /// The test vector of the Standard Webhooks reference libraries.
    #[test]
    fn standard_webhooks_test_vector() {
        let secret: WebhookSecret =
            serde_json::from_value(serde_json::json!("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")).expect("secret");
        let key = secret.key().expect("base64 key");
        let signature = sign(&key, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, r#"{"test": 2432232314}"#);
        assert_eq!(signature, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    }

    #[test]
    fn any_change_changes_the_signature() {
        let base = sign(b"key", "id", 1, "{}");
        assert_ne!(base, sign(b"key", "id", 2, "{}"));
        assert_ne!(base, sign(b"key", "id2", 1, "{}"));
        assert_ne!(base, sign(b"key", "id", 1, "{ }"));
        assert_ne!(base, sign(b"kez", "id", 1, "{}"));
    }
}
