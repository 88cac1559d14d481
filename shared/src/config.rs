//! Settings read from the environment (docs/contract.md section 4).

use std::time::Duration;

use crate::model::UrlPolicy;
use crate::rate_limit::RatePolicy;

/// `WEBHOOKS_RESEND_DELAY`'s default.
const RESEND_DELAY: Duration = Duration::from_secs(60);

/// What every API handler needs to know beyond the request itself.
#[derive(Debug, Clone)]
pub struct ApiSettings {
    /// The authorizer claim that lists the entities a caller may manage.
    pub entities_claim: String,
    /// The authorizer claim naming the account a caller acts for: global webhooks are its.
    pub account_claim: String,
    pub url_policy: UrlPolicy,
    /// How long a retried publish's copies of unstarted deliveries wait before they are
    /// received, so that an original still queued starts first (`crate::publish`).
    pub resend_delay: Duration,
    /// Every route, per caller (`WEBHOOKS_API_RATE`).
    pub api_rate: RatePolicy,
    /// Publishing, per entity (`WEBHOOKS_PUBLISH_RATE`).
    pub publish_rate: RatePolicy,
}

const API_RATE: RatePolicy = RatePolicy::new(20, 40);
const PUBLISH_RATE: RatePolicy = RatePolicy::new(200, 400);

impl Default for ApiSettings {
    fn default() -> Self {
        Self {
            entities_claim: "entities".into(),
            account_claim: "sub".into(),
            url_policy: UrlPolicy::default(),
            resend_delay: RESEND_DELAY,
            api_rate: API_RATE,
            publish_rate: PUBLISH_RATE,
        }
    }
}

impl ApiSettings {
    pub fn from_env() -> Result<Self, ConfigError> {
        Ok(Self {
            entities_claim: env_or("WEBHOOKS_ENTITIES_CLAIM", "entities"),
            account_claim: env_or("WEBHOOKS_ACCOUNT_CLAIM", "sub"),
            url_policy: UrlPolicy { allow_private: env_bool("WEBHOOKS_ALLOW_PRIVATE_URLS")? },
            resend_delay: env_resend_delay()?,
            api_rate: env_rate("WEBHOOKS_API_RATE", API_RATE)?,
            publish_rate: env_rate("WEBHOOKS_PUBLISH_RATE", PUBLISH_RATE)?,
        })
    }
}

/// `WEBHOOKS_RESEND_DELAY`: how long a retried publish's copies wait (`crate::publish`).
pub fn env_resend_delay() -> Result<Duration, ConfigError> {
    let resend_delay = env_duration("WEBHOOKS_RESEND_DELAY", "60s")?;
    if resend_delay > crate::queue::MAX_SEND_DELAY {
        return Err(ConfigError::Invalid {
            name: "WEBHOOKS_RESEND_DELAY",
            value: format!("{resend_delay:?}"),
            reason: "SQS delays a message at most 15 minutes".into(),
        });
    }
    Ok(resend_delay)
}

fn env_rate(name: &'static str, default: RatePolicy) -> Result<RatePolicy, ConfigError> {
    let value = env_or(name, &default.to_string());
    RatePolicy::parse(&value).map_err(|reason| ConfigError::Invalid { name, value, reason })
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{name} is required")]
    Missing { name: &'static str },
    #[error("{name}={value:?} is not valid: {reason}")]
    Invalid { name: &'static str, value: String, reason: String },
}

pub fn env_or(name: &str, default: &str) -> String {
    std::env::var(name).ok().filter(|v| !v.is_empty()).unwrap_or_else(|| default.to_string())
}

pub fn env_required(name: &'static str) -> Result<String, ConfigError> {
    std::env::var(name).ok().filter(|v| !v.is_empty()).ok_or(ConfigError::Missing { name })
}

pub fn env_bool(name: &'static str) -> Result<bool, ConfigError> {
    match std::env::var(name).unwrap_or_default().to_ascii_lowercase().as_str() {
        "" | "false" | "0" | "no" => Ok(false),
        "true" | "1" | "yes" => Ok(true),
        other => Err(ConfigError::Invalid { name, value: other.to_string(), reason: "expected true or false".into() }),
    }
}

/// Parses `500ms`, `5s`, `5m`, `2h`, `5d`.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    humantime::parse_duration(text.trim()).map_err(|e| e.to_string())
}

pub fn env_duration(name: &'static str, default: &str) -> Result<Duration, ConfigError> {
    let value = env_or(name, default);
    parse_duration(&value).map_err(|reason| ConfigError::Invalid { name, value, reason })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_in_the_documented_units() {
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("5s"), Ok(Duration::from_secs(5)));
        assert_eq!(parse_duration("5m"), Ok(Duration::from_secs(300)));
        assert_eq!(parse_duration("2h"), Ok(Duration::from_secs(7200)));
        assert_eq!(parse_duration("5d"), Ok(Duration::from_secs(5 * 86400)));
        assert!(parse_duration("soon").is_err());
    }
}
