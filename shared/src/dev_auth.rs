//! HS256 dev tokens: what the local runner issues and checks in place of API Gateway's JWT
//! authorizer, and what the functions check themselves under `sam local`, which runs no
//! authorizer: only in SAM's containers (`AWS_SAM_LOCAL`), and only when
//! `WEBHOOKS_DEV_JWT_SECRET` is in their environment (the template never sets it).

use chrono::Utc;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use lambda_http::aws_lambda_events::apigw::{ApiGatewayRequestAuthorizer, ApiGatewayRequestAuthorizerJwtDescription};
use lambda_http::request::RequestContext;
use serde_json::{Map, Value, json};

/// The issuer and audience of the runner's tokens, unless it is told others.
pub const ISSUER: &str = "webhooks-local";
pub const AUDIENCE: &str = "webhooks-api";
/// The variable that holds the key of the dev tokens a function accepts.
const SECRET_VARIABLE: &str = "WEBHOOKS_DEV_JWT_SECRET";
/// The variable SAM sets to `true` in its containers, which Lambda never sets.
const SAM_LOCAL_VARIABLE: &str = "AWS_SAM_LOCAL";

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

    /// The claims of the bearer token in `headers`, stringified as the JWT authorizer passes
    /// them, or `None` when there is none or it does not verify (the handler then answers 401).
    pub fn bearer_claims(&self, headers: &http::HeaderMap) -> Option<Map<String, Value>> {
        let value = headers.get(http::header::AUTHORIZATION)?.to_str().ok()?;
        let token = value.strip_prefix("Bearer ").or_else(|| value.strip_prefix("bearer "))?;
        match self.verify(token.trim()) {
            Ok(claims) => Some(stringify_claims(&claims)),
            Err(err) => {
                tracing::info!(error = %err, "token refused");
                None
            }
        }
    }

    /// The dev tokens a function accepts, from its environment (`from_vars`).
    pub(crate) fn from_env() -> Option<Self> {
        Self::from_vars(|name| std::env::var(name).ok())
    }

    /// Those of the key `WEBHOOKS_DEV_JWT_SECRET` holds, with the runner's issuer and audience,
    /// in SAM's containers only; `None` (as deployed) anywhere else, or when the key is empty.
    fn from_vars(var: impl Fn(&str) -> Option<String>) -> Option<Self> {
        let secret = var(SECRET_VARIABLE).filter(|s| !s.is_empty())?;
        if var(SAM_LOCAL_VARIABLE).as_deref() != Some("true") {
            tracing::warn!("{SECRET_VARIABLE} is set outside sam local: no dev token is accepted");
            return None;
        }
        tracing::warn!("{SECRET_VARIABLE} is set: this function checks dev tokens itself (sam local only)");
        Some(Self::new(secret, ISSUER, AUDIENCE))
    }

    /// `request` as API Gateway's JWT authorizer would hand it over: one that no authorizer
    /// described (`sam local start-api`'s) gets the claims of its bearer token when that
    /// verifies, and stays without (so 401) when it does not. One that an authorizer of any kind
    /// described, as `sam local invoke`'s sample events say one did, is left as it is.
    pub(crate) fn authorize(&self, mut request: lambda_http::Request) -> lambda_http::Request {
        match request.extensions().get::<RequestContext>() {
            Some(RequestContext::ApiGatewayV2(context)) if context.authorizer.is_none() => {}
            _ => return request,
        }
        let Some(claims) = self.bearer_claims(request.headers()) else { return request };
        if let Some(RequestContext::ApiGatewayV2(context)) = request.extensions_mut().get_mut::<RequestContext>() {
            let mut jwt = ApiGatewayRequestAuthorizerJwtDescription::default();
            jwt.claims =
                claims.into_iter().filter_map(|(name, value)| Some((name, value.as_str()?.to_string()))).collect();
            let mut authorizer = ApiGatewayRequestAuthorizer::default();
            authorizer.jwt = Some(jwt);
            context.authorizer = Some(authorizer);
        }
        request
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

    fn claims_of(request: &lambda_http::Request) -> Option<std::collections::HashMap<String, String>> {
        use lambda_http::RequestExt as _;
        let authorizer = request.request_context_ref().and_then(RequestContext::authorizer)?;
        authorizer.jwt.as_ref().map(|jwt| jwt.claims.clone())
    }

    #[test]
    fn a_request_no_authorizer_described_gets_its_verified_tokens_claims() {
        use crate::testing::ApiEvent;
        let token = auth().issue("dev", "*", "events:publish", chrono::Duration::hours(1)).expect("token");
        let unchecked = ApiEvent::list_webhooks().without_authorizer();
        let checked = auth().authorize(unchecked.header("authorization", &format!("Bearer {token}")).request());
        let claims = claims_of(&checked).expect("claims");
        assert_eq!((claims["sub"].as_str(), claims["entities"].as_str()), ("dev", "*"));
        assert_eq!(claims["scope"], "events:publish");

        let forged = DevAuth::new("another key", ISSUER, AUDIENCE).issue("dev", "*", "", chrono::Duration::hours(1));
        let forged = format!("Bearer {}", forged.expect("token"));
        let refused = ApiEvent::list_webhooks().without_authorizer().header("authorization", &forged).request();
        assert_eq!(claims_of(&auth().authorize(refused)), None, "a token of another key gives no claims");
        let without = auth().authorize(ApiEvent::list_webhooks().without_authorizer().request());
        assert_eq!(claims_of(&without), None);
    }

    #[test]
    fn a_request_an_authorizer_described_is_left_as_it_is() {
        use crate::testing::ApiEvent;
        let sample = ApiEvent::list_webhooks().request();
        let before = claims_of(&sample).expect("the sample event has claims");
        let token = auth().issue("dev", "*", "", chrono::Duration::hours(1)).expect("token");
        let with_token = ApiEvent::list_webhooks().header("authorization", &format!("Bearer {token}")).request();
        assert_eq!(claims_of(&auth().authorize(with_token)), Some(before));
    }

    #[test]
    fn dev_tokens_are_accepted_only_in_sams_containers() {
        let vars = |secret: &'static str, sam_local: Option<&'static str>| {
            move |name: &str| match name {
                SECRET_VARIABLE => Some(secret.to_string()),
                SAM_LOCAL_VARIABLE => sam_local.map(str::to_string),
                _ => None,
            }
        };
        assert!(DevAuth::from_vars(vars("s3cret", Some("true"))).is_some());
        assert!(DevAuth::from_vars(vars("s3cret", None)).is_none(), "a function deployed with the key");
        assert!(DevAuth::from_vars(vars("s3cret", Some("false"))).is_none());
        assert!(DevAuth::from_vars(vars("", Some("true"))).is_none(), "an empty key");
    }

    #[test]
    fn the_template_never_sets_the_dev_key() {
        let template = include_str!("../../template.yaml");
        assert!(!template.contains(SECRET_VARIABLE), "template.yaml names {SECRET_VARIABLE}");
    }
}
