//! The HTTP client of deliveries: one POST, no redirects, a timeout, at most 1 KiB of the
//! answer read, and (unless private URLs are allowed) no connection to a forbidden address.

use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use oauth2::basic::BasicClient;
use oauth2::{AuthType, ClientId, ClientSecret, RequestTokenError, Scope, TokenResponse, TokenUrl};
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use url::{Host, Url};

use super::receiver_auth::{IssuedToken, TokenFetches};
use crate::error::Error;
use crate::model::{ReceiverAuth, ReceiverCredentials, UrlPolicy, is_forbidden_ip};

/// The most of a receiver's answer that is kept: enough for an error's message, and, with the
/// rest of an attempt's record, two of DynamoDB's 1 KB write units; 4 KiB took five, most of
/// what a failing delivery cost (docs/cost.md).
pub(crate) const MAX_RESPONSE_BODY: usize = 1024;

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
    /// The first 1 KiB of the body, lossily decoded.
    pub body: String,
}

#[async_trait]
pub trait WebhookSender: Send + Sync {
    /// POSTs the request; `Err` says why no answer came (refused, unreachable, timed out).
    async fn send(&self, request: Outgoing) -> Result<Answer, String>;

    /// A new access token from the token endpoint of OAuth 2.0 `credentials`; `Err` says why
    /// there is none.
    async fn request_token(&self, _credentials: &ReceiverCredentials) -> Result<IssuedToken, String> {
        Err("this sender does not get access tokens".into())
    }
}

pub struct HttpSender {
    client: reqwest::Client,
    policy: UrlPolicy,
    timeout: Duration,
    fetches: TokenFetches,
}

impl HttpSender {
    pub fn new(timeout: Duration, policy: UrlPolicy) -> Result<Self, Error> {
        // No environment proxy: it would connect on the sender's behalf, past the address checks.
        let mut builder = reqwest::Client::builder()
            .no_proxy()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(timeout)
            .user_agent(concat!("webhooks/", env!("CARGO_PKG_VERSION")));
        if !policy.allow_private {
            builder = builder.dns_resolver(Arc::new(CheckedResolver));
        }
        Ok(Self {
            client: builder.build().map_err(Error::internal)?,
            policy,
            timeout,
            fetches: TokenFetches::default(),
        })
    }
}

#[async_trait]
impl WebhookSender for HttpSender {
    async fn send(&self, request: Outgoing) -> Result<Answer, String> {
        self.refuse_literal(&request.url)?;
        let mut builder = self.client.post(request.url).header("content-type", "application/json");
        for (name, value) in &request.headers {
            builder = builder.header(name, value);
        }
        let mut response = builder.body(request.body).send().await.map_err(|e| describe(e, self.timeout))?;
        let status = response.status().as_u16();
        let retry_after =
            response.headers().get("retry-after").and_then(|v| v.to_str().ok()).and_then(parse_retry_after);
        let body = read_at_most(&mut response, MAX_RESPONSE_BODY).await;
        Ok(Answer { status, retry_after, body: String::from_utf8_lossy(&body).into_owned() })
    }

    async fn request_token(&self, credentials: &ReceiverCredentials) -> Result<IssuedToken, String> {
        self.fetches.once(credentials, || self.fetch_token(credentials)).await
    }
}

/// The largest token endpoint answer read.
const MAX_TOKEN_RESPONSE: usize = 64 * 1024;

impl HttpSender {
    /// A literal address never reaches the resolver, so it is checked here.
    fn refuse_literal(&self, url: &Url) -> Result<(), String> {
        let literal = match url.host() {
            Some(Host::Ipv4(ip)) => Some(IpAddr::V4(ip)),
            Some(Host::Ipv6(ip)) => Some(IpAddr::V6(ip)),
            _ => None,
        };
        if !self.policy.allow_private && literal.is_some_and(is_forbidden_ip) {
            return Err(format!("refused: {} is a private or reserved address", url.host_str().unwrap_or("")));
        }
        Ok(())
    }

    /// The client-credentials grant at the token URL, through this sender's client (same
    /// SSRF checks, no redirects, same timeout), the client authenticated with HTTP Basic.
    async fn fetch_token(&self, credentials: &ReceiverCredentials) -> Result<IssuedToken, String> {
        let ReceiverAuth::OAuth2 { token_url, client_id, scope, audience } = &credentials.auth else {
            return Err("the webhook's auth is not oauth2".into());
        };
        self.refuse_literal(token_url.as_url())?;
        let client = BasicClient::new(ClientId::new(client_id.clone()))
            .set_client_secret(ClientSecret::new(credentials.secret.expose().to_string()))
            .set_auth_type(AuthType::BasicAuth)
            .set_token_uri(TokenUrl::from_url(token_url.as_url().clone()));
        let mut request = client.exchange_client_credentials();
        for scope in scope.iter().flat_map(|s| s.split_whitespace()) {
            request = request.add_scope(Scope::new(scope.to_string()));
        }
        if let Some(audience) = audience {
            request = request.add_extra_param("audience", audience.clone());
        }
        let http = TokenClient { sender: self, answered: Mutex::new(None) };
        let result = request.request_async(&http).await;
        let status = *http.answered.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        match (result, status) {
            (Ok(token), _) => {
                Ok(IssuedToken { access_token: token.access_token().secret().clone(), expires_in: token.expires_in() })
            }
            (Err(_), Some(status)) if !(200..300).contains(&status) => {
                Err(format!("the token endpoint answered {status}"))
            }
            (Err(RequestTokenError::Request(reason)), _) => Err(reason.0),
            (Err(RequestTokenError::Parse(err, _)), _) => {
                Err(format!("the token endpoint's answer is not a token response ({})", err.inner()))
            }
            (Err(err), _) => Err(err.to_string()),
        }
    }
}

