//! `make bench` section 6: publish-to-arrival, the optimised runner as a process on each backend
//! (issue 27). One webhook; the receiver notes when each event's POST arrived, by its
//! `webhook-id`, against when its publish was sent.
//!
//! - quiet: 20 events, one every 200 ms;
//! - saturation: 2,000 events published 32 at a time, as fast as the runner takes them; the
//!   deliveries per second, first publish to last arrival, are the saturation rate;
//! - half saturation: events paced at half that rate for 4 s.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::StreamExt;
use serde_json::json;

use crate::ENTITY;

const QUIET_EVERY: Duration = Duration::from_millis(200);
const CONCURRENCY: usize = 32;
const PATIENCE: Duration = Duration::from_secs(120);

fn quiet_events() -> usize {
    crate::smoke::sized(20, 3)
}

fn saturation_events() -> usize {
    crate::smoke::sized(2_000, 100)
}

/// How long half saturation is kept up.
fn paced_for() -> Duration {
    Duration::from_secs(crate::smoke::sized(4, 1) as u64)
}

/// When each event's delivery arrived, by event id.
type Arrivals = Arc<Mutex<HashMap<String, Instant>>>;

struct Runner {
    process: std::process::Child,
    base: String,
    token: String,
    client: reqwest::Client,
    arrivals: Arrivals,
}

/// Prints the figures on the memory backend and, under `make bench`, on DynamoDB Local + SQS.
pub async fn measure() -> Result<(), Box<dyn std::error::Error>> {
    let mut backends = vec![("memory", vec![("WEBHOOKS_BACKEND", "memory".to_string())])];
    if let (Ok(dynamodb), Ok(sqs)) = (std::env::var("AWS_ENDPOINT_URL_DYNAMODB"), std::env::var("AWS_ENDPOINT_URL_SQS"))
    {
        let table = format!("webhooks-latency-{}", uuid::Uuid::new_v4().simple());
        backends.push((
            "DynamoDB Local + SQS emulator",
            vec![
                ("WEBHOOKS_BACKEND", "aws".into()),
                ("TABLE_NAME", table),
                ("DELIVERY_QUEUE_URL", String::new()),
                ("AWS_ENDPOINT_URL_DYNAMODB", dynamodb),
                ("AWS_ENDPOINT_URL_SQS", sqs),
            ],
        ));
    } else {
        println!("  DynamoDB Local + SQS emulator skipped: run through `make bench`, which starts them");
    }
    for (name, mut env) in backends {
        env.extend([
            ("WEBHOOKS_ALLOW_PRIVATE_URLS", "true".to_string()),
            ("WEBHOOKS_API_RATE", crate::UNTHROTTLED.into()),
            ("WEBHOOKS_PUBLISH_RATE", crate::UNTHROTTLED.into()),
        ]);
        let mut runner = Runner::start(&env).await?;
        let figures = runner.figures().await;
        runner.process.kill()?;
        runner.process.wait()?;
        let (quiet, saturated, rate, half) = figures?;
        println!("  {name}:");
        println!("    quiet, one every {} ms:        {quiet}", QUIET_EVERY.as_millis());
        println!("    saturation ({rate:.0} deliveries/s):  {saturated}");
        println!("    half saturation ({:.0}/s):       {half}", rate / 2.0);
    }
    Ok(())
}

impl Runner {
    async fn start(env: &[(&str, String)]) -> Result<Self, Box<dyn std::error::Error>> {
        let arrivals = Arrivals::default();
        let receiver = start_receiver(arrivals.clone()).await?;
        let (process, base, token) = crate::workloads::start_runner(env, std::process::Stdio::inherit())?;
        let runner = Self { process, base, token, client: reqwest::Client::new(), arrivals };
        let url = format!("{}/api/managing-entity/{ENTITY}/webhook", runner.base);
        let body = json!({"name": "Latency", "eventUrl": receiver});
        runner.client.post(url).bearer_auth(&runner.token).json(&body).send().await?.error_for_status()?;
        Ok(runner)
    }

