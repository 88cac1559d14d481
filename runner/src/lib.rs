//! The local runner: the whole API on one machine, through the very handlers the Lambda
//! functions run, routed and authorized as API Gateway would (docs/contract.md section 3).

pub mod adopt;
pub use shared::dev_auth;
pub mod event_source;
pub mod gateway;
pub mod process;
mod prometheus;
pub mod routes;
pub mod secrets_key;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::response::{IntoResponse, Response};
use http::{HeaderMap, Method, StatusCode, Uri, header};
use std::time::Duration;

use serde_json::{Map, Value};
use shared::api::Authorizer;
use shared::deps::Deps;
use shared::ingest::INGEST_MAX_RECEIVES;
use shared::portal::{self, Verdict};
use shared::queue::{
    MAX_RETENTION, MemoryQueue, MemoryTimer, Queue, QueueConfig, QueueConsumer, RawSend, SqsQueue, VisibilityDelay,
};
use shared::runtime::ApiContext;
use shared::sealing::Sealer;
use shared::store::{DynamoStore, MemoryStore, Store};
use tokio::net::TcpListener;

pub use dev_auth::DevAuth;
use gateway::Authorized;
use routes::RouteTable;

/// Lambda's own limit on a synchronous request payload.
const LAMBDA_PAYLOAD_LIMIT: usize = 6 * 1024 * 1024;

/// How long a received message stays hidden before it is received again: above the deliver
/// handler's longest run, as the queues' 380 s in `template.yaml` are above six times the
/// function's 60 s timeout (AWS's advice), but shorter, so that a delivery a crashed runner left
/// comes back within a minute.
pub const QUEUE_VISIBILITY_TIMEOUT: Duration = Duration::from_secs(60);

/// The standard queue's: a message is received again only when the deliver function stopped on
/// it (waits and outages send it back as a new message), so 20 receives are 20 crashes.
pub const QUEUES: QueueConfig =
    QueueConfig { visibility_timeout: QUEUE_VISIBILITY_TIMEOUT, max_receives: 20, retention: MAX_RETENTION };

/// The FIFO queue's: a FIFO message waits out an outage hidden on its queue, keeping its place, a
/// receive each time it backs off, so it takes more receives to dead-letter one.
pub const FIFO_QUEUES: QueueConfig = QueueConfig { max_receives: 100, ..QUEUES };

/// The ingest queue's: a received message comes back after a minute unless handled, and moves to
/// the ingest dead-letter queue after `INGEST_MAX_RECEIVES` receives, as `template.yaml`'s.
pub const INGEST_QUEUES: QueueConfig = QueueConfig { max_receives: INGEST_MAX_RECEIVES, ..QUEUES };

/// What the runner uses of the ingest queue and its dead-letter queue: what the trigger and the
/// ingest function use of them, and sending, as platform backends (and tests) do.
pub trait IngestQueue: QueueConsumer + VisibilityDelay + RawSend {}

impl<T: QueueConsumer + VisibilityDelay + RawSend + ?Sized> IngestQueue for T {}

/// The ingest queue and its dead-letter queue.
#[derive(Clone)]
pub(crate) struct Ingest {
    pub(crate) queue: Arc<dyn IngestQueue>,
    pub(crate) dead_letters: Arc<dyn IngestQueue>,
}

/// Where the runner keeps its data.
#[derive(Debug, Clone)]
pub enum Backend {
    /// In-process storage and queues: no AWS, no Docker, no Java.
    Memory,
    /// DynamoDB and SQS through the standard AWS SDK environment. The table is created if
    /// missing; so are the queue `queue_name` and the FIFO queue `{queue_name}.fifo`, each with
    /// its DLQ, unless `queue_url` or `fifo_queue_url` names it (whose DLQ the runner then
    /// leaves to whoever deployed it), and the ingest queue `{queue_name}-ingest` with its DLQ.
    /// `sealer` seals the secrets the table holds.
    Aws {
        table: String,
        queue_url: Option<String>,
        fifo_queue_url: Option<String>,
        queue_name: String,
        sealer: Arc<Sealer>,
    },
}

