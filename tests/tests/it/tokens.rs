//! Tokens as the target's issuer signs them: HS256 dev tokens for the runner, RS256 from the
//! stack test's OIDC issuer for API Gateway's JWT authorizer. The suite asks for claims and
//! signatures here and never learns which kind it holds.

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};

pub struct Tokens {
    header: Header,
    key: EncodingKey,
    /// A key of the same kind that the target does not trust, for forged tokens.
    foreign_key: EncodingKey,
    issuer: String,
    audience: String,
    /// This minter's own caller, so that each test's requests meet their own rate limit.
    subject: String,
}

impl Tokens {
    /// The local runner's dev tokens (`webhooks_local::DevAuth` with the same secret).
    pub fn hs256(secret: &[u8], issuer: &str, audience: &str) -> Self {
        Self {
            header: Header::new(Algorithm::HS256),
            key: EncodingKey::from_secret(secret),
            foreign_key: EncodingKey::from_secret(b"a key nobody trusts"),
            issuer: issuer.into(),
            audience: audience.into(),
            subject: format!("tester-{}", uuid::Uuid::new_v4().simple()),
        }
    }

    /// The stack test's issuer: its RSA key (published in its JWKS under `kid`) and another.
    pub fn rs256(key_pem: &str, foreign_pem: &str, kid: &str, issuer: &str, audience: &str) -> Self {
        let mut header = Header::new(Algorithm::RS256);
        header.kid = Some(kid.into());
        Self {
            header,
            key: EncodingKey::from_rsa_pem(key_pem.as_bytes()).expect("the issuer's RSA key"),
            foreign_key: EncodingKey::from_rsa_pem(foreign_pem.as_bytes()).expect("the foreign RSA key"),
            issuer: issuer.into(),
            audience: audience.into(),
            subject: format!("tester-{}", uuid::Uuid::new_v4().simple()),
        }
    }

    /// Valid claims for an hour: this minter's `sub`, managing `entities` (`*` or space-separated
    /// ids), with every scope.
    pub fn claims(&self, entities: &str) -> Value {
        let now = chrono::Utc::now().timestamp();
        json!({
            "sub": self.subject,
            "entities": entities,
            "scope": "events:publish event-types:write portal:create",
            "iss": self.issuer,
            "aud": self.audience,
            "iat": now,
            "exp": now + 3600,
        })
    }

    pub fn issue(&self, entities: &str) -> String {
        self.sign(&self.claims(entities))
    }

    /// A token of another caller (another `sub`, so another account), managing `entities`.
    pub fn issue_as(&self, subject: &str, entities: &str) -> String {
        let mut claims = self.claims(entities);
        claims["sub"] = subject.into();
        self.sign(&claims)
    }

    pub fn sign(&self, claims: &Value) -> String {
        jsonwebtoken::encode(&self.header, claims, &self.key).expect("sign")
    }

    /// Signed like ours, with a key the target does not trust.
    pub fn forge(&self, claims: &Value) -> String {
        jsonwebtoken::encode(&self.header, claims, &self.foreign_key).expect("sign")
    }
}
