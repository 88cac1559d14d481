//! HS256 dev tokens: what the local runner issues and checks in place of API Gateway's JWT
//! authorizer.

use chrono::Utc;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde_json::{Map, Value, json};

#[derive(Clone)]
pub struct DevAuth {
    secret: Vec<u8>,
    pub issuer: String,
    pub audience: String,
}

impl std::fmt::Debug for DevAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DevAuth").field("issuer", &self.issuer).field("audience", &self.audience).finish()
    }
}

impl DevAuth {
    pub fn new(secret: impl Into<Vec<u8>>, issuer: impl Into<String>, audience: impl Into<String>) -> Self {
        Self { secret: secret.into(), issuer: issuer.into(), audience: audience.into() }
    }

    /// A token for `sub` managing `entities` (the claim's text: `*`, or space-separated ids),
    /// granted `scope` (space-separated).
    pub fn issue(
        &self,
        sub: &str,
        entities: &str,
        scope: &str,
        valid_for: chrono::Duration,
    ) -> Result<String, jsonwebtoken::errors::Error> {
        let now = Utc::now().timestamp();
        let claims = json!({
            "sub": sub,
            "entities": entities,
            "scope": scope,
            "iss": self.issuer,
            "aud": self.audience,
            "iat": now,
            "exp": now + valid_for.num_seconds(),
        });
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &EncodingKey::from_secret(&self.secret))
    }

    /// The claims of a valid token: HS256 with our key, our issuer and audience, not expired.
    pub fn verify(&self, token: &str) -> Result<Map<String, Value>, jsonwebtoken::errors::Error> {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_issuer(&[&self.issuer]);
        validation.set_audience(&[&self.audience]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        // A token not good yet is refused, as API Gateway's authorizer refuses it.
        validation.validate_nbf = true;
        jsonwebtoken::decode::<Map<String, Value>>(token, &DecodingKey::from_secret(&self.secret), &validation)
            .map(|data| data.claims)
    }
}

/// Claims as API Gateway hands them to Lambda: every value a string, arrays flattened to `[a b]`.
pub fn stringify_claims(claims: &Map<String, Value>) -> Map<String, Value> {
    claims
        .iter()
        .map(|(name, value)| {
            let text = match value {
                Value::String(s) => s.clone(),
                Value::Array(items) => {
                    let parts: Vec<String> =
                        items.iter().map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_string)).collect();
                    format!("[{}]", parts.join(" "))
                }
                other => other.to_string(),
            };
            (name.clone(), Value::String(text))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn auth() -> DevAuth {
        DevAuth::new("s3cret", "webhooks-local", "webhooks-api")
    }

    #[test]
    fn issued_tokens_verify_and_others_do_not() {
        let token = auth().issue("dev", "*", "", chrono::Duration::hours(1)).expect("token");
        assert_eq!(auth().verify(&token).expect("valid")["entities"], "*");
        let other_key = DevAuth::new("other", "webhooks-local", "webhooks-api");
        assert!(other_key.verify(&token).is_err());
        let other_audience = DevAuth::new("s3cret", "webhooks-local", "another-api");
        assert!(other_audience.verify(&token).is_err());
        let expired = auth().issue("dev", "*", "", chrono::Duration::hours(-2)).expect("token");
        assert!(auth().verify(&expired).is_err());
    }

    #[test]
    fn a_token_not_good_yet_is_refused() {
        let now = chrono::Utc::now().timestamp();
        let claims = |nbf: i64| json!({"sub": "x", "entities": "*", "iss": "webhooks-local", "aud": "webhooks-api", "exp": now + 7200, "nbf": nbf});
        let sign = |claims: Value| {
            jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &EncodingKey::from_secret(b"s3cret"))
                .expect("token")
        };
        assert!(auth().verify(&sign(claims(now + 3600))).is_err(), "good only in an hour");
        assert!(auth().verify(&sign(claims(now - 60))).is_ok());
    }

    #[test]
    fn unsigned_tokens_are_refused() {
        use base64::Engine as _;
        let b64 = |v: Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
        let claims =
            json!({"sub": "x", "entities": "*", "iss": "webhooks-local", "aud": "webhooks-api", "exp": 4102444800u64});
        let token = format!("{}.{}.", b64(json!({"alg": "none", "typ": "JWT"})), b64(claims));
        assert!(auth().verify(&token).is_err());
    }

    #[test]
    fn claims_are_flattened_like_api_gateway() {
        let claims = json!({"sub": "u", "exp": 5, "entities": ["a", "b"]});
        let flat = stringify_claims(claims.as_object().expect("object"));
        assert_eq!(Value::Object(flat), json!({"sub": "u", "exp": "5", "entities": "[a b]"}));
    }
}