/// A delivery queue, and its dead-letter queue when the runner made it: the DLQ's messages are
/// recorded as failed.
type QueuePair = (Arc<dyn Queue>, Option<Arc<dyn QueueConsumer>>);

fn memory_queues(config: &QueueConfig, fifo: bool) -> QueuePair {
    let dead_letters = Arc::new(MemoryQueue::new(config.visibility_timeout));
    let queue = MemoryQueue::with_dead_letters(config.visibility_timeout, config.max_receives, dead_letters.clone())
        .with_retention(config.retention);
    let queue = if fifo { queue.fifo() } else { queue };
    (Arc::new(queue), Some(dead_letters))
}

async fn sqs_queues(
    sqs: &aws_sdk_sqs::Client,
    url: Option<&String>,
    name: &str,
    config: &QueueConfig,
) -> Result<QueuePair, shared::Error> {
    Ok(match url {
        Some(url) => (Arc::new(SqsQueue::new(sqs.clone(), url)), None),
        None => {
            let (queue, dead_letters) = SqsQueue::ensure(sqs.clone(), name, config).await?;
            (Arc::new(queue), Some(Arc::new(dead_letters)))
        }
    })
}

pub struct App {
    /// What every function is given, as each Lambda's `main` builds it.
    deps: Deps,
    /// The delivery queues' consumer sides and dead-letter queues, which the event source reads.
    queue: QueuePair,
    /// FIFO webhooks' deliveries, each webhook's in order, one at a time.
    fifo_queue: QueuePair,
    /// Events platform backends send instead of calling the API.
    ingest: Ingest,
    /// The stand-in for EventBridge Scheduler: waits past SQS's longest delay.
    timer: Arc<MemoryTimer>,
    /// How long the deliver trigger waits to fill a batch (the template's `DeliveryBatchWindow`).
    batch_window: Duration,
    auth: DevAuth,
    routes: RouteTable,
    /// Host names answered besides loopback ones (`WEBHOOKS_ALLOWED_HOSTS`).
    allowed_hosts: Vec<String>,
}

impl App {
    pub async fn new(ctx: ApiContext, backend: &Backend, auth: DevAuth) -> Result<Self, shared::Error> {
        Self::with_queues(ctx, backend, auth, (&QUEUES, &FIFO_QUEUES)).await
    }

    /// The same, its queues (when it makes them) made as `standard` and `fifo` say.
    pub async fn with_queues(
        ctx: ApiContext,
        backend: &Backend,
        auth: DevAuth,
        (standard, fifo): (&QueueConfig, &QueueConfig),
    ) -> Result<Self, shared::Error> {
        let (store, queue, fifo_queue, ingest): (Arc<dyn Store>, QueuePair, QueuePair, Ingest) = match backend {
            Backend::Memory => {
                // As long as DynamoDB's TTL keeps them, unless shortened (a long session, a load run).
                let retention = shared::config::env_duration("WEBHOOKS_MEMORY_RETENTION", "30d")
                    .map_err(shared::Error::internal)?;
                let store = MemoryStore::with_retention(retention, Arc::new(shared::runtime::SystemClock));
                let dead_letters = Arc::new(MemoryQueue::new(INGEST_QUEUES.visibility_timeout));
                let ingest = MemoryQueue::with_dead_letters(
                    INGEST_QUEUES.visibility_timeout,
                    INGEST_QUEUES.max_receives,
                    dead_letters.clone(),
                );
                let ingest = Ingest { queue: Arc::new(ingest), dead_letters };
                (Arc::new(store), memory_queues(standard, false), memory_queues(fifo, true), ingest)
            }
            Backend::Aws { table, queue_url, fifo_queue_url, queue_name, sealer } => {
                let config = shared::aws::sdk_config().await;
                let store = DynamoStore::new(aws_sdk_dynamodb::Client::new(&config), table, sealer.clone());
                store.ensure_table().await?;
                let sqs = aws_sdk_sqs::Client::new(&config);
                let queue = sqs_queues(&sqs, queue_url.as_ref(), queue_name, standard).await?;
                let fifo_name = format!("{queue_name}.fifo");
                let fifo_queue = sqs_queues(&sqs, fifo_queue_url.as_ref(), &fifo_name, fifo).await?;
                let ingest_name = format!("{queue_name}-ingest");
                let (ingest, dead_letters) = SqsQueue::ensure(sqs.clone(), &ingest_name, &INGEST_QUEUES).await?;
                tracing::info!(url = ingest.url(), "the ingest queue");
                let ingest = Ingest { queue: Arc::new(ingest), dead_letters: Arc::new(dead_letters) };
                (Arc::new(store), queue, fifo_queue, ingest)
            }
        };
        prometheus::install();
        let timer = Arc::new(MemoryTimer::new(queue.0.clone()));
        let deps = Deps::new(ctx, store, (queue.0.clone(), fifo_queue.0.clone()));
        // The deliver function's client, made now so that a bad setting stops the start.
        deps.sender()?;
        let (batch_window, routes, allowed_hosts) = (Duration::ZERO, RouteTable::new(), Vec::new());
        Ok(Self { deps, queue, fifo_queue, ingest, timer, batch_window, auth, routes, allowed_hosts })
    }

