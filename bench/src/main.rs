//! `make bench` (optimised builds: the functions for size, the runner and the bench for speed):
//! figures, each printed with its method. `webhooks-bench 3 4`
//! runs only the sections named; `WEBHOOKS_SMOKE=1` makes it a smoke run (`smoke`).
//!
//! 1. Delivery throughput: the deliver function's core (`Deliverer::deliver_batch`: read the
//!    webhook, build and sign the body, POST, record the attempt in the in-memory store) against
//!    a loopback receiver, beside a bare client of the same HTTP library POSTing the same
//!    bytes to the same receiver, both ten requests at a time; with one webhook and with 1,000.
//!    After a warm-up, 21 short rounds, each timing the three in a turning order; the ratios
//!    are taken within a round (rounds on this shared machine vary by a fifth) and their median
//!    and middle half printed. Then the handler's own work alone, its sender answering at once.
//! 2. Handler overhead: create, get and list called in process on the in-memory store, with
//!    requests already parsed from API Gateway events, as p50/p99 in microseconds.
//! 3. Cost per million deliveries, healthy (5 webhooks an event, 1, and 5 published through the
//!    batch route or the ingest queue) and failing (`workloads`): the
//!    optimised runner as a process on DynamoDB Local and the SQS emulator, every request and
//!    the capacity DynamoDB reports for it recorded on the way (`wire`), priced on demand and
//!    provisioned (`cost`); capacity per attempt number; the runner's peak resident memory.
//! 4. Start-up and memory of each function's own binary on a local Lambda Runtime API
//!    (`functions`, `runtime_api`).
//! 5. The delivery engine at scale, on the runner's memory backend and on DynamoDB Local + the
//!    SQS emulator side by side (`scale`): publish and last arrival at 1,000 to 10,000
//!    webhooks, the fair-share wait, messages in flight while deliveries wait, and (from 3) what
//!    a failing delivery costs through the whole schedule.
//! 6. Publish-to-arrival (`latency`): the optimised runner as a process on each backend, one
//!    webhook, quiet, at saturation and at half the saturation rate.

/// The runner's allocator (runner/src/main.rs), for the code of the runner's that runs in
/// process here.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use aws_lambda_events::event::sqs::SqsEvent;
use serde_json::{Value, json};
use shared::api::Function;
use shared::config::Settings;
use shared::delivery::{Answer, Deliverer, EventFor, HttpSender, Outgoing, WebhookSender, signed_request};
use shared::deps::Deps;
use shared::model::{
    CarriedEvent, Catalog, DeliveryMessage, EntityId, Event, EventData, Owner, QueueMessage, Timestamp, UrlPolicy,
    WebhookId, WebhookIn, WebhookRecord, WebhookRules, WebhookSecret,
};
use shared::queue::{DeliveryEnqueue, MemoryQueue, Routed, Timer, VisibilityDelay};
use shared::runtime::ApiContext;
use shared::store::{MemoryStore, WebhookInsert};
use webhooks_local::gateway;

const BATCH: usize = 10;
const ENTITY: &str = "d5b8a3c2-9e6f-4a1b-8d34-7c2e1f0a5b69";
/// The rate limits the measured processes run with: the counters are written and counted as
/// always, but a benchmark's one caller is not held to a person's pace.
const UNTHROTTLED: &str = "1000/s,100000";

mod cost;
mod fan_out;
mod functions;
mod latency;
mod runtime_api;
mod scale;
mod smoke;
mod wire;
mod workloads;

/// Rounds of section 1. Each round times the bare client and both handlers one after another,
/// in an order that turns each round, so that the drift of a shared machine (whole rounds 20%
/// apart here) falls on all three alike; ratios are taken within a round.
const ROUNDS: usize = 21;

/// Deliveries of each timing in section 1.
fn deliveries() -> usize {
    smoke::sized(10_000, 200)
}

/// Calls of each handler in section 2.
fn handler_calls() -> usize {
    smoke::sized(10_000, 100)
}

/// Never called: every benchmark delivery succeeds, so none waits.
struct NoDelay;

