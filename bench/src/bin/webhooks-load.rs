//! `make load`: the local runner on DynamoDB Local and the SQS emulator under load, bounded in
//! count and time and on loopback only. Phase 1: 50 API clients for 30 s, mixed create,
//! update, get and list, each its own caller on its own entity; afterwards every acknowledged
//! write must be what is stored. The API's rate limits are raised as an operator would for a
//! load test (`WEBHOOKS_API_RATE`, `WEBHOOKS_PUBLISH_RATE`): their counters are still written on
//! every request, but the figures are the service's, not the limits'. Phase 2: 10,000 events
//! fanned out to 5 webhooks on a local receiver, which counts distinct `webhook-id`s per webhook; on the in-process queue and store by default,
//! because the SQS emulator (moto, one Python thread) cannot take 50,000 messages in useful
//! time; `LOAD_DELIVERY_BACKEND=aws` runs it there anyway. Prints the figures; exits 1 if
//! anything was lost.

/// The runner's allocator (runner/src/main.rs): the runner runs in this process.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use reqwest::{Client, Method, StatusCode};
use serde_json::{Value, json};
use shared::config::Settings;
use shared::model::UrlPolicy;
use shared::rate_limit::RatePolicy;
use shared::retry::RetrySchedule;
use shared::runtime::ApiContext;
use shared::sealing::Sealer;
use webhooks_local::{App, Backend, DevAuth};

const WEBHOOKS: usize = 5;
const PUBLISHERS: usize = 20;
const DELIVERY_DEADLINE: Duration = Duration::from_secs(900);
/// Above what the clients can send: raised limits, as for any load test.
const RAISED_LIMIT: RatePolicy = RatePolicy::new(10_000, 20_000);

#[path = "../smoke.rs"]
mod smoke;

/// API clients of phase 1.
fn clients() -> usize {
    smoke::sized(50, 5)
}

fn api_phase() -> Duration {
    Duration::from_secs(smoke::sized(30, 2) as u64)
}

/// Events of phase 2.
fn events() -> usize {
    smoke::sized(10_000, 200)
}

type Seen = Arc<Mutex<HashMap<String, HashSet<String>>>>;

#[derive(Default)]
struct Tally {
    latencies: HashMap<&'static str, Vec<Duration>>,
    errors: usize,
}

struct Api {
    client: Client,
    base: String,
    token: String,
}

impl Api {
    async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<(StatusCode, Value), reqwest::Error> {
        let mut request = self.client.request(method, format!("{}{path}", self.base)).bearer_auth(&self.token);
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request.send().await?;
        let status = response.status();
        let body = response.json().await.unwrap_or(Value::Null);
        Ok((status, body))
    }
}

/// One client: its own entity, its own webhooks, and the last write acknowledged for each.
async fn client_loop(api: Arc<Api>, until: Instant, seed: u64) -> (Tally, HashMap<String, (String, u64)>, String) {
    let entity = uuid::Uuid::new_v4().to_string();
    let collection = format!("/api/managing-entity/{entity}/webhook");
    let (mut tally, mut acknowledged) = (Tally::default(), HashMap::<String, (String, u64)>::new());
    let mut ids: Vec<String> = Vec::new();
    let mut n = seed;
    while Instant::now() < until {
        n = n.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        let roll = (n >> 33) % 10;
        let started = Instant::now();
        let (op, result) = if ids.is_empty() || roll < 2 {
            let name = format!("hook-{n}");
            let body = json!({"name": name, "eventUrl": "https://api.example.com/hooks", "eventList": ["booking.*"]});
            let result = api.call(Method::POST, &collection, Some(&body)).await;
            if let Ok((StatusCode::CREATED, created)) = &result {
                let id = created["id"].as_str().unwrap_or_default().to_string();
                acknowledged.insert(id.clone(), (name, 1));
                ids.push(id);
            }
            ("create", result.map(|(s, _)| s == StatusCode::CREATED))
        } else {
            let id = ids[(n as usize >> 7) % ids.len()].clone();
            let item = format!("{collection}/{id}");
            match roll {
                2 | 3 => {
                    let (name, version) = acknowledged[&id].clone();
                    let renamed = format!("{name}+");
                    let body =
                        json!({"name": renamed, "eventUrl": "https://api.example.com/hooks", "version": version});
                    let result = api.call(Method::PUT, &item, Some(&body)).await;
                    if let Ok((StatusCode::OK, _)) = &result {
                        acknowledged.insert(id, (renamed, version + 1));
                    }
                    ("update", result.map(|(s, _)| s == StatusCode::OK))
                }
                4..=7 => ("get", api.call(Method::GET, &item, None).await.map(|(s, _)| s == StatusCode::OK)),
                _ => (
                    "list",
                    api.call(Method::GET, &format!("{collection}?limit=20"), None)
                        .await
                        .map(|(s, _)| s == StatusCode::OK),
                ),
            }
        };
        tally.latencies.entry(op).or_default().push(started.elapsed());
        if !matches!(result, Ok(true)) {
            tally.errors += 1;
        }
    }
    (tally, acknowledged, entity)
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index].as_secs_f64() * 1000.0
}

