//! The HTTP client of deliveries: one POST, no redirects, a timeout, at most 4 KiB of the
//! answer read, and (unless private URLs are allowed) no connection to a forbidden address.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use url::{Host, Url};

use crate::error::Error;
use crate::model::{UrlPolicy, is_forbidden_ip};

/// The most of a receiver's answer that is kept.
pub const MAX_RESPONSE_BODY: usize = 4096;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outgoing {
    pub url: Url,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    pub status: u16,
    pub retry_after: Option<Duration>,
    /// The first 4 KiB of the body, lossily decoded.
    pub body: String,
}

#[async_trait]
pub trait WebhookSender: Send + Sync {
    /// POSTs the request; `Err` says why no answer came (refused, unreachable, timed out).
    async fn send(&self, request: Outgoing) -> Result<Answer, String>;
}

pub struct HttpSender {
    client: reqwest::Client,
    policy: UrlPolicy,
    timeout: Duration,
}

impl HttpSender {
    pub fn new(timeout: Duration, policy: UrlPolicy) -> Result<Self, Error> {
        let mut builder = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(timeout)
            .user_agent(concat!("webhooks/", env!("CARGO_PKG_VERSION")));
        if !policy.allow_private {
            builder = builder.dns_resolver(Arc::new(CheckedResolver));
        }
        Ok(Self { client: builder.build().map_err(Error::internal)?, policy, timeout })
    }
}

#[async_trait]
impl WebhookSender for HttpSender {
    async fn send(&self, request: Outgoing) -> Result<Answer, String> {
        // A literal address never reaches the resolver, so it is checked here.
        let literal = match request.url.host() {
            Some(Host::Ipv4(ip)) => Some(IpAddr::V4(ip)),
            Some(Host::Ipv6(ip)) => Some(IpAddr::V6(ip)),
            _ => None,
        };
        if !self.policy.allow_private && literal.is_some_and(is_forbidden_ip) {
            return Err(format!("refused: {} is a private or reserved address", request.url.host_str().unwrap_or("")));
        }
        let mut builder = self.client.post(request.url).header("content-type", "application/json");
        for (name, value) in &request.headers {
            builder = builder.header(name, value);
        }
        let mut response = builder.body(request.body).send().await.map_err(|e| describe(&e, self.timeout))?;
        let status = response.status().as_u16();
        let retry_after =
            response.headers().get("retry-after").and_then(|v| v.to_str().ok()).and_then(parse_retry_after);
        let mut body = Vec::new();
        while body.len() < MAX_RESPONSE_BODY {
            match response.chunk().await {
                Ok(Some(chunk)) => body.extend_from_slice(&chunk),
                // The status is the answer; a body cut short does not change it.
                Ok(None) | Err(_) => break,
            }
        }
        body.truncate(MAX_RESPONSE_BODY);
        Ok(Answer { status, retry_after, body: String::from_utf8_lossy(&body).into_owned() })
    }
}

fn describe(err: &reqwest::Error, timeout: Duration) -> String {
    if err.is_timeout() {
        return format!("timed out after {}", humantime::format_duration(timeout));
    }
    let cause = crate::error::chain(err);
    if err.is_connect() { format!("could not connect: {cause}") } else { cause }
}

/// `Retry-After` as seconds or an HTTP date.
pub fn parse_retry_after(value: &str) -> Option<Duration> {
    if let Ok(seconds) = value.trim().parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = chrono::DateTime::parse_from_rfc2822(value.trim()).ok()?;
    (at.with_timezone(&chrono::Utc) - chrono::Utc::now()).to_std().ok()
}

/// Resolves a host and refuses it when any of its addresses is forbidden, so a name cannot
/// smuggle a private target past validation; reqwest then connects to exactly these
/// addresses.
struct CheckedResolver;

impl Resolve for CheckedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        Box::pin(async move {
            let host = name.as_str().to_string();
            let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            if let Some(bad) = addrs.iter().find(|a| is_forbidden_ip(a.ip())) {
                return Err(format!("refused: {host} resolves to the private or reserved address {}", bad.ip()).into());
            }
            Ok(Box::new(addrs.into_iter()) as Addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_in_seconds_or_as_a_date() {
        assert_eq!(parse_retry_after("120"), Some(Duration::from_secs(120)));
        let soon = (chrono::Utc::now() + chrono::Duration::seconds(90)).to_rfc2822();
        let parsed = parse_retry_after(&soon).expect("date");
        assert!(parsed > Duration::from_secs(80) && parsed <= Duration::from_secs(90), "{parsed:?}");
        assert_eq!(parse_retry_after("whenever"), None);
    }

    #[tokio::test]
    async fn forbidden_targets_are_refused_before_any_connection() {
        let sender = HttpSender::new(Duration::from_secs(2), UrlPolicy::default()).expect("client");
        for url in [
            "https://127.0.0.1/hook",
            "https://10.0.0.1/hook",
            "https://169.254.169.254/latest",
            "https://localhost/hook",
        ] {
            let request = Outgoing { url: Url::parse(url).expect("url"), headers: vec![], body: "{}".into() };
            let err = sender.send(request).await.expect_err(url);
            assert!(err.contains("refused") && err.contains("private or reserved"), "{url}: {err}");
        }
    }
}