#[async_trait]
impl VisibilityDelay for NoDelay {
    async fn delay_message(&self, _: &str, _: Duration) -> Result<(), shared::queue::QueueError> {
        Ok(())
    }
}

#[async_trait]
impl DeliveryEnqueue for NoDelay {
    async fn enqueue(&self, _: &[QueueMessage], _: Duration) -> Result<(), shared::queue::QueueError> {
        Ok(())
    }
}

#[async_trait]
impl Timer for NoDelay {
    async fn send_at(&self, _: &DeliveryMessage, _: Timestamp) -> Result<(), shared::queue::QueueError> {
        Ok(())
    }
}

/// Answers every delivery at once, without a request: what is left is the handler's own work.
struct AtOnce;

#[async_trait]
impl WebhookSender for AtOnce {
    async fn send(&self, _: Outgoing) -> Result<Answer, String> {
        Ok(Answer { status: 200, retry_after: None, body: String::new() })
    }
}

async fn start_receiver() -> Result<String, std::io::Error> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}/hooks", listener.local_addr()?);
    let app = axum::Router::new().fallback(|| async { "ok" });
    tokio::spawn(async move { axum::serve(listener, app).await });
    Ok(url)
}

fn webhook(owner: EntityId, url: &str) -> Result<WebhookRecord, Box<dyn std::error::Error>> {
    let body = json!({"name": "Bench", "eventUrl": url, "headers": {"X-Api-Key": "abc"}});
    let owner = Owner::Entity(owner);
    let rules = WebhookRules { owner, policy: UrlPolicy { allow_private: true }, catalog: Catalog::defaults() };
    let input = WebhookIn::parse(body.as_object().ok_or("object")?, &rules, None)?;
    Ok(WebhookRecord::create(
        input,
        WebhookId(uuid::Uuid::now_v7()),
        owner,
        "bench",
        Some("bench"),
        Timestamp::new(chrono::Utc::now()),
        WebhookSecret::from_key(&[5; 32]),
    ))
}

fn event() -> Result<Event, serde_json::Error> {
    Ok(Event {
        id: uuid::Uuid::now_v7().to_string(),
        event_type: "booking.created".into(),
        occurred_at: Timestamp::new(chrono::Utc::now()),
        data: EventData::of(
            &json!({"bookingId": "b7c1e2d4-5f60-4a7b-9c8d-1e2f3a4b5c6d", "reference": "WNK-7Q2X9", "total": {"amount": "742.50", "currency": "USD"}}),
        )?,
    })
}

/// The SQS event Lambda's event source mapping would hand the deliver function for `messages`.
fn sqs_event_json(messages: &[DeliveryMessage]) -> Result<Value, serde_json::Error> {
    let records: Vec<Value> = messages
        .iter()
        .map(|m| {
            Ok(json!({
                "messageId": m.delivery_id.to_string(),
                "receiptHandle": m.delivery_id.to_string(),
                "body": serde_json::to_string(m)?,
                "attributes": {"ApproximateReceiveCount": "1"},
                "messageAttributes": {},
                "eventSource": "aws:sqs",
                "awsRegion": "us-east-1",
            }))
        })
        .collect::<Result<_, serde_json::Error>>()?;
    Ok(json!({ "Records": records }))
}

/// `count` deliveries of one new event to `hooks` in turn (their records start with their
/// first attempt).
fn planned_deliveries(
    owner: EntityId,
    hooks: &[WebhookId],
    count: usize,
) -> Result<Vec<DeliveryMessage>, serde_json::Error> {
    let event = event()?;
    Ok((0..count)
        .map(|i| {
            let event = CarriedEvent::Whole(event.clone());
            DeliveryMessage::first(uuid::Uuid::now_v7(), hooks[i % hooks.len()], owner, event)
        })
        .collect())
}

