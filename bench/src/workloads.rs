//! `make bench` section 3: what a million deliveries cost, on six workloads. The optimised
//! runner runs as a process on DynamoDB Local and the SQS emulator, reached through proxies
//! that record every request and the capacity DynamoDB says it used (`wire`); an entity's
//! webhooks all match every event.
//!
//! - healthy: every receiver answers 200; 5 webhooks an event, 1, and 5 with the events
//!   published through the batch route or sent to the ingest queue;
//! - failing: every attempt is answered 500 with a 4 KiB body, at 5 webhooks an event and at
//!   1, through the whole schedule, shaped as the default one: seven waits, the first two short enough for an SQS delay and
//!   five past the timer's threshold (in seconds here: the runner's timer stands in for
//!   EventBridge Scheduler, whose invocations are priced, and every SQS request on the way is
//!   counted), so that what the last attempt costs can be set beside the first.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::json;

use crate::wire::{Call, Calls, recording_proxy};
use crate::{ENTITY, cost, peak_rss_kib};

/// Events a request of the batch route carries.
const BATCH_EVENTS: usize = 100;
/// Events a `SendMessageBatch` to the ingest queue carries: SQS's most.
const INGEST_EVENTS: usize = 10;

/// How a workload's events are published.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Publish {
    /// `POST .../event`, one a request.
    Route,
    /// `POST .../events`, `BATCH_EVENTS` a request.
    Batch,
    /// Sent to the ingest queue, `INGEST_EVENTS` a `SendMessageBatch`.
    Ingest,
}
/// The default schedule `5s,5m,30m,2h,5h,10h,10h` in seconds: waits longer than `TIMER_AFTER`
/// go through the timer, as the default's last five do past SQS's 15 minutes.
const FAILING_SCHEDULE: &str = "1s,1s,20s,20s,20s,20s,20s";
const TIMER_AFTER: &str = "10s";
const TIMER_WAITS: usize = 5;
const ATTEMPTS: usize = 8;

pub struct Workload {
    pub name: &'static str,
    events: usize,
    /// Webhooks of the entity, each matching every event.
    webhooks: usize,
    publish: Publish,
    status: u16,
    body_bytes: usize,
    attempts: usize,
    /// Waits of a delivery that go through the timer.
    timer_waits: usize,
}

impl Workload {
    /// Events published: a tenth in a smoke run.
    fn events(&self) -> usize {
        crate::smoke::sized(self.events, self.events / 10)
    }
}

pub const HEALTHY: Workload = Workload {
    name: "healthy",
    events: 200,
    webhooks: 5,
    publish: Publish::Route,
    status: 200,
    body_bytes: 2,
    attempts: 1,
    timer_waits: 0,
};
pub const HEALTHY_ONE: Workload =
    Workload { name: "healthy, 1 webhook an event", events: 1000, webhooks: 1, ..HEALTHY };
pub const HEALTHY_BATCHED: Workload =
    Workload { name: "healthy, published 100 events a request", publish: Publish::Batch, ..HEALTHY };
pub const HEALTHY_INGESTED: Workload =
    Workload { name: "healthy, sent to the ingest queue 10 a message batch", publish: Publish::Ingest, ..HEALTHY };
pub const FAILING: Workload = Workload {
    name: "failing",
    events: 40,
    webhooks: 5,
    publish: Publish::Route,
    status: 500,
    body_bytes: 4096,
    attempts: ATTEMPTS,
    timer_waits: TIMER_WAITS,
};
/// As many deliveries as `FAILING`'s, one an event.
pub const FAILING_ONE: Workload = Workload { name: "failing, 1 webhook an event", events: 200, webhooks: 1, ..FAILING };

