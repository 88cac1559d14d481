//! A real HTTP receiver in the test process: answers with scripted statuses and records
//! every request it gets.

use std::net::SocketAddr;
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
}

/// How the receiver answers the n-th request (the last entry repeats).
#[derive(Debug, Clone)]
pub enum Answer {
    Status(u16),
    /// Holds the request open this long before answering 200.
    Hang(Duration),
    /// 302 to this URL.
    Redirect(String),
}

struct Inner {
    script: Vec<Answer>,
    received: Mutex<Vec<Received>>,
}

pub struct Receiver {
    pub addr: SocketAddr,
    inner: Arc<Inner>,
}

impl Receiver {
    pub async fn start(script: &[Answer]) -> Self {
        let inner = Arc::new(Inner { script: script.to_vec(), received: Mutex::new(Vec::new()) });
        let app = Router::new().fallback(answer).with_state(inner.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind the receiver");
        let addr = listener.local_addr().expect("address");
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self { addr, inner }
    }

    pub fn url(&self) -> String {
        format!("http://{}/hooks", self.addr)
    }

    pub fn received(&self) -> Vec<Received> {
        self.inner.received.lock().expect("lock").clone()
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
    let n = {
        let mut received = inner.received.lock().expect("lock");
        received.push(Received { headers, body });
        received.len() - 1
    };
    match inner.script.get(n).or(inner.script.last()).cloned().unwrap_or(Answer::Status(200)) {
        Answer::Status(code) => StatusCode::from_u16(code).unwrap_or(StatusCode::OK).into_response(),
        Answer::Hang(pause) => {
            tokio::time::sleep(pause).await;
            StatusCode::OK.into_response()
        }
        Answer::Redirect(to) => (StatusCode::FOUND, [("location", to)]).into_response(),
    }
}