async fn receive(State(seen): State<Seen>, headers: HeaderMap, body: Bytes) -> &'static str {
    let event = headers.get("webhook-id").and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
    let webhook = serde_json::from_slice::<Value>(&body).ok().and_then(|b| b["webhookId"].as_str().map(String::from));
    if let (Some(webhook), Ok(mut seen)) = (webhook, seen.lock()) {
        seen.entry(webhook).or_default().insert(event);
    }
    "ok"
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let table = format!("webhooks-load-{}", uuid::Uuid::new_v4().simple());
    let auth = DevAuth::new("load-test-secret", "webhooks-local", "webhooks-api");
    let policy = UrlPolicy { allow_private: true };
    let ctx = ApiContext::new(Settings {
        url_policy: policy,
        api_rate: RAISED_LIMIT,
        publish_rate: RAISED_LIMIT,
        schedule: RetrySchedule::parse("1s,2s,5s")?,
        timeout: Duration::from_secs(5),
        ..Settings::default()
    });
    let sealer = Arc::new(Sealer::with_new_local_key().expect("a sealer"));
    let backend =
        Backend::Aws { table: table.clone(), queue_url: None, fifo_queue_url: None, queue_name: table.clone(), sealer };
    let token = auth.issue("load", "*", "events:publish", chrono::Duration::hours(2))?;
    let app = App::new(ctx.clone(), &backend, auth.clone()).await?;
    let addr = webhooks_local::spawn(std::sync::Arc::new(app)).await?;
    let api = Arc::new(Api { client: Client::new(), base: format!("http://{addr}"), token: token.clone() });

    println!(
        "Phase 1: {} API clients for {}s on DynamoDB Local (mixed create 20%, update 20%, get 40%, list 20%)",
        clients(),
        api_phase().as_secs()
    );
    let mut callers = Vec::new();
    for i in 0..clients() {
        let token = auth.issue(&format!("load-{i}"), "*", "", chrono::Duration::hours(2))?;
        callers.push(Arc::new(Api { client: api.client.clone(), base: api.base.clone(), token }));
    }
    let until = Instant::now() + api_phase();
    let started = Instant::now();
    let clients: Vec<_> = callers
        .into_iter()
        .enumerate()
        .map(|(i, caller)| tokio::spawn(client_loop(caller, until, i as u64 * 7919 + 17)))
        .collect();
    let (mut all, mut errors, mut lost_writes, mut checked) = (HashMap::<&str, Vec<Duration>>::new(), 0, 0, 0);
    let mut results = Vec::new();
    for client in clients {
        results.push(client.await?);
    }
    let elapsed = started.elapsed();
    for (tally, acknowledged, entity) in results {
        errors += tally.errors;
        for (op, mut latencies) in tally.latencies {
            all.entry(op).or_default().append(&mut latencies);
        }
        for (id, (name, version)) in acknowledged {
            let (status, stored) =
                api.call(Method::GET, &format!("/api/managing-entity/{entity}/webhook/{id}"), None).await?;
            if status != StatusCode::OK {
                return Err(format!("checking webhook {id}: {status} {stored}").into());
            }
            checked += 1;
            if stored["name"] != json!(name) || stored["version"] != json!(version) {
                lost_writes += 1;
            }
        }
    }
    let total: usize = all.values().map(Vec::len).sum();
    println!(
        "  requests: {total} in {:.1}s = {:.0} req/s, errors: {errors}",
        elapsed.as_secs_f64(),
        total as f64 / elapsed.as_secs_f64()
    );
    let mut everything = Vec::new();
    for op in ["create", "update", "get", "list"] {
        let mut latencies = all.remove(op).unwrap_or_default();
        latencies.sort();
        println!(
            "  {op:>6}: {:>6} requests, p50 {:>7.2} ms, p99 {:>7.2} ms",
            latencies.len(),
            percentile(&latencies, 0.5),
            percentile(&latencies, 0.99)
        );
        everything.extend(latencies);
    }
    everything.sort();
    println!("  all   : p50 {:.2} ms, p99 {:.2} ms", percentile(&everything, 0.5), percentile(&everything, 0.99));
    println!("  lost writes: {lost_writes} of {checked} webhooks checked against their last acknowledged write");

    let on_aws = std::env::var("LOAD_DELIVERY_BACKEND").is_ok_and(|b| b == "aws");
    let api = if on_aws {
        api
    } else {
        let app = App::new(ctx, &Backend::Memory, auth).await?;
        let addr = webhooks_local::spawn(std::sync::Arc::new(app)).await?;
        Arc::new(Api { client: Client::new(), base: format!("http://{addr}"), token })
    };
    let where_ = if on_aws { "DynamoDB Local + SQS emulator" } else { "in-process store and queue" };
    println!(
        "\nPhase 2: {} events fanned out to {WEBHOOKS} webhooks on a local receiver ({where_}, {PUBLISHERS} publishers)",
        events()
    );
    let seen: Seen = Arc::default();
    let receiver = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let receiver_url = format!("http://{}/hooks", receiver.local_addr()?);
    let router = axum::Router::new().fallback(receive).with_state(seen.clone());
    tokio::spawn(async move { axum::serve(receiver, router).await });
    let entity = uuid::Uuid::new_v4().to_string();
    let mut webhook_ids = Vec::new();
    for i in 0..WEBHOOKS {
        let body = json!({"name": format!("load-{i}"), "eventUrl": receiver_url});
        let (_, created) =
            api.call(Method::POST, &format!("/api/managing-entity/{entity}/webhook"), Some(&body)).await?;
        webhook_ids.push(created["id"].as_str().unwrap_or_default().to_string());
    }
    let started = Instant::now();
    let publishers: Vec<_> = (0..PUBLISHERS)
        .map(|p| {
            let (api, entity) = (api.clone(), entity.clone());
            tokio::spawn(async move {
                let mut failures = 0;
                for n in (p..events()).step_by(PUBLISHERS) {
                    let body = json!({"id": format!("load-{n}"), "type": "booking.created", "data": {"n": n}});
                    // A 503 is retried with the same id, as a publisher should: the stored plan makes it safe.
                    let mut delivered = false;
                    for _ in 0..5 {
                        if let Ok((status, _)) =
                            api.call(Method::POST, &format!("/api/managing-entity/{entity}/event"), Some(&body)).await
                        {
                            if status == StatusCode::ACCEPTED || status == StatusCode::OK {
                                delivered = true;
                                break;
                            }
                        }
                        tokio::time::sleep(Duration::from_millis(200)).await;
                    }
                    failures += usize::from(!delivered);
                }
                failures
            })
        })
        .collect();
    let mut publish_failures = 0;
    for publisher in publishers {
        publish_failures += publisher.await?;
    }
    let published_in = started.elapsed();
    println!(
        "  published {} events in {:.1}s = {:.0} events/s, publish failures: {publish_failures}",
        events(),
        published_in.as_secs_f64(),
        events() as f64 / published_in.as_secs_f64()
    );
    let expected = events() * WEBHOOKS;
    let count = |seen: &Seen| seen.lock().map(|s| s.values().map(HashSet::len).sum::<usize>()).unwrap_or(0);
    while count(&seen) < expected && started.elapsed() < DELIVERY_DEADLINE {
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let delivered_in = started.elapsed();
    let per_webhook: Vec<usize> = {
        let seen = seen.lock().map_err(|_| "receiver lock")?;
        webhook_ids.iter().map(|id| seen.get(id).map_or(0, HashSet::len)).collect()
    };
    let received: usize = per_webhook.iter().sum();
    println!("  distinct webhook-ids per webhook: {per_webhook:?}");
    println!(
        "  delivered {received} of {expected} in {:.1}s = {:.0} deliveries/s end to end",
        delivered_in.as_secs_f64(),
        received as f64 / delivered_in.as_secs_f64()
    );
    let lost_deliveries = expected - received;
    println!("  lost deliveries: {lost_deliveries}");
    if lost_writes > 0 || lost_deliveries > 0 || publish_failures > 0 {
        std::process::exit(1);
    }
    Ok(())
}
