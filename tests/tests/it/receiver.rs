//! A real HTTP receiver in the test process: answers with scripted statuses and records
//! every request it gets.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};

#[derive(Debug, Clone)]
pub struct Received {
    pub headers: HeaderMap,
    pub body: Bytes,
    /// When it arrived, by the receiver's clock.
    pub at: std::time::Instant,
}

/// How the receiver answers the n-th request (the last entry repeats).
#[derive(Debug, Clone)]
pub enum Answer {
    Status(u16),
    /// Holds the request open this long before answering 200.
    Hang(Duration),
    /// 302 to this URL.
    Redirect(String),
    /// This status with a body of this many bytes.
    Sized(u16, usize),
}

#[derive(Default)]
struct Inner {
    script: Vec<Answer>,
    received: Mutex<Vec<Received>>,
    /// The `Authorization` the receiver demands; any other is a 401.
    demand: Mutex<Option<String>>,
    /// Requests to the token endpoint, `/token`.
    token_requests: Mutex<Vec<Received>>,
    /// Events (by `webhook-id`) to answer 500 this many more times, whatever the script says.
    failures: Mutex<std::collections::HashMap<String, usize>>,
    /// Requests being answered now, and the most there ever were at once.
    in_flight: AtomicUsize,
    most_in_flight: AtomicUsize,
}

/// Counts a request as being answered until dropped.
struct Answering<'a>(&'a Inner);

impl<'a> Answering<'a> {
    fn start(inner: &'a Inner) -> Self {
        let now = inner.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        inner.most_in_flight.fetch_max(now, Ordering::SeqCst);
        Self(inner)
    }
}

impl Drop for Answering<'_> {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

pub struct Receiver {
    pub addr: SocketAddr,
    inner: Arc<Inner>,
}

impl Receiver {
    pub async fn start(script: &[Answer]) -> Self {
        let inner = Arc::new(Inner { script: script.to_vec(), ..Inner::default() });
        let app =
            Router::new().route("/token", axum::routing::post(issue_token)).fallback(answer).with_state(inner.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind the receiver");
        let addr = listener.local_addr().expect("address");
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self { addr, inner }
    }

    pub fn url(&self) -> String {
        format!("http://{}/hooks", self.addr)
    }

    /// From now on, answers 401 to a request without this `Authorization`.
    pub fn demand(&self, authorization: &str) {
        *self.inner.demand.lock().expect("lock") = Some(authorization.to_string());
    }

    /// The receiver's OAuth 2.0 token endpoint: it issues `token-1`, `token-2`, ... for an hour.
    pub fn token_url(&self) -> String {
        format!("http://{}/token", self.addr)
    }

    pub fn token_requests(&self) -> Vec<Received> {
        self.inner.token_requests.lock().expect("lock").clone()
    }

    /// Answers 500 to the next `times` requests carrying the event `id`.
    pub fn fail_event(&self, id: &str, times: usize) {
        self.inner.failures.lock().expect("lock").insert(id.to_string(), times);
    }

    /// The most requests it was answering at once.
    pub fn most_at_once(&self) -> usize {
        self.inner.most_in_flight.load(Ordering::SeqCst)
    }

    pub fn received(&self) -> Vec<Received> {
        self.inner.received.lock().expect("lock").clone()
    }

    /// How many times it got each event, by `webhook-id`.
    pub fn per_event(&self) -> std::collections::BTreeMap<String, usize> {
        let mut counts = std::collections::BTreeMap::new();
        for request in self.received() {
            let id = request.headers["webhook-id"].to_str().expect("webhook-id").to_string();
            *counts.entry(id).or_default() += 1;
        }
        counts
    }

    /// Waits until `count` requests arrived (or `limit` passed) and returns what arrived.
    pub async fn wait_for(&self, count: usize, limit: Duration) -> Vec<Received> {
        let deadline = tokio::time::Instant::now() + limit;
        while self.received().len() < count && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        self.received()
    }
}

async fn answer(State(inner): State<Arc<Inner>>, headers: HeaderMap, body: Bytes) -> axum::response::Response {
    use axum::response::IntoResponse;
    let demand = inner.demand.lock().expect("lock").clone();
    let refused = demand.is_some_and(|d| headers.get("authorization").is_none_or(|a| a.as_bytes() != d.as_bytes()));
    let _answering = Answering::start(&inner);
    let event = headers.get("webhook-id").and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
    let failing = inner.failures.lock().expect("lock").get_mut(&event).is_some_and(|left| {
        let fails = *left > 0;
        *left = left.saturating_sub(1);
        fails
    });
    let n = {
        let mut received = inner.received.lock().expect("lock");
        received.push(Received { headers, body, at: std::time::Instant::now() });
        received.len() - 1
    };
    if refused {
        return StatusCode::UNAUTHORIZED.into_response();
    }
    if failing {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    }
    match inner.script.get(n).or(inner.script.last()).cloned().unwrap_or(Answer::Status(200)) {
        Answer::Status(code) => StatusCode::from_u16(code).unwrap_or(StatusCode::OK).into_response(),
        Answer::Hang(pause) => {
            tokio::time::sleep(pause).await;
            StatusCode::OK.into_response()
        }
        Answer::Redirect(to) => (StatusCode::FOUND, [("location", to)]).into_response(),
        Answer::Sized(code, bytes) => {
            (StatusCode::from_u16(code).unwrap_or(StatusCode::OK), "x".repeat(bytes)).into_response()
        }
    }
}

async fn issue_token(State(inner): State<Arc<Inner>>, headers: HeaderMap, body: Bytes) -> axum::response::Response {
    use axum::response::IntoResponse;
    let n = {
        let mut requests = inner.token_requests.lock().expect("lock");
        requests.push(Received { headers, body, at: std::time::Instant::now() });
        requests.len()
    };
    let token = serde_json::json!({"access_token": format!("token-{n}"), "token_type": "Bearer", "expires_in": 3600});
    ([("content-type", "application/json")], token.to_string()).into_response()
}

/// The most arrivals in any window of one second.
pub fn busiest_second(arrivals: &[std::time::Instant]) -> usize {
    let mut sorted = arrivals.to_vec();
    sorted.sort_unstable();
    (0..sorted.len())
        .map(|i| sorted[i..].iter().take_while(|at| at.duration_since(sorted[i]) < Duration::from_secs(1)).count())
        .max()
        .unwrap_or(0)
}

#[test]
fn the_busiest_second_counts_a_sliding_window() {
    let start = std::time::Instant::now();
    let at = |ms: u64| start + Duration::from_millis(ms);
    assert_eq!(busiest_second(&[at(0), at(999), at(1000), at(1500), at(1999)]), 3);
    assert_eq!(busiest_second(&[]), 0);
}