/// The optimised runner on DynamoDB Local and the SQS emulator, reached through proxies that
/// record every request: the setup of every measurement of this section.
pub struct Measured {
    pub runner: std::process::Child,
    pub base: String,
    pub token: String,
    pub calls: Calls,
    /// The SQS emulator, through the recording proxy.
    pub sqs: String,
    /// The name of the runner's queues (its ingest queue is `{queue}-ingest`).
    pub queue: String,
    /// Bytes the runner logged: JSON lines at INFO, as the functions log in Lambda.
    pub logged: Arc<AtomicUsize>,
}

/// Starts a `Measured` runner; none outside `make bench`, which starts the emulators.
pub async fn start_measured() -> Result<Option<Measured>, Box<dyn std::error::Error>> {
    let endpoint = |name: &str| std::env::var(name).map(|url| url.trim_start_matches("http://").to_string());
    let (Ok(dynamodb), Ok(sqs)) = (endpoint("AWS_ENDPOINT_URL_DYNAMODB"), endpoint("AWS_ENDPOINT_URL_SQS")) else {
        println!("  skipped: run through `make bench`, which starts DynamoDB Local and the SQS emulator");
        return Ok(None);
    };
    let calls = Calls::default();
    let dynamodb = recording_proxy(dynamodb, calls.clone()).await?;
    let sqs = recording_proxy(sqs, calls.clone()).await?;
    let run = uuid::Uuid::new_v4().simple().to_string();
    // Queues of this run's own: a runner stopped before it keeps receiving on the emulator for
    // its last long poll, and would hide a message of the next run for the visibility timeout.
    let queue = format!("webhooks-bench-{run}");
    let env = [
        ("WEBHOOKS_QUEUE_NAME", queue.clone()),
        ("WEBHOOKS_BACKEND", "aws".into()),
        ("TABLE_NAME", format!("webhooks-bench-{run}")),
        ("DELIVERY_QUEUE_URL", String::new()),
        ("AWS_ENDPOINT_URL_DYNAMODB", dynamodb),
        ("WEBHOOKS_ALLOW_PRIVATE_URLS", "true".into()),
        ("WEBHOOKS_RETRY_SCHEDULE", FAILING_SCHEDULE.into()),
        ("WEBHOOKS_TIMER_AFTER", TIMER_AFTER.into()),
        ("WEBHOOKS_API_RATE", crate::UNTHROTTLED.into()),
        ("WEBHOOKS_PUBLISH_RATE", crate::UNTHROTTLED.into()),
        ("AWS_ENDPOINT_URL_SQS", sqs.clone()),
        // The template's level, and JSON lines as Lambda's (`shared::telemetry`).
        ("RUST_LOG", "info".into()),
        ("AWS_LAMBDA_FUNCTION_NAME", "webhooks-bench".into()),
    ];
    let (mut runner, base, token) = start_runner(&env, std::process::Stdio::piped())?;
    let logged = Arc::new(AtomicUsize::new(0));
    let (mut log, counter) = (runner.stderr.take().ok_or("no stderr")?, logged.clone());
    std::thread::spawn(move || {
        let mut chunk = [0u8; 8192];
        while let Ok(read @ 1..) = std::io::Read::read(&mut log, &mut chunk) {
            counter.fetch_add(read, Ordering::SeqCst);
        }
    });
    Ok(Some(Measured { runner, base, token, calls, sqs, queue, logged }))
}

