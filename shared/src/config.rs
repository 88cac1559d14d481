//! Settings read from the environment (docs/contract.md section 4): one `Settings` for every
//! function, the API's and the deliver function's alike, read once where the process starts.

use std::time::Duration;

use crate::delivery::HttpSender;
use crate::error::Error;
use crate::model::UrlPolicy;
use crate::queue::MAX_SEND_DELAY;
use crate::rate_limit::RatePolicy;
use crate::retry::RetrySchedule;

/// `WEBHOOKS_RESEND_DELAY`'s default.
const RESEND_DELAY: Duration = Duration::from_secs(60);
/// `WEBHOOKS_RECEIVER_CONCURRENCY`'s default.
const RECEIVER_CONCURRENCY: u32 = 10;
const API_RATE: RatePolicy = RatePolicy::new(20, 40);
const PUBLISH_RATE: RatePolicy = RatePolicy::new(200, 400);

#[derive(Debug, Clone)]
pub struct Settings {
    /// The authorizer claim that lists the entities a caller may manage.
    pub entities_claim: String,
    /// The authorizer claim naming the account a caller acts for: global webhooks are its.
    pub account_claim: String,
    /// Which receiver addresses a webhook may name and a POST may reach.
    pub url_policy: UrlPolicy,
    /// How long a retried publish's (or recovery's) copies of unstarted deliveries wait before
    /// they are received, so that an original still queued starts first (`crate::publish`).
    pub resend_delay: Duration,
    /// Every route, per caller (`WEBHOOKS_API_RATE`).
    pub api_rate: RatePolicy,
    /// Publishing, per entity (`WEBHOOKS_PUBLISH_RATE`).
    pub publish_rate: RatePolicy,
    pub schedule: RetrySchedule,
    /// One attempt's time limit.
    pub timeout: Duration,
    /// How long a webhook may fail, with no success, before its next failure disables it.
    pub disable_after: Duration,
    /// Waits longer than this go to the timer (`crate::queue::Timer`); shorter ones are SQS
    /// delays. At most SQS's 15 minutes, its default.
    pub timer_after: Duration,
    /// The most attempts one webhook with a slow receiver makes at once, across every deliver
    /// instance (`crate::delivery`'s throttle): its share of the deliver concurrency.
    pub receiver_concurrency: u32,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            entities_claim: "entities".into(),
            account_claim: "sub".into(),
            url_policy: UrlPolicy::default(),
            resend_delay: RESEND_DELAY,
            api_rate: API_RATE,
            publish_rate: PUBLISH_RATE,
            schedule: RetrySchedule::default(),
            timeout: Duration::from_secs(15),
            disable_after: Duration::from_secs(5 * 86_400),
            timer_after: MAX_SEND_DELAY,
            receiver_concurrency: RECEIVER_CONCURRENCY,
        }
    }
}

impl Settings {
    pub fn from_env() -> Result<Self, ConfigError> {
        let schedule = env_parsed("WEBHOOKS_RETRY_SCHEDULE", "5s,5m,30m,2h,5h,10h,10h", RetrySchedule::parse)?;
        let receiver_concurrency =
            env_parsed("WEBHOOKS_RECEIVER_CONCURRENCY", &RECEIVER_CONCURRENCY.to_string(), |text| {
                text.parse().ok().filter(|n| *n > 0).ok_or_else(|| "expected a whole number of at least 1".to_string())
            })?;
        Ok(Self {
            entities_claim: env_or("WEBHOOKS_ENTITIES_CLAIM", "entities"),
            account_claim: env_or("WEBHOOKS_ACCOUNT_CLAIM", "sub"),
            url_policy: UrlPolicy { allow_private: env_bool("WEBHOOKS_ALLOW_PRIVATE_URLS")? },
            resend_delay: env_within_send_delay("WEBHOOKS_RESEND_DELAY", "60s")?,
            api_rate: env_rate("WEBHOOKS_API_RATE", API_RATE)?,
            publish_rate: env_rate("WEBHOOKS_PUBLISH_RATE", PUBLISH_RATE)?,
            schedule,
            timeout: env_duration("WEBHOOKS_DELIVERY_TIMEOUT", "15s")?,
            disable_after: env_duration("WEBHOOKS_DISABLE_AFTER", "5d")?,
            timer_after: env_within_send_delay("WEBHOOKS_TIMER_AFTER", "15m")?,
            receiver_concurrency,
        })
    }

    /// The HTTP client of attempts, with this attempt timeout and URL policy.
    pub fn sender(&self) -> Result<HttpSender, Error> {
        HttpSender::new(self.timeout, self.url_policy)
    }
}

/// A duration that SQS can delay a message by: at most 15 minutes.
fn env_within_send_delay(name: &'static str, default: &str) -> Result<Duration, ConfigError> {
    let duration = env_duration(name, default)?;
    if duration > MAX_SEND_DELAY {
        return Err(ConfigError::Invalid {
            name,
            value: format!("{duration:?}"),
            reason: "SQS delays a message at most 15 minutes".into(),
        });
    }
    Ok(duration)
}

fn env_rate(name: &'static str, default: RatePolicy) -> Result<RatePolicy, ConfigError> {
    env_parsed(name, &default.to_string(), RatePolicy::parse)
}

/// The variable `name` (or `default`) as `parse` reads it; why not, in the error.
fn env_parsed<T>(
    name: &'static str,
    default: &str,
    parse: impl FnOnce(&str) -> Result<T, String>,
) -> Result<T, ConfigError> {
    let value = env_or(name, default);
    parse(&value).map_err(|reason| ConfigError::Invalid { name, value, reason })
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

pub(crate) fn env_bool(name: &'static str) -> Result<bool, ConfigError> {
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
    env_parsed(name, default, parse_duration)
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
