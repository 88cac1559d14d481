//! The runner as a real process, and a TCP proxy that can cut a dependency off or lose an
//! answer: what the fault tests need to kill deliveries mid-batch, to make DynamoDB or SQS
//! unreachable, and to make a write land while its caller never hears so.

use std::net::SocketAddr;
use std::process::{Child, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

pub struct RunnerProcess {
    child: Child,
    pub base: String,
    pub token: String,
}

impl RunnerProcess {
    /// Starts `target/<profile>/webhooks-local` (built by `cargo test --workspace`) with `env`.
    /// Waiting for its banner blocks, so it runs off the test's runtime, which must stay free
    /// to serve the proxies the runner talks to.
    pub async fn start(env: &[(&str, String)]) -> Self {
        Self::start_logging_to(env, Stdio::inherit()).await
    }

    /// `start`, its log written to `log` (`RUST_LOG` from `env` when it sets one).
    pub async fn start_logging_to(env: &[(&str, String)], log: Stdio) -> Self {
        let env: Vec<(String, String)> = env.iter().map(|(k, v)| ((*k).to_string(), v.clone())).collect();
        tokio::task::spawn_blocking(move || Self::start_blocking(&env, log)).await.expect("start the runner")
    }

    fn start_blocking(env: &[(String, String)], log_to: Stdio) -> Self {
        let exe = std::env::current_exe().expect("test binary path");
        let binary = exe.parent().and_then(|deps| deps.parent()).expect("target dir").join("webhooks-local");
        assert!(binary.exists(), "{} is missing: run `make test` (it builds the runner)", binary.display());
        let log = std::env::var("TEST_RUNNER_LOG").unwrap_or_else(|_| "warn".into());
        let mut env = env.to_vec();
        if !env.iter().any(|(name, _)| name == "RUST_LOG") {
            env.push(("RUST_LOG".into(), log));
        }
        let (child, base, token) =
            webhooks_local::process::start_runner(&binary, &env, log_to).expect("start the runner");
        Self { child, base, token }
    }

    /// SIGKILL: no shutdown, no cleanup, as a crashed Lambda.
    pub fn kill(&mut self) {
        self.child.kill().expect("kill the runner");
        self.child.wait().expect("reap the runner");
    }
}

impl Drop for RunnerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Forwards a loopback port to `target` until cut: then the port refuses connections and
/// the open ones are closed, as when a dependency goes away; or, hung, takes connections and
/// never answers, as a dependency that is overloaded or partitioned; or, armed with a request's
/// marker, forwards the next request carrying it and never answers it.
pub struct Proxy {
    pub addr: SocketAddr,
    target: SocketAddr,
    tasks: Arc<Mutex<Vec<JoinHandle<()>>>>,
    armed: Arc<Mutex<Option<&'static str>>>,
}

impl Proxy {
    pub async fn start(target: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind the proxy");
        let addr = listener.local_addr().expect("address");
        let proxy = Self { addr, target, tasks: Arc::default(), armed: Arc::default() };
        proxy.serve(listener);
        proxy
    }

    /// The proxy for the endpoint in `variable` (e.g. `AWS_ENDPOINT_URL_DYNAMODB`).
    pub async fn for_endpoint(variable: &str) -> Self {
        let url = std::env::var(variable).unwrap_or_else(|_| panic!("{variable} is not set: run `make test`"));
        let target = url.trim_start_matches("http://").trim_end_matches('/').parse().expect("host:port endpoint");
        Self::start(target).await
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    fn serve(&self, listener: TcpListener) {
        let (target, tasks, armed) = (self.target, self.tasks.clone(), self.armed.clone());
        let accept = tokio::spawn(async move {
            while let Ok((inbound, _)) = listener.accept().await {
                let armed = armed.clone();
                let connection = tokio::spawn(async move {
                    if let Ok(outbound) = TcpStream::connect(target).await {
                        forward(inbound, outbound, armed).await;
                    }
                });
                tasks.lock().expect("lock").push(connection);
            }
        });
        self.tasks.lock().expect("lock").push(accept);
    }

    /// The next request whose bytes hold `marker` (e.g. `DynamoDB_20120810.PutItem`) reaches
    /// the dependency, and its answer never comes back: the caller's attempt times out.
    pub fn lose_the_answer_to(&self, marker: &'static str) {
        *self.armed.lock().expect("lock") = Some(marker);
    }

    pub fn cut(&self) {
        for task in self.tasks.lock().expect("lock").drain(..) {
            task.abort();
        }
    }

    /// Cuts, then accepts connections and never answers on them: a dependency that hangs.
    pub async fn hang(&self) {
        self.cut();
        let (listener, tasks) = (self.rebind().await, self.tasks.clone());
        let accept = tokio::spawn(async move {
            while let Ok((inbound, _)) = listener.accept().await {
                let held = tokio::spawn(async move {
                    let _open = inbound;
                    std::future::pending::<()>().await;
                });
                tasks.lock().expect("lock").push(held);
            }
        });
        self.tasks.lock().expect("lock").push(accept);
    }

    pub async fn restore(&self) {
        self.cut();
        self.serve(self.rebind().await);
    }

    /// The proxy's port again, once the aborted listener has let go of it.
    async fn rebind(&self) -> TcpListener {
        for _ in 0..50 {
            if let Ok(listener) = TcpListener::bind(self.addr).await {
                return listener;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        panic!("could not rebind the proxy's port {}", self.addr)
    }
}

/// Copies both ways until either side closes. HTTP/1.1 without pipelining answers each
/// request before the next is sent, so once the armed request is seen, every byte back is
/// held: the answers before it have already gone.
async fn forward(inbound: TcpStream, outbound: TcpStream, armed: Arc<Mutex<Option<&'static str>>>) {
    let ((mut client_read, mut client_write), (mut server_read, mut server_write)) =
        (inbound.into_split(), outbound.into_split());
    let muted = Arc::new(AtomicBool::new(false));
    let mute = muted.clone();
    let requests = async move {
        let mut buffer = vec![0; 64 * 1024];
        while let Ok(read @ 1..) = client_read.read(&mut buffer).await {
            let chunk = &buffer[..read];
            if disarm_on(&armed, chunk) {
                mute.store(true, Ordering::SeqCst);
            }
            if server_write.write_all(chunk).await.is_err() {
                break;
            }
        }
    };
    let answers = async move {
        let mut buffer = vec![0; 64 * 1024];
        while let Ok(read @ 1..) = server_read.read(&mut buffer).await {
            if muted.load(Ordering::SeqCst) {
                std::future::pending::<()>().await;
            }
            if client_write.write_all(&buffer[..read]).await.is_err() {
                break;
            }
        }
    };
    tokio::select! { () = requests => {}, () = answers => {} }
}

/// Whether `chunk` holds the armed marker, which it then disarms.
fn disarm_on(armed: &Mutex<Option<&'static str>>, chunk: &[u8]) -> bool {
    let mut armed = armed.lock().expect("lock");
    let hit = armed.is_some_and(|marker| chunk.windows(marker.len()).any(|w| w == marker.as_bytes()));
    if hit {
        *armed = None;
    }
    hit
}