/// Runs `workload` and prints what it used and cost; answers its dollars per delivery on demand.
pub async fn measure(workload: &Workload) -> Result<Option<f64>, Box<dyn std::error::Error>> {
    let Some(Measured { mut runner, base, token, calls, sqs, queue, logged }) = start_measured().await? else {
        return Ok(None);
    };
    let received = Arc::new(AtomicUsize::new(0));
    let receiver_url = start_receiver(workload, received.clone()).await?;

    let client = reqwest::Client::new();
    for i in 0..workload.webhooks {
        let body = json!({"name": format!("cost-{i}"), "eventUrl": receiver_url});
        let url = format!("{base}/api/managing-entity/{ENTITY}/webhook");
        client.post(url).bearer_auth(&token).json(&body).send().await?.error_for_status()?;
    }
    let ingest = ingest_queue(&sqs, &format!("{queue}-ingest")).await?;
    calls.lock().map_err(|_| "lock")?.clear();
    logged.store(0, Ordering::SeqCst);
    let started = Instant::now();
    let (mut publishing, mut requests) = (Duration::ZERO, 0);
    let events: Vec<_> = (0..workload.events())
        .map(|n| json!({"id": format!("cost-{n}"), "type": "booking.created", "data": {"n": n}}))
        .collect();
    let per_request = match workload.publish {
        Publish::Route => 1,
        Publish::Batch => BATCH_EVENTS,
        Publish::Ingest => INGEST_EVENTS,
    };
    for chunk in events.chunks(per_request) {
        let sent = Instant::now();
        let route = match workload.publish {
            Publish::Route => Some(("event", chunk[0].clone())),
            Publish::Batch => Some(("events", json!({ "events": chunk }))),
            Publish::Ingest => None,
        };
        let Some((route, body)) = route else {
            // On the wire (a `SendMessageBatch`, counted as SQS), not an API request.
            ingest.send(chunk).await?;
            continue;
        };
        let url = format!("{base}/api/managing-entity/{ENTITY}/{route}");
        client.post(url).bearer_auth(&token).json(&body).send().await?.error_for_status()?;
        publishing += sent.elapsed();
        requests += 1;
    }
    let deliveries = workload.events() * workload.webhooks;
    let expected = deliveries * workload.attempts;
    while received.load(Ordering::SeqCst) < expected && started.elapsed() < Duration::from_secs(600) {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Let the last attempts be recorded and their messages deleted.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let elapsed = started.elapsed();
    let peak = peak_rss_kib(runner.id());
    runner.kill()?;
    runner.wait()?;

    let calls = calls.lock().map_err(|_| "lock")?.clone();
    let attempts = received.load(Ordering::SeqCst);
    let log_bytes = logged.load(Ordering::SeqCst);
    println!(
        "  {}: {} events to {} webhooks in {requests} requests; receivers got {attempts} of {expected} attempts in {:.1}s",
        workload.name,
        workload.events(),
        workload.webhooks,
        elapsed.as_secs_f64()
    );
    print_calls(&calls, deliveries);
    if workload.attempts > 1 {
        print_attempts(&calls);
    }
    if let Some(kib) = peak {
        println!("    runner process peak RSS: {:.1} MiB", kib as f64 / 1024.0);
    }
    println!(
        "    idle receives (found nothing; billed by the hour, not per delivery): {}",
        calls.iter().filter(|c| is_idle_receive(c)).count()
    );
    println!(
        "    logged: {log_bytes} bytes of JSON lines at INFO, {:.1} a delivery",
        log_bytes as f64 / deliveries as f64
    );
    let usage = cost::Usage {
        write_units: sum(&calls, |c| c.is_dynamodb() && is_write(c), |c| c.units),
        read_units: sum(&calls, |c| c.is_dynamodb() && !is_write(c), |c| c.units),
        sqs_requests: sum(&calls, |c| !c.is_dynamodb() && !is_idle_receive(c), Call::sqs_requests),
        api_requests: f64::from(requests),
        publish_seconds: publishing.as_secs_f64(),
        // One deliver invocation per batch: a receive of up to 10 that returned messages (the
        // receive that tops a short batch up within the batching window asks for fewer).
        deliver_invocations: sum(&calls, |c| c.received > 0 && c.asked_for == 10 && !c.is_ingest(), |_| 1.0),
        ingest_invocations: sum(&calls, |c| c.received > 0 && c.is_ingest(), |_| 1.0),
        // Not on the wire: the runner's timer is in its process. Its sends to the queue are.
        timer_sends: (deliveries * workload.timer_waits) as f64,
        log_bytes: log_bytes as f64,
    };
    Ok(Some(print_bill(&usage, deliveries)))
}

/// The optimised runner with `env` (logging warnings only unless it sets `RUST_LOG`), its log
/// going to `log`.
pub(crate) fn start_runner(
    env: &[(&str, String)],
    log: std::process::Stdio,
) -> Result<(std::process::Child, String, String), Box<dyn std::error::Error>> {
    let binary = std::env::current_exe()?.parent().ok_or("no target dir")?.join("webhooks-local");
    let mut env: Vec<(String, String)> = env.iter().map(|(k, v)| ((*k).to_string(), v.clone())).collect();
    if !env.iter().any(|(name, _)| name == "RUST_LOG") {
        env.push(("RUST_LOG".into(), "warn".into()));
    }
    Ok(webhooks_local::process::start_runner(&binary, &env, log)?)
}

/// The runner's ingest queue, as a platform backend sends to it.
struct IngestQueue {
    client: aws_sdk_sqs::Client,
    url: String,
}

/// The ingest queue `name` the runner made, reached at `endpoint`.
async fn ingest_queue(endpoint: &str, name: &str) -> Result<IngestQueue, Box<dyn std::error::Error>> {
    let config = shared::aws::sdk_config().await;
    let client =
        aws_sdk_sqs::Client::from_conf(aws_sdk_sqs::config::Builder::from(&config).endpoint_url(endpoint).build());
    let url = client.get_queue_url().queue_name(name).send().await?.queue_url.ok_or("no URL")?;
    Ok(IngestQueue { client, url })
}

impl IngestQueue {
    /// `events`, each with the entity, in one `SendMessageBatch`, grouped by the entity.
    async fn send(&self, events: &[serde_json::Value]) -> Result<(), Box<dyn std::error::Error>> {
        let entries = events
            .iter()
            .enumerate()
            .map(|(n, event)| {
                let mut body = event.clone();
                body["entityId"] = ENTITY.into();
                aws_sdk_sqs::types::SendMessageBatchRequestEntry::builder()
                    .id(n.to_string())
                    .message_body(body.to_string())
                    .message_group_id(ENTITY)
                    .build()
            })
            .collect::<Result<Vec<_>, _>>()?;
        let sent = self.client.send_message_batch().queue_url(&self.url).set_entries(Some(entries)).send().await?;
        if !sent.failed.is_empty() {
            return Err(format!("the ingest queue refused {} messages", sent.failed.len()).into());
        }
        Ok(())
    }
}

/// A receiver answering every POST as `workload` says, counting them.
async fn start_receiver(workload: &Workload, received: Arc<AtomicUsize>) -> std::io::Result<String> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}/hooks", listener.local_addr()?);
    let status = http::StatusCode::from_u16(workload.status).unwrap_or(http::StatusCode::INTERNAL_SERVER_ERROR);
    let body = "x".repeat(workload.body_bytes);
    let app = axum::Router::new().fallback(move || {
        received.fetch_add(1, Ordering::SeqCst);
        let body = body.clone();
        async move { (status, body) }
    });
    tokio::spawn(async move { axum::serve(listener, app).await });
    Ok(url)
}

