//! One attempt: the signed POST of an event to a webhook, with the `Authorization` of its
//! receiver authentication, and what came of it.

use std::time::Duration;

use super::receiver_auth::authorization;
use super::{Answer, Outgoing, WebhookSender};
use crate::error::Error;
use crate::model::{Attempt, EntityId, Event, ReceiverAuth, Timestamp, WebhookRecord, payload};
use crate::runtime::Clock;
use crate::signing::sign;
use crate::store::AccessTokenStore;

/// An event published for `entity` (none for a global webhook's test send).
#[derive(Debug, Clone, Copy)]
pub struct EventFor<'a> {
    pub event: &'a Event,
    pub entity: Option<EntityId>,
    /// Sent by the test route: the body says `"test": true`, which no published event's does.
    pub test: bool,
}

/// The POST of the event to `webhook`, signed for `timestamp` (unix seconds) per Standard
/// Webhooks, with the `Authorization` of the webhook's `auth` when it has one.
pub fn signed_request(
    webhook: &WebhookRecord,
    published: EventFor<'_>,
    timestamp: i64,
    authorization: Option<String>,
) -> Result<Outgoing, Error> {
    let (info, event) = (&webhook.info, published.event);
    let body = payload(event, published.entity, info.id, info.send_data, published.test)?;
    // During a rotation's overlap both secrets sign, so receivers verify with either.
    let at = Timestamp::new(chrono::DateTime::from_timestamp(timestamp, 0).unwrap_or_default());
    let signatures = webhook
        .signing_secrets(at)
        .map(|secret| sign(secret, &event.id, timestamp, &body))
        .collect::<Result<Vec<_>, _>>()
        .map_err(Error::internal)?;
    let mut headers: Vec<(String, String)> = info.headers.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    headers.extend(authorization.map(|value| ("authorization".to_string(), value)));
    headers.push(("webhook-id".into(), event.id.clone()));
    headers.push(("webhook-timestamp".into(), timestamp.to_string()));
    headers.push(("webhook-signature".into(), signatures.join(" ")));
    Ok(Outgoing { url: info.event_url.as_url().clone(), headers, body })
}

/// One attempt and what came of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttemptOutcome {
    pub attempt: Attempt,
    /// The receiver answered 2xx.
    pub delivered: bool,
    pub retry_after: Option<Duration>,
}

/// Makes attempt number `number` of delivering the event to `webhook`; `tokens` keeps the
/// access tokens of OAuth 2.0 receivers.
pub async fn attempt_delivery<T: AccessTokenStore + ?Sized>(
    sender: &dyn WebhookSender,
    tokens: &T,
    clock: &dyn Clock,
    webhook: &WebhookRecord,
    published: EventFor<'_>,
    number: u32,
) -> Result<AttemptOutcome, Error> {
    let now = clock.now();
    let started = std::time::Instant::now();
    let credentials = webhook.receiver_credentials();
    let authorization = match &credentials {
        Some(credentials) => authorization(sender, tokens, now, &webhook.info, credentials).await?.map(Some),
        None => Ok(None),
    };
    let result = match &authorization {
        Ok(value) => sender.send(signed_request(webhook, published, now.timestamp(), value.clone())?).await,
        Err(error) => Err(error.clone()),
    };
    let duration_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    let at = Timestamp::new(now);
    if let (Ok(Answer { status: 401, .. }), Some(credentials), Ok(Some(value))) =
        (&result, &credentials, &authorization)
        && let Some(token) =
            value.strip_prefix("Bearer ").filter(|_| matches!(credentials.auth, ReceiverAuth::OAuth2 { .. }))
    {
        // The token may have been revoked before it expired: every instance gets a new one.
        let fingerprint = credentials.fingerprint(&webhook.info.event_url);
        tokens.drop_access_token(webhook.info.id, &fingerprint, token).await?;
    }
    Ok(match result {
        Ok(answer) => {
            let delivered = (200..300).contains(&answer.status);
            let error = (!delivered).then(|| format!("the receiver answered {}", answer.status));
            AttemptOutcome {
                attempt: Attempt {
                    attempt: number,
                    at,
                    status_code: Some(answer.status),
                    duration_ms,
                    error,
                    response_body: Some(answer.body),
                },
                delivered,
                retry_after: answer.retry_after,
            }
        }
        Err(error) => AttemptOutcome {
            attempt: Attempt {
                attempt: number,
                at,
                status_code: None,
                duration_ms,
                error: Some(error),
                response_body: None,
            },
            delivered: false,
            retry_after: None,
        },
    })
}
