//! `make bench` section 5: the delivery engine where many tenants live (issue 24). The runner
//! in this process, on its memory backend and on DynamoDB Local + the SQS emulator, side by side:
//!
//! - width: one event to an entity of 1,000, 4,000 and 10,000 webhooks: how long the publish
//!   took to answer, and how long until the last delivery arrived (every webhook's, once);
//! - fair share: tenant X's 60 events to 8 receivers that take 1.5 s each (480 deliveries), and
//!   a second later tenant Y's one event: how long Y's waited, and how much of X's backlog went
//!   before it. On memory only: the emulator does not serve a standard queue's message groups
//!   fairly as SQS fair queues do; the memory queue does;
//! - in flight: 100 deliveries failing, each waiting an hour for its retry: the queue's
//!   messages by state (in flight is SQS's `ApproximateNumberOfMessagesNotVisible`), and the
//!   waits the timer holds (EventBridge Scheduler's schedules in AWS);
//! - what a failing delivery costs through the whole schedule (section 3's failing workload).

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::Path;
use futures::StreamExt;
use serde_json::{Value, json};
use shared::config::Settings;
use shared::model::UrlPolicy;
use shared::queue::QueueDepths;
use shared::rate_limit::RatePolicy;
use shared::retry::RetrySchedule;
use shared::runtime::ApiContext;
use shared::sealing::Sealer;
use webhooks_local::{App, Backend, DevAuth};

const WIDTHS: [usize; 3] = [1_000, 4_000, 10_000];
const PATIENCE: Duration = Duration::from_secs(600);
const SLOW_RECEIVER: Duration = Duration::from_millis(1500);
const BACKLOG_EVENTS: usize = 60;
const SLOW_WEBHOOKS: usize = 8;
const WAITING: usize = 100;
/// Webhooks created at once.
const CREATES: usize = 32;

/// What one backend measured.
#[derive(Default)]
struct Figures {
    /// Per width: the publish's answer, and the last arrival, after the publish was sent.
    width: Vec<(Duration, Duration)>,
    /// Y's wait, and how many of X's deliveries arrived before Y's.
    fair_share: Option<(Duration, usize)>,
    in_flight: Option<(QueueDepths, usize)>,
}

pub async fn measure(failing_cost: Option<f64>) -> Result<(), Box<dyn std::error::Error>> {
    let arrivals = Arrivals::default();
    let receiver = start_receiver(arrivals.clone()).await?;
    let mut backends = vec![("memory", Backend::Memory)];
    if std::env::var("AWS_ENDPOINT_URL_DYNAMODB").is_ok() && std::env::var("AWS_ENDPOINT_URL_SQS").is_ok() {
        backends.push(("DynamoDB Local + SQS emulator", new_aws_backend()));
    } else {
        println!("  (DynamoDB Local + SQS emulator skipped: run through `make bench`, which starts them)");
    }
    let mut measured = Vec::new();
    for (name, backend) in &backends {
        let mut figures = Figures::default();
        let runner = Runner::start(backend, "5s").await?;
        for width in WIDTHS {
            figures.width.push(runner.fan_out(&receiver, &arrivals, width).await?);
        }
        if matches!(backend, Backend::Memory) {
            figures.fair_share = Some(runner.fair_share(&receiver, &arrivals).await?);
        }
        // On a table and queue of its own: the runner above still reads its queue.
        let waiting = Runner::start(&apart(backend), "1h").await?;
        figures.in_flight = Some(waiting.waiting(&receiver, &arrivals).await?);
        measured.push((*name, figures));
    }
    print(&measured, failing_cost);
    Ok(())
}

/// DynamoDB Local + the SQS emulator, on a new table and queues.
fn new_aws_backend() -> Backend {
    let name = format!("webhooks-scale-{}", uuid::Uuid::new_v4().simple());
    let sealer = Arc::new(Sealer::with_new_local_key().expect("a sealer"));
    Backend::Aws { table: name.clone(), queue_url: None, fifo_queue_url: None, queue_name: name, sealer }
}

/// A backend of the same kind as `backend`, whose queues no other runner reads.
fn apart(backend: &Backend) -> Backend {
    match backend {
        Backend::Memory => Backend::Memory,
        Backend::Aws { .. } => new_aws_backend(),
    }
}

