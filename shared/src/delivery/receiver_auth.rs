//! The `Authorization` each attempt sends for a webhook's `auth` (docs/contract.md 11). OAuth 2.0
//! access tokens are kept in the store, so that every deliver instance uses the one token
//! and a 401 seen by any of them makes all of them fetch a new one.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use super::WebhookSender;
use crate::error::Error;
use crate::model::{ReceiverAuth, ReceiverCredentials, Timestamp, WebhookOut};
use crate::store::AccessTokenStore;

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

impl IssuedToken {
    /// Until when the token may be used, issued at `now`.
    pub(crate) fn good_until(&self, now: chrono::DateTime<chrono::Utc>) -> Timestamp {
        let lifetime = self.expires_in.unwrap_or(UNSTATED_LIFETIME).saturating_sub(EXPIRY_MARGIN);
        Timestamp::new(now + chrono::Duration::from_std(lifetime).unwrap_or_default())
    }
}

/// The value of `Authorization` for `credentials`, or why there is none (a failed attempt:
/// the receiver is not called). `Err` is a store failure: the attempt is not made.
pub(super) async fn authorization<T: AccessTokenStore + ?Sized>(
    sender: &dyn WebhookSender,
    tokens: &T,
    now: chrono::DateTime<chrono::Utc>,
    webhook: &WebhookOut,
    credentials: &ReceiverCredentials,
) -> Result<Result<String, String>, Error> {
    let secret = credentials.secret.expose();
    match &credentials.auth {
        ReceiverAuth::Basic { username } => {
            Ok(Ok(format!("Basic {}", STANDARD.encode(format!("{username}:{secret}")))))
        }
        ReceiverAuth::Bearer => Ok(Ok(format!("Bearer {secret}"))),
        ReceiverAuth::OAuth2 { .. } => {
            let fingerprint = credentials.fingerprint(&webhook.event_url);
            if let Some(token) = tokens.access_token(webhook.id, &fingerprint, Timestamp::new(now)).await? {
                return Ok(Ok(format!("Bearer {token}")));
            }
            match sender.request_token(credentials).await {
                Ok(issued) => {
                    tokens
                        .keep_access_token(webhook.id, &fingerprint, &issued.access_token, issued.good_until(now))
                        .await?;
                    Ok(Ok(format!("Bearer {}", issued.access_token)))
                }
                Err(reason) => Ok(Err(format!("could not get an access token: {reason}"))),
            }
        }
    }
}

/// Token requests in flight in this process, one per credentials: the deliveries of a batch
/// that need the same token wait for one request instead of making ten.
#[derive(Default)]
pub(super) struct TokenFetches {
    slots: Mutex<HashMap<ReceiverCredentials, Arc<FetchSlot>>>,
}

/// The last token fetched for one set of credentials, and when.
type FetchSlot = tokio::sync::Mutex<Option<(IssuedToken, Instant)>>;

impl TokenFetches {
    /// `fetch`'s token, or the one another caller fetched while this one waited.
    pub async fn once<F: Future<Output = Result<IssuedToken, String>>>(
        &self,
        credentials: &ReceiverCredentials,
        fetch: impl FnOnce() -> F,
    ) -> Result<IssuedToken, String> {
        let asked = Instant::now();
        let slot = {
            let mut slots = self.slots.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            slots.retain(|_, slot| Arc::strong_count(slot) > 1);
            slots.entry(credentials.clone()).or_default().clone()
        };
        let mut fetched = slot.lock().await;
        if let Some((token, at)) = fetched.as_ref().filter(|(_, at)| *at >= asked) {
            tracing::debug!(waited_ms = at.duration_since(asked).as_millis(), "token fetched by another delivery");
            return Ok(token.clone());
        }
        let token = fetch().await?;
        *fetched = Some((token.clone(), Instant::now()));
        Ok(token)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_is_good_until_a_minute_before_it_expires() {
        let now = chrono::Utc::now();
        let token = |seconds: Option<u64>| IssuedToken {
            access_token: "t".into(),
            expires_in: seconds.map(Duration::from_secs),
        };
        assert_eq!(token(Some(300)).good_until(now), Timestamp::new(now + chrono::Duration::seconds(240)));
        assert_eq!(
            token(Some(30)).good_until(now),
            Timestamp::new(now),
            "a token that lasts under the margin is not kept"
        );
        assert_eq!(token(None).good_until(now), Timestamp::new(now + chrono::Duration::seconds(3540)));
    }
}