/// `oauth2`'s HTTP client: the sender's own, noting the status of the answer so that an
/// error can name it. Bodies are never logged: they hold secrets.
struct TokenClient<'a> {
    sender: &'a HttpSender,
    answered: Mutex<Option<u16>>,
}

impl<'c> oauth2::AsyncHttpClient<'c> for TokenClient<'_> {
    type Error = TransportError;
    type Future = std::pin::Pin<Box<dyn Future<Output = Result<oauth2::HttpResponse, TransportError>> + Send + 'c>>;

    fn call(&'c self, request: oauth2::HttpRequest) -> Self::Future {
        Box::pin(async move {
            let (parts, body) = request.into_parts();
            let url = Url::parse(&parts.uri.to_string()).map_err(|e| TransportError(e.to_string()))?;
            let client = &self.sender.client;
            let sent = client.request(parts.method, url).headers(parts.headers).body(body).send().await;
            let mut response = sent.map_err(|e| TransportError(describe(e, self.sender.timeout)))?;
            let status = response.status();
            *self.answered.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = Some(status.as_u16());
            let headers = response.headers().clone();
            let body = read_at_most(&mut response, MAX_TOKEN_RESPONSE).await;
            let mut answer = http::Response::new(body);
            *answer.status_mut() = status;
            *answer.headers_mut() = headers;
            Ok(answer)
        })
    }
}

/// Why a token request got no answer.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct TransportError(String);

/// At most `limit` bytes of the body; the status is the answer, and a body cut short does
/// not change it.
async fn read_at_most(response: &mut reqwest::Response, limit: usize) -> Vec<u8> {
    let mut body = Vec::new();
    while body.len() < limit {
        match response.chunk().await {
            Ok(Some(chunk)) => body.extend_from_slice(&chunk),
            Ok(None) | Err(_) => break,
        }
    }
    body.truncate(limit);
    body
}

/// Why no answer came, naming the destination without what may be a secret in its URL (a
/// query's token, userinfo): the text goes to the attempt log, `disabledReason` and the logs.
fn describe(err: reqwest::Error, timeout: Duration) -> String {
    if err.is_timeout() {
        return format!("timed out after {}", humantime::format_duration(timeout));
    }
    let mut err = err;
    if let Some(url) = err.url_mut() {
        *url = destination(url);
    }
    let cause = crate::error::chain(&err);
    if err.is_connect() { format!("could not connect: {cause}") } else { cause }
}

/// `url` without userinfo, query or fragment.
fn destination(url: &Url) -> Url {
    let mut bare = url.clone();
    bare.set_query(None);
    bare.set_fragment(None);
    // Only a URL that cannot have userinfo refuses these, and then it has none.
    let _ = bare.set_username("");
    let _ = bare.set_password(None);
    bare
}

/// `Retry-After` as seconds or an HTTP date.
pub(crate) fn parse_retry_after(value: &str) -> Option<Duration> {
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
            "https://[::7f00:1]/hook",
            "https://[2002:a9fe:a9fe::]/latest",
            "https://localhost/hook",
        ] {
            let request = Outgoing { url: Url::parse(url).expect("url"), headers: vec![], body: "{}".into() };
            let err = sender.send(request).await.expect_err(url);
            assert!(err.contains("refused") && err.contains("private or reserved"), "{url}: {err}");
        }
    }

    #[tokio::test]
    async fn an_error_names_the_destination_without_its_query_fragment_or_userinfo() {
        let sender = HttpSender::new(Duration::from_secs(2), UrlPolicy { allow_private: true }).expect("client");
        let closed = std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("a free port");
        let url = Url::parse(&format!("http://127.0.0.1:{}/hook?token=s3cret#frag", closed.port())).expect("url");
        let err = sender.send(Outgoing { url, headers: vec![], body: "{}".into() }).await.expect_err("nothing listens");
        assert!(!err.contains("s3cret") && !err.contains("frag"), "{err}");
        assert!(err.contains(&format!("127.0.0.1:{}/hook", closed.port())), "names the destination: {err}");
    }
}