/// Deliveries per second through the deliver function's core, over `webhooks` webhooks, sent
/// by `sender` (the production one when none).
async fn handler_throughput(
    url: &str,
    webhooks: usize,
    sender: Option<&dyn WebhookSender>,
) -> Result<f64, Box<dyn std::error::Error>> {
    let owner = EntityId::parse(ENTITY)?;
    let store = MemoryStore::new();
    let mut hooks = Vec::new();
    for _ in 0..webhooks {
        let hook = webhook(owner, url)?;
        store.insert_webhook(&hook).await?;
        hooks.push(hook.info.id);
    }
    let messages = planned_deliveries(owner, &hooks, deliveries())?;
    let batches = messages
        .chunks(BATCH)
        .map(|batch| serde_json::from_value::<SqsEvent>(sqs_event_json(batch)?))
        .collect::<Result<Vec<_>, serde_json::Error>>()?;
    let http;
    let sender = match sender {
        Some(sender) => sender,
        None => {
            http = HttpSender::new(Duration::from_secs(15), UrlPolicy { allow_private: true })?;
            &http
        }
    };
    let settings = Settings::default();
    let queues = Routed { unordered: &NoDelay, fifo: &NoDelay };
    let deliverer = Deliverer::new(&store, queues, &NoDelay, sender, &settings);
    let started = Instant::now();
    for batch in batches {
        let response = deliverer.deliver_batch(batch).await;
        if !response.batch_item_failures.is_empty() {
            return Err("a benchmark delivery failed".into());
        }
    }
    Ok(deliveries() as f64 / started.elapsed().as_secs_f64())
}

/// Deliveries per second of a bare client of the same library POSTing the same bytes.
async fn bare_throughput(url: &str) -> Result<f64, Box<dyn std::error::Error>> {
    let owner = EntityId::parse(ENTITY)?;
    let event = event()?;
    let published = EventFor { event: &event, entity: Some(owner), test: false };
    let request = signed_request(&webhook(owner, url)?, published, chrono::Utc::now().timestamp(), None)?;
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(15))
        .build()?;
    let started = Instant::now();
    for _ in 0..deliveries() / BATCH {
        let posts = (0..BATCH).map(|_| {
            let mut builder = client.post(request.url.clone()).header("content-type", "application/json");
            for (name, value) in &request.headers {
                builder = builder.header(name, value);
            }
            let post = builder.body(request.body.clone()).send();
            async move { post.await?.bytes().await }
        });
        for result in futures::future::join_all(posts).await {
            result?;
        }
    }
    Ok(deliveries() as f64 / started.elapsed().as_secs_f64())
}

fn report(name: &str, mut samples: Vec<Duration>) {
    samples.sort();
    let at = |p: f64| samples[((samples.len() - 1) as f64 * p) as usize].as_secs_f64() * 1e6;
    println!("  {name:>6}: p50 {:>7.1} µs, p99 {:>7.1} µs ({} calls)", at(0.5), at(0.99), samples.len());
}

async fn handler_overhead() -> Result<(), Box<dyn std::error::Error>> {
    let queue = || Arc::new(MemoryQueue::new(Duration::from_secs(60)));
    let (ctx, store) = (ApiContext::new(Settings::default()), Arc::new(MemoryStore::new()));
    let deps = Deps::new(ctx, store, (queue(), queue()));
    let path = format!("/api/managing-entity/{ENTITY}/webhook");
    let body = json!({"name": "Bench", "eventUrl": "https://api.example.com/hooks", "eventList": ["booking.*"]});
    let (mut create, mut get, mut list) = (Vec::new(), Vec::new(), Vec::new());
    let mut ids = Vec::new();
    for _ in 0..handler_calls() {
        let request = gateway::request(&functions::api_event("POST", &path, Some(&body))?)?;
        let started = Instant::now();
        let response = Function::CreateWebhook.handle(&deps, request).await?;
        create.push(started.elapsed());
        let created: Value = serde_json::from_slice(response.body().as_ref())?;
        ids.push(created["id"].as_str().unwrap_or_default().to_string());
    }
    for id in &ids {
        let request = gateway::request(&functions::api_event("GET", &format!("{path}/{id}"), None)?)?;
        let started = Instant::now();
        Function::GetWebhook.handle(&deps, request).await?;
        get.push(started.elapsed());
    }
    for _ in 0..handler_calls() / 10 {
        let request = gateway::request(&functions::api_event("GET", &path, None)?)?;
        let started = Instant::now();
        Function::ListWebhooks.handle(&deps, request).await?;
        list.push(started.elapsed());
    }
    report("create", create);
    report("get", get);
    report("list", list);
    Ok(())
}