/// A receive that found nothing: the trigger's idle polling of its queues, which AWS bills by
/// the hour whatever the deliveries (a few pollers' 20 s waits: about 650,000 requests, $0.26,
/// a queue a month), so it is counted apart from what a delivery costs.
fn is_idle_receive(call: &Call) -> bool {
    call.operation() == "ReceiveMessage" && call.received == 0
}

fn is_write(call: &Call) -> bool {
    is_write_operation(call.operation())
}

fn is_write_operation(operation: &str) -> bool {
    matches!(operation, "PutItem" | "UpdateItem" | "DeleteItem" | "BatchWriteItem" | "TransactWriteItems")
}

fn sum(calls: &[Call], which: impl Fn(&Call) -> bool, what: impl Fn(&Call) -> f64) -> f64 {
    calls.iter().filter(|c| which(c)).map(what).sum()
}

fn print_calls(calls: &[Call], deliveries: usize) {
    let mut by_target: BTreeMap<&str, (usize, f64)> = BTreeMap::new();
    for call in calls {
        let entry = by_target.entry(&call.target).or_default();
        entry.0 += 1;
        entry.1 += call.units;
    }
    let per = |n: f64| n / deliveries as f64;
    for (target, (count, units)) in &by_target {
        let capacity = if target.starts_with("DynamoDB") {
            let kind = if is_write_operation(target.rsplit('.').next().unwrap_or_default()) { "WRU" } else { "RRU" };
            format!("  {:>7.3} {kind} per delivery", per(*units))
        } else {
            String::new()
        };
        println!("    {target:<36} {count:>6} = {:.3} per delivery{capacity}", per(*count as f64));
    }
}

