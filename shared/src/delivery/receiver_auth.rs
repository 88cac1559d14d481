//! The `Authorization` each attempt sends for a webhook's `auth` (DESIGN.md 11), and the
//! cache of OAuth 2.0 access tokens a deliver process keeps between attempts.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use super::WebhookSender;
use crate::model::{ReceiverAuth, ReceiverCredentials};

/// A token is dropped this long before the token endpoint said it expires.
const EXPIRY_MARGIN: Duration = Duration::from_secs(60);
/// How long a token whose answer gave no `expires_in` is kept (a 401 drops it sooner).
const UNSTATED_LIFETIME: Duration = Duration::from_secs(3600);

/// An access token and how long its issuer says it lasts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuedToken {
    pub access_token: String,
    pub expires_in: Option<Duration>,
}

/// The value of `Authorization` for `credentials`; `Err` says why there is none (a failed
/// attempt: the receiver is not called).
pub async fn authorization(sender: &dyn WebhookSender, credentials: &ReceiverCredentials) -> Result<String, String> {
    let secret = credentials.secret.expose();
    match &credentials.auth {
        ReceiverAuth::Basic { username } => Ok(format!("Basic {}", STANDARD.encode(format!("{username}:{secret}")))),
        ReceiverAuth::Bearer => Ok(format!("Bearer {secret}")),
        ReceiverAuth::OAuth2 { .. } => sender
            .access_token(credentials)
            .await
            .map(|token| format!("Bearer {token}"))
            .map_err(|reason| format!("could not get an access token: {reason}")),
    }
}

/// Access tokens by the credentials that got them, so that a changed client secret or
/// token URL never reuses an old token.
#[derive(Default)]
pub struct TokenCache {
    tokens: Mutex<HashMap<ReceiverCredentials, (String, Instant)>>,
    /// One fetch at a time per credentials: a batch of ten deliveries asks for one token.
    fetching: Mutex<HashMap<ReceiverCredentials, Arc<tokio::sync::Mutex<()>>>>,
}

impl TokenCache {
    /// The cached token for `credentials` if it is still good at `now`.
    pub fn get(&self, credentials: &ReceiverCredentials, now: Instant) -> Option<String> {
        let tokens = self.tokens.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        tokens.get(credentials).filter(|(_, until)| now < *until).map(|(token, _)| token.clone())
    }

    pub fn put(&self, credentials: &ReceiverCredentials, token: &IssuedToken, now: Instant) {
        let lifetime = token.expires_in.unwrap_or(UNSTATED_LIFETIME).saturating_sub(EXPIRY_MARGIN);
        let mut tokens = self.tokens.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        tokens.retain(|_, (_, until)| now < *until);
        tokens.insert(credentials.clone(), (token.access_token.clone(), now + lifetime));
    }

    /// The lock a fetch of a token for `credentials` holds; whoever waited on it finds the
    /// token in the cache.
    pub fn fetch_lock(&self, credentials: &ReceiverCredentials) -> Arc<tokio::sync::Mutex<()>> {
        let mut fetching = self.fetching.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        fetching.retain(|_, lock| Arc::strong_count(lock) > 1);
        fetching.entry(credentials.clone()).or_default().clone()
    }

    /// Drops the token of `credentials`: the receiver refused it.
    pub fn forget(&self, credentials: &ReceiverCredentials) {
        self.tokens.lock().unwrap_or_else(std::sync::PoisonError::into_inner).remove(credentials);
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::model::UrlPolicy;

    fn oauth() -> ReceiverCredentials {
        let value = json!({"type": "oauth2", "tokenUrl": "https://id.example.com/t", "clientId": "c",
                           "clientSecret": "s"});
        crate::model::parse_receiver_auth(&value, None, UrlPolicy::default()).expect("valid").expect("some")
    }

    fn issued(seconds: Option<u64>) -> IssuedToken {
        IssuedToken { access_token: "tok".into(), expires_in: seconds.map(Duration::from_secs) }
    }

    #[test]
    fn a_token_is_kept_until_a_minute_before_it_expires() {
        let (cache, now) = (TokenCache::default(), Instant::now());
        cache.put(&oauth(), &issued(Some(300)), now);
        assert_eq!(cache.get(&oauth(), now + Duration::from_secs(239)).as_deref(), Some("tok"));
        assert_eq!(cache.get(&oauth(), now + Duration::from_secs(240)), None);
        cache.put(&oauth(), &issued(Some(30)), now);
        assert_eq!(cache.get(&oauth(), now), None, "a token that lasts under the margin is not reused");
        cache.put(&oauth(), &issued(None), now);
        assert_eq!(cache.get(&oauth(), now + Duration::from_secs(3539)).as_deref(), Some("tok"));
    }

    #[test]
    fn forgetting_or_changing_the_credentials_drops_the_token() {
        let (cache, now) = (TokenCache::default(), Instant::now());
        cache.put(&oauth(), &issued(Some(3600)), now);
        let mut other = oauth();
        other.auth = ReceiverAuth::Bearer;
        assert_eq!(cache.get(&other, now), None);
        cache.forget(&oauth());
        assert_eq!(cache.get(&oauth(), now), None);
    }
}