fn print(measured: &[(&str, Figures)], failing_cost: Option<f64>) {
    let header: Vec<String> = measured.iter().map(|(name, _)| format!("{name:>32}")).collect();
    println!("  {:<58}{}", "", header.join(""));
    let row = |label: &str, cell: &dyn Fn(&Figures) -> String| {
        let cells: Vec<String> = measured.iter().map(|(_, f)| format!("{:>32}", cell(f))).collect();
        println!("  {label:<58}{}", cells.join(""));
    };
    for (n, width) in WIDTHS.iter().enumerate() {
        let label = format!("one event to {width} webhooks: publish answered, last arrived");
        row(&label, &|f| {
            f.width.get(n).map_or("-".into(), |(answer, last)| format!("{answer:.2?}, {:.1} s", last.as_secs_f64()))
        });
    }
    let label = format!("fair share: Y's 1 event behind X's {} to 1.5 s receivers", BACKLOG_EVENTS * SLOW_WEBHOOKS);
    row(&label, &|f| {
        f.fair_share.map_or("- (no fair queue)".into(), |(wait, before)| {
            format!("{:.1} s, after {before} of X's", wait.as_secs_f64())
        })
    });
    row(&format!("{WAITING} deliveries waiting 1 h: in flight, delayed, visible; timer"), &|f| {
        f.in_flight.map_or("-".into(), |(d, timer)| format!("{}, {}, {}; {timer}", d.in_flight, d.delayed, d.visible))
    });
    match failing_cost {
        Some(dollars) => println!(
            "  a delivery failing through the whole default-shaped schedule (8 attempts, section 3): ${dollars:.6} on demand, ${:.2} a million",
            dollars * 1e6
        ),
        None => println!("  a failing delivery's cost: section 3 (run it with this one: `webhooks-bench 3 5`)"),
    }
}

/// The runner in this process, with a token that may manage any entity.
struct Runner {
    app: Arc<App>,
    base: String,
    token: String,
    client: reqwest::Client,
}

impl Runner {
    async fn start(backend: &Backend, schedule: &str) -> Result<Self, Box<dyn std::error::Error>> {
        let unthrottled = RatePolicy::parse(crate::UNTHROTTLED)?;
        let settings = Settings {
            url_policy: UrlPolicy { allow_private: true },
            api_rate: unthrottled,
            publish_rate: unthrottled,
            schedule: RetrySchedule::parse(schedule)?,
            ..Settings::default()
        };
        let auth = DevAuth::new("bench-secret", "webhooks-local", "webhooks-api");
        let token = auth.issue("bench", "*", "events:publish", chrono::Duration::hours(2))?;
        let app = Arc::new(App::new(ApiContext::new(settings), backend, auth).await?);
        let base = format!("http://{}", webhooks_local::spawn(app.clone()).await?);
        Ok(Self { app, base, token, client: reqwest::Client::new() })
    }

    async fn create(&self, entity: &str, count: usize, url: &str) -> Result<(), Box<dyn std::error::Error>> {
        let path = format!("{}/api/managing-entity/{entity}/webhook", self.base);
        let creates = futures::stream::iter(0..count).map(|n| {
            let body = json!({"name": format!("scale {n}"), "eventUrl": url});
            let request = self.client.post(&path).bearer_auth(&self.token).json(&body);
            async move { request.send().await?.error_for_status() }
        });
        let answers: Vec<_> = creates.buffer_unordered(CREATES).collect().await;
        answers.into_iter().collect::<Result<Vec<_>, _>>()?;
        Ok(())
    }

    async fn publish(&self, entity: &str) -> Result<Value, Box<dyn std::error::Error>> {
        let path = format!("{}/api/managing-entity/{entity}/event", self.base);
        let event = json!({"type": "booking.created", "data": {}});
        let answer = self.client.post(path).bearer_auth(&self.token).json(&event).send().await?;
        Ok(answer.error_for_status()?.json().await?)
    }

    /// One event to `width` webhooks of a new entity: the publish's answer and last arrival.
    async fn fan_out(
        &self,
        receiver: &str,
        arrivals: &Arrivals,
        width: usize,
    ) -> Result<(Duration, Duration), Box<dyn std::error::Error>> {
        let entity = uuid::Uuid::new_v4().to_string();
        self.create(&entity, width, &format!("{receiver}/{entity}/ok")).await?;
        let sent = Instant::now();
        let answer = self.publish(&entity).await?;
        let answered = sent.elapsed();
        if answer["deliveries"] != width {
            return Err(format!("the publish to {width} webhooks planned {}", answer["deliveries"]).into());
        }
        let arrived = arrivals.wait_for(&entity, width).await;
        let webhooks: HashSet<&str> = arrived.iter().filter_map(|(_, body)| body["webhookId"].as_str()).collect();
        if (arrived.len(), webhooks.len()) != (width, width) {
            return Err(format!("{} of {width} arrived, to {} webhooks", arrived.len(), webhooks.len()).into());
        }
        let last = arrived.iter().map(|(at, _)| *at).max().unwrap_or(sent);
        Ok((answered, last - sent))
    }