    /// The standard delivery queue's messages by state, and those the timer holds: what SQS's
    /// `ApproximateNumberOf...` attributes say of a deployed queue.
    pub async fn queue_depths(&self) -> Result<(shared::queue::QueueDepths, usize), shared::Error> {
        Ok((self.queue.0.depths().await?, self.timer.waiting()))
    }

    /// The ingest queue, to send events to as a platform backend does.
    pub fn ingest_queue(&self) -> &dyn RawSend {
        self.ingest.queue.as_ref()
    }

    /// The ingest dead-letter queue's messages by state: the refused and the given up.
    pub async fn ingest_dead_letter_depths(&self) -> Result<shared::queue::QueueDepths, shared::Error> {
        Ok(self.ingest.dead_letters.depths().await?)
    }

    /// The same app, its deliver trigger waiting up to `window` to fill a batch of 10 (none by
    /// default), as Lambda's `MaximumBatchingWindowInSeconds` does.
    #[must_use]
    pub fn with_batch_window(self, window: Duration) -> Self {
        Self { batch_window: window, ..self }
    }

    /// The same app, answering to `hosts` (names, without port) besides loopback ones.
    #[must_use]
    pub fn with_allowed_hosts(self, hosts: Vec<String>) -> Self {
        Self { allowed_hosts: hosts, ..self }
    }
}

/// Whether the request's `Host` is a loopback name or one of `allowed`: a page whose name was
/// rebound to 127.0.0.1 sends its own name, and must not reach the dev token's API.
fn answers_to(allowed: &[String], headers: &HeaderMap) -> bool {
    let Some(authority) = headers.get(header::HOST).and_then(|v| v.to_str().ok()) else { return false };
    let Ok(authority) = authority.parse::<http::uri::Authority>() else { return false };
    let host = authority.host().trim_start_matches('[').trim_end_matches(']').to_ascii_lowercase();
    let loopback = host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback());
    loopback
        || host == "localhost"
        || host.ends_with(".localhost")
        || allowed.iter().any(|name| name.eq_ignore_ascii_case(&host))
}

pub fn router(app: Arc<App>) -> Router {
    Router::new().fallback(handle).layer(DefaultBodyLimit::max(LAMBDA_PAYLOAD_LIMIT)).with_state(app)
}