    /// Quiet, saturated and half-saturated latencies, and the saturation rate.
    async fn figures(&self) -> Result<(Latency, Latency, f64, Latency), Box<dyn std::error::Error>> {
        let quiet = self.paced(quiet_events(), QUIET_EVERY).await?;
        let started = Instant::now();
        let sent = futures::stream::iter((0..saturation_events()).map(|_| self.publish()))
            .buffer_unordered(CONCURRENCY)
            .collect::<Vec<_>>()
            .await
            .into_iter()
            .collect::<Result<Vec<_>, _>>()?;
        let saturated = self.latency(sent).await?;
        let rate = saturation_events() as f64 / (saturated.last - started).as_secs_f64();
        let every = Duration::from_secs_f64(2.0 / rate);
        let half = self.paced((paced_for().as_secs_f64() / every.as_secs_f64()).max(1.0) as usize, every).await?;
        Ok((quiet, saturated, rate, half))
    }

    /// `count` events, one every `every` (each publish sent on its tick, not after the last).
    async fn paced(&self, count: usize, every: Duration) -> Result<Latency, Box<dyn std::error::Error>> {
        let mut ticks = tokio::time::interval(every);
        let mut publishes = Vec::new();
        for _ in 0..count {
            ticks.tick().await;
            publishes.push(tokio::spawn({
                let publish = self.publish();
                async move { publish.await.map_err(|e| e.to_string()) }
            }));
        }
        let mut sent = Vec::new();
        for publish in publishes {
            sent.push(publish.await??);
        }
        self.latency(sent).await
    }

    /// Publishes one event; answers its id and when it was sent.
    fn publish(&self) -> impl Future<Output = Result<(String, Instant), reqwest::Error>> + Send + 'static {
        let id = uuid::Uuid::now_v7().to_string();
        let body = json!({"id": id, "type": "booking.created", "data": {"reference": "WNK-7Q2X9"}});
        let request =
            self.client.post(format!("{}/api/managing-entity/{ENTITY}/event", self.base)).bearer_auth(&self.token);
        async move {
            let at = Instant::now();
            request.json(&body).send().await?.error_for_status()?;
            Ok((id, at))
        }
    }

    /// Waits for every event of `sent` to arrive; answers their publish-to-arrival figures.
    async fn latency(&self, sent: Vec<(String, Instant)>) -> Result<Latency, Box<dyn std::error::Error>> {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let arrived = {
                let arrivals = self.arrivals.lock().map_err(|_| "lock")?;
                sent.iter()
                    .map(|(id, at)| arrivals.get(id).map(|arrived| (*arrived - *at, *arrived)))
                    .collect::<Option<Vec<_>>>()
            };
            if let Some(arrived) = arrived {
                return Ok(Latency::of(arrived));
            }
            if Instant::now() > deadline {
                return Err("not every event arrived within 120 s".into());
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

struct Latency {
    p50: Duration,
    p95: Duration,
    last: Instant,
}

impl Latency {
    fn of(arrived: Vec<(Duration, Instant)>) -> Self {
        let mut took: Vec<Duration> = arrived.iter().map(|(took, _)| *took).collect();
        took.sort_unstable();
        let at = |share: f64| took[((took.len() - 1) as f64 * share).round() as usize];
        let last = arrived.iter().map(|(_, at)| *at).max().unwrap_or_else(Instant::now);
        Self { p50: at(0.5), p95: at(0.95), last }
    }
}

impl std::fmt::Display for Latency {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let ms = |d: Duration| d.as_secs_f64() * 1e3;
        write!(f, "publish-to-arrival p50 {:>6.1} ms, p95 {:>6.1} ms", ms(self.p50), ms(self.p95))
    }
}

async fn start_receiver(arrivals: Arrivals) -> std::io::Result<String> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}/hooks", listener.local_addr()?);
    let app = axum::Router::new().fallback(move |headers: http::HeaderMap| {
        let at = Instant::now();
        if let Some(id) = headers.get("webhook-id").and_then(|v| v.to_str().ok())
            && let Ok(mut arrivals) = arrivals.lock()
        {
            arrivals.entry(id.to_string()).or_insert(at);
        }
        async { "ok" }
    });
    tokio::spawn(async move { axum::serve(listener, app).await });
    Ok(url)
}