    /// Tenant X's backlog to slow receivers, then tenant Y's one event: Y's wait, and how many
    /// of X's arrived before it.
    async fn fair_share(
        &self,
        receiver: &str,
        arrivals: &Arrivals,
    ) -> Result<(Duration, usize), Box<dyn std::error::Error>> {
        let (x, y) = (uuid::Uuid::new_v4().to_string(), uuid::Uuid::new_v4().to_string());
        self.create(&x, SLOW_WEBHOOKS, &format!("{receiver}/{x}/slow")).await?;
        self.create(&y, 1, &format!("{receiver}/{y}/ok")).await?;
        for _ in 0..BACKLOG_EVENTS {
            self.publish(&x).await?;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
        let sent = Instant::now();
        self.publish(&y).await?;
        arrivals.wait_for(&y, 1).await;
        let (waited, before) = (sent.elapsed(), arrivals.count(&x));
        arrivals.wait_for(&x, BACKLOG_EVENTS * SLOW_WEBHOOKS).await;
        Ok((waited, before))
    }

    /// `WAITING` deliveries whose first attempt failed, each waiting an hour for its next: the
    /// queue's messages by state, and the waits the timer holds.
    async fn waiting(
        &self,
        receiver: &str,
        arrivals: &Arrivals,
    ) -> Result<(QueueDepths, usize), Box<dyn std::error::Error>> {
        let entity = uuid::Uuid::new_v4().to_string();
        self.create(&entity, WAITING / 10, &format!("{receiver}/{entity}/failing")).await?;
        for _ in 0..10 {
            self.publish(&entity).await?;
        }
        arrivals.wait_for(&entity, WAITING).await;
        // Until each failed attempt is recorded and its wait handed to the timer.
        let started = Instant::now();
        loop {
            let (depths, timer) = self.app.queue_depths().await?;
            if timer >= WAITING || started.elapsed() > Duration::from_secs(60) {
                return Ok((depths, timer));
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

/// A request the receiver got: when, and its body.
type Arrival = (Instant, Value);

/// What reached the receiver, by entity.
#[derive(Clone, Default)]
struct Arrivals(Arc<Mutex<HashMap<String, Vec<Arrival>>>>);

impl Arrivals {
    fn add(&self, entity: String, body: Value) {
        let mut arrived = self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        arrived.entry(entity).or_default().push((Instant::now(), body));
    }

    fn of(&self, entity: &str) -> Vec<Arrival> {
        let arrived = self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        arrived.get(entity).cloned().unwrap_or_default()
    }

    fn count(&self, entity: &str) -> usize {
        self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner).get(entity).map_or(0, Vec::len)
    }

    /// The entity's arrivals once there are `n` (or `PATIENCE` passed).
    async fn wait_for(&self, entity: &str, n: usize) -> Vec<Arrival> {
        let started = Instant::now();
        while self.count(entity) < n && started.elapsed() < PATIENCE {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        self.of(entity)
    }
}

/// A receiver at `/{entity}/{answer}`: `ok` answers 200, `slow` 200 after 1.5 s, `failing` 503.
async fn start_receiver(arrivals: Arrivals) -> std::io::Result<String> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}", listener.local_addr()?);
    let app = axum::Router::new().route(
        "/{entity}/{answer}",
        axum::routing::post(move |Path((entity, answer)): Path<(String, String)>, body: axum::body::Bytes| {
            let arrivals = arrivals.clone();
            async move {
                if answer == "slow" {
                    tokio::time::sleep(SLOW_RECEIVER).await;
                }
                arrivals.add(entity, serde_json::from_slice(&body).unwrap_or(Value::Null));
                if answer == "failing" { http::StatusCode::SERVICE_UNAVAILABLE } else { http::StatusCode::OK }
            }
        }),
    );
    tokio::spawn(async move { axum::serve(listener, app).await });
    Ok(url)
}
