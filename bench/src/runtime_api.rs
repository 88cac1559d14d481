//! The Lambda Runtime API (version 2018-06-01) on loopback, as Lambda serves it to a function's
//! process: the release binaries start and take invocations exactly as they would in AWS. One
//! emulator per process start, so a killed process's pending poll cannot take the next one's
//! invocation.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::Value;
use tokio::sync::mpsc;

/// How long an invocation may take before the bench gives up on the process.
const INVOCATION_TIMEOUT: Duration = Duration::from_secs(30);

/// What the function answered to one invocation, and when the answer arrived.
pub struct Outcome {
    pub body: Value,
    pub error: bool,
    pub at: Instant,
}

struct Shared {
    invocations: tokio::sync::Mutex<mpsc::UnboundedReceiver<(String, Value)>>,
    outcomes: mpsc::UnboundedSender<Outcome>,
    first_poll: Mutex<Option<Instant>>,
}

pub struct RuntimeApi {
    /// `host:port`, the value of `AWS_LAMBDA_RUNTIME_API`.
    pub address: String,
    shared: Arc<Shared>,
    invocations: mpsc::UnboundedSender<(String, Value)>,
    outcomes: mpsc::UnboundedReceiver<Outcome>,
    server: tokio::task::JoinHandle<()>,
}

impl RuntimeApi {
    pub async fn start() -> std::io::Result<Self> {
        let (invocations, queued) = mpsc::unbounded_channel();
        let (answered, outcomes) = mpsc::unbounded_channel();
        let shared = Arc::new(Shared {
            invocations: tokio::sync::Mutex::new(queued),
            outcomes: answered,
            first_poll: Mutex::new(None),
        });
        let app = Router::new()
            .route("/2018-06-01/runtime/invocation/next", get(next))
            .route("/2018-06-01/runtime/invocation/{id}/response", post(respond))
            .route("/2018-06-01/runtime/invocation/{id}/error", post(fail))
            .route("/2018-06-01/runtime/init/error", post(init_error))
            .with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let address = listener.local_addr()?.to_string();
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(Self { address, shared, invocations, outcomes, server })
    }

    /// When the process first asked for an invocation: its initialisation was done.
    pub fn first_poll(&self) -> Option<Instant> {
        *self.shared.first_poll.lock().ok()?
    }

    /// Hands `event` to the process and waits for its answer.
    pub async fn invoke(&mut self, event: &Value) -> Result<Outcome, Box<dyn std::error::Error>> {
        self.invocations.send((uuid::Uuid::new_v4().to_string(), event.clone()))?;
        let outcome = tokio::time::timeout(INVOCATION_TIMEOUT, self.outcomes.recv())
            .await
            .map_err(|_| "the function did not answer within 30 s (see target/bench/*.log)")?
            .ok_or("the runtime API stopped")?;
        if outcome.error {
            return Err(format!("the function answered an error: {}", outcome.body).into());
        }
        Ok(outcome)
    }
}

impl Drop for RuntimeApi {
    fn drop(&mut self) {
        self.server.abort();
    }
}

async fn next(State(shared): State<Arc<Shared>>) -> Response {
    if let Ok(mut first) = shared.first_poll.lock() {
        first.get_or_insert_with(Instant::now);
    }
    let Some((id, event)) = shared.invocations.lock().await.recv().await else {
        return StatusCode::GONE.into_response();
    };
    let deadline = chrono::Utc::now().timestamp_millis() + INVOCATION_TIMEOUT.as_millis() as i64;
    let headers = [
        ("lambda-runtime-aws-request-id", id),
        ("lambda-runtime-deadline-ms", deadline.to_string()),
        ("lambda-runtime-invoked-function-arn", "arn:aws:lambda:us-east-1:000000000000:function:bench".into()),
        ("lambda-runtime-trace-id", "Root=1-00000000-000000000000000000000000;Sampled=0".into()),
        ("content-type", "application/json".into()),
    ];
    let mut map = HeaderMap::new();
    for (name, value) in headers {
        if let Ok(value) = value.parse() {
            map.insert(name, value);
        }
    }
    (map, event.to_string()).into_response()
}

fn record(shared: &Shared, body: &Bytes, error: bool) -> StatusCode {
    let body = serde_json::from_slice(body).unwrap_or_else(|_| Value::String(String::from_utf8_lossy(body).into()));
    let _ = shared.outcomes.send(Outcome { body, error, at: Instant::now() });
    StatusCode::ACCEPTED
}

async fn respond(State(shared): State<Arc<Shared>>, Path(_id): Path<String>, body: Bytes) -> StatusCode {
    record(&shared, &body, false)
}

async fn fail(State(shared): State<Arc<Shared>>, Path(_id): Path<String>, body: Bytes) -> StatusCode {
    record(&shared, &body, true)
}

async fn init_error(State(shared): State<Arc<Shared>>, body: Bytes) -> StatusCode {
    record(&shared, &body, true)
}