async fn handle(State(app): State<Arc<App>>, method: Method, uri: Uri, headers: HeaderMap, body: Bytes) -> Response {
    if !answers_to(&app.allowed_hosts, &headers) {
        let problem = serde_json::json!({
            "type": "about:blank",
            "title": "Misdirected Request",
            "status": 421,
            "detail": "this runner answers only to loopback host names and those in WEBHOOKS_ALLOWED_HOSTS",
        });
        let content_type = [(header::CONTENT_TYPE, "application/problem+json")];
        return (StatusCode::MISDIRECTED_REQUEST, content_type, problem.to_string()).into_response();
    }
    // The operator's, like the console: outside the API and its authorizers.
    if method == Method::GET && uri.path() == "/metrics" {
        return prometheus::render(&app).await;
    }
    let Some(route) = app.routes.find(method.as_str(), uri.path()) else {
        // API Gateway's own answer for a request no route matches.
        return (StatusCode::NOT_FOUND, [(header::CONTENT_TYPE, "application/json")], r#"{"message":"Not Found"}"#)
            .into_response();
    };
    let incoming = gateway::Incoming {
        method: method.as_str(),
        path: uri.path(),
        raw_query: uri.query().unwrap_or(""),
        headers: &headers,
        body: &body,
    };
    let authorized = match route.authorizer {
        Authorizer::Jwt => app.auth.bearer_claims(&headers).map(Authorized::Jwt),
        Authorizer::Portal => match portal_context(&app, &headers).await {
            Ok(context) => Some(Authorized::Lambda(context)),
            Err(refused) => return refused,
        },
        Authorizer::None => None,
    };
    let event = gateway::event(&incoming, &route, authorized);
    match gateway::request(&event) {
        Ok(request) => gateway::into_http(route.function.answer(&app.deps, request).await).map(axum::body::Body::from),
        Err(err) => {
            tracing::error!(error = %err, "could not build the API Gateway event");
            (StatusCode::INTERNAL_SERVER_ERROR, r#"{"message":"Internal Server Error"}"#).into_response()
        }
    }
}

/// The portal authorizer's context for a request (`shared::portal::authorize`, as the
/// `authorize-portal` Lambda decides it), or API Gateway's answer when it refuses.
async fn portal_context(app: &App, headers: &HeaderMap) -> Result<Map<String, Value>, Response> {
    let gateway_answer = |status: StatusCode, message: &str| {
        let body = serde_json::json!({ "message": message }).to_string();
        (status, [(header::CONTENT_TYPE, "application/json")], body).into_response()
    };
    match portal::authorize(&app.deps.portal_keys, app.deps.store.as_ref(), headers).await {
        Ok(Verdict::Granted(context)) => Ok(context),
        Ok(Verdict::NoToken) => Err(gateway_answer(StatusCode::UNAUTHORIZED, "Unauthorized")),
        Ok(Verdict::Refused) => Err(gateway_answer(StatusCode::FORBIDDEN, "Forbidden")),
        Err(err) => {
            tracing::error!(error = %shared::error::chain(&err), "the portal authorizer failed");
            Err(gateway_answer(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error"))
        }
    }
}

/// Serves the app on `listener`, and runs its deliveries, until the process ends.
pub async fn serve(listener: TcpListener, app: Arc<App>) -> std::io::Result<()> {
    tokio::spawn(event_source::run(app.clone()));
    axum::serve(listener, router(app)).await
}

/// Starts the app on a free loopback port in the background (tests).
pub async fn spawn(app: Arc<App>) -> std::io::Result<SocketAddr> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(serve(listener, app));
    Ok(addr)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_loopback_names_and_allowed_ones_are_answered() {
        let allowed = ["dev.example.test".to_string()];
        let answers = |host: Option<&str>| {
            let mut headers = HeaderMap::new();
            headers.extend(host.map(|h| (header::HOST, h.parse().expect("header value"))));
            answers_to(&allowed, &headers)
        };
        for host in
            ["127.0.0.1:3000", "localhost:3000", "LOCALHOST", "[::1]:3000", "app.localhost", "dev.example.test:8080"]
        {
            assert!(answers(Some(host)), "{host}");
        }
        for host in ["rebound.example.com", "127.0.0.1.nip.io:3000", "10.0.0.5:3000", "example.test"] {
            assert!(!answers(Some(host)), "{host}");
        }
        assert!(!answers(None), "no Host");
    }
}