/// Capacity per attempt number: its step's write and the read of the step before it; the
/// webhook's read (one per attempt, not attributable by key) is shared out evenly.
fn print_attempts(calls: &[Call]) {
    let webhook_reads: Vec<&Call> = calls.iter().filter(|c| c.operation() == "GetItem").collect();
    let written: Vec<&Call> = calls.iter().filter(|c| c.operation() == "PutItem" && c.attempt.is_some()).collect();
    let webhook_share = webhook_reads.iter().map(|c| c.units).sum::<f64>() / written.len().max(1) as f64;
    let mut by_attempt: BTreeMap<u32, (usize, f64, f64)> = BTreeMap::new();
    for call in calls {
        let Some(attempt) = call.attempt else { continue };
        let entry = by_attempt.entry(attempt).or_default();
        if is_write(call) {
            entry.0 += 1;
            entry.1 += call.units;
        } else {
            entry.2 += call.units;
        }
    }
    println!(
        "    capacity per attempt (its step's PutItem; the Query of the step before; the webhook's GetItem shared):"
    );
    let mut first = None;
    for (attempt, (count, write, read)) in by_attempt {
        let n = count.max(1) as f64;
        let (write, read) = (write / n, read / n + webhook_share);
        let dollars = write * cost::DYNAMODB_WRITE_UNIT + read * cost::DYNAMODB_READ_UNIT;
        let (units, base) = (write + read, *first.get_or_insert((write + read, dollars)));
        println!(
            "      attempt {attempt}: {write:.2} WRU + {read:.2} RRU = {units:.2} units ({:.2}x attempt 1), ${:.3} per million ({:.2}x)",
            units / base.0,
            dollars * 1e6,
            dollars / base.1
        );
    }
}

/// Prints the bill of `usage`; answers its dollars per delivery on demand.
fn print_bill(usage: &cost::Usage, deliveries: usize) -> f64 {
    let per = |n: f64| n / deliveries as f64;
    println!(
        "    per delivery: {:.2} WRU, {:.2} RRU, {:.2} SQS requests, {:.2} publish requests, {:.2} deliver invocations, {:.2} Scheduler invocations (priced, not on the wire)",
        per(usage.write_units),
        per(usage.read_units),
        per(usage.sqs_requests),
        per(usage.api_requests),
        per(usage.deliver_invocations),
        per(usage.timer_sends)
    );
    println!(
        "    one million deliveries (deliver invocations taken as {:.0} ms):    on demand   provisioned",
        cost::DELIVER_INVOCATION_SECONDS * 1e3
    );
    let million = 1e6 / deliveries as f64;
    let lines = cost::bill(usage);
    for (name, on_demand, provisioned) in &lines {
        println!("      {name:<50} ${:>7.3}     ${:>7.3}", on_demand * million, provisioned * million);
    }
    let total = |pick: fn(&(&str, f64, f64)) -> f64| lines.iter().map(pick).sum::<f64>() * million;
    println!("      {:<50} ${:>7.2}     ${:>7.2}", "total", total(|l| l.1), total(|l| l.2));
    total(|l| l.1) / 1e6
}