/// Runs every section, or only those named on the command line (`webhooks-bench 4`).
#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let chosen: Vec<String> = std::env::args().skip(1).collect();
    let runs = |section: &str| chosen.is_empty() || chosen.iter().any(|c| c == section);
    let url = start_receiver().await?;
    let mut failing_cost = None;
    if runs("1") {
        println!(
            "1. Delivery throughput: {} deliveries to a loopback receiver, {BATCH} at a time in each of {ROUNDS} interleaved rounds",
            deliveries()
        );
        delivery_throughput(&url).await?;
    }
    if runs("2") {
        println!(
            "\n2. Handler overhead in process, in-memory store (a list returns 20 of {} webhooks)",
            handler_calls()
        );
        handler_overhead().await?;
    }
    if runs("3") {
        println!(
            "\n3. Cost per million deliveries: the optimised runner process on DynamoDB Local + SQS emulator, every request and its capacity recorded"
        );
        for healthy in
            [&workloads::HEALTHY, &workloads::HEALTHY_ONE, &workloads::HEALTHY_BATCHED, &workloads::HEALTHY_INGESTED]
        {
            workloads::measure(healthy).await?;
        }
        // Minutes of retry schedule, whatever the size: not in a smoke run.
        if !smoke::smoke() {
            failing_cost = workloads::measure(&workloads::FAILING).await?;
            workloads::measure(&workloads::FAILING_ONE).await?;
        }
        fan_out::publish_requests().await?;
    }
    if runs("4") {
        println!(
            "\n4. Each function as Lambda runs it: its release binary (this machine's x86_64 build) on a local Lambda Runtime API, DynamoDB Local and the SQS emulator"
        );
        functions::start_up_and_memory(&url).await?;
    }
    if runs("5") {
        println!("\n5. The delivery engine at scale: the runner in this process, on each backend");
        scale::measure(failing_cost).await?;
    }
    if runs("6") {
        println!("\n6. Publish-to-arrival: the optimised runner process on each backend, one webhook");
        latency::measure().await?;
    }
    Ok(())
}

async fn delivery_throughput(url: &str) -> Result<(), Box<dyn std::error::Error>> {
    bare_throughput(url).await?;
    handler_throughput(url, 1, None).await?;
    let (mut bare, mut one, mut many) = (Vec::new(), Vec::new(), Vec::new());
    for round in 0..ROUNDS {
        let mut timed = [0.0; 3];
        for turn in 0..3 {
            let which = (round + turn) % 3;
            timed[which] = match which {
                0 => bare_throughput(url).await?,
                1 => handler_throughput(url, 1, None).await?,
                _ => handler_throughput(url, 1000, None).await?,
            };
        }
        bare.push(timed[0]);
        one.push(timed[1] / timed[0]);
        many.push(timed[2] / timed[0]);
    }
    println!("  bare reqwest POST of the same bytes: {:>8.0} deliveries/s (median round)", quartiles(bare).1);
    for (name, ratios) in [("1 webhook:     ", one), ("1,000 webhooks:", many)] {
        let (low, median, high) = quartiles(ratios);
        println!(
            "  deliver handler, {name}    ratio {median:.2} (median of rounds; middle half {low:.2} to {high:.2})"
        );
    }
    // The handler's own work alone, in microseconds of one core a delivery: what the ratio
    // weighs against the client's and the receiver's.
    let mut own = Vec::new();
    for _ in 0..ROUNDS {
        own.push(1e6 / handler_throughput(url, 1, Some(&AtOnce)).await?);
    }
    let (low, median, high) = quartiles(own);
    println!(
        "  deliver handler's own work (answered at once, no request): {median:.1} µs a delivery (middle half {low:.1} to {high:.1})"
    );
    Ok(())
}

/// The lower quartile, median and upper quartile of `samples`.
fn quartiles(mut samples: Vec<f64>) -> (f64, f64, f64) {
    samples.sort_by(f64::total_cmp);
    let at = |q: usize| samples[(samples.len() - 1) * q / 4];
    (at(1), at(2), at(3))
}

fn peak_rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}
