//! `make bench` section 4: every function's release binary started as Lambda starts it, against
//! the Runtime API emulator (`runtime_api`), DynamoDB Local and the SQS emulator. Each function
//! is started `STARTS` times and timed from spawn to its first poll for work (init) and to its
//! first answer (first handled invocation); the last start then serves `SERVED` more
//! invocations, timed as warm ones, after which its peak resident memory is read. Every answer
//! is checked, so the figures are of functions doing their real work.

use std::fs::File;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use http::HeaderMap;
use serde_json::{Value, json};
use shared::model::EntityId;
use shared::queue::{QueueConsumer, SqsQueue};
use shared::sealing::{LocalKey, Sealer};
use shared::store::{DynamoStore, WebhookInsert};
use webhooks_local::gateway::{self, Authorized, Incoming};
use webhooks_local::routes::RouteTable;

use crate::runtime_api::RuntimeApi;
use crate::{ENTITY, peak_rss_kib, planned_deliveries, sqs_event_json, webhook};

const STARTS: usize = 7;
const SERVED: usize = 100;
const INVOCATIONS: usize = STARTS + SERVED;
/// The webhooks the CRUD functions work on; `ENTITY` holds those events fan out to.
const CRUD_ENTITY: &str = "0e6f3c1a-7b2d-4c5e-9f80-a1b2c3d4e5f6";
const TARGETS: usize = 5;

type Made = Result<Value, Box<dyn std::error::Error>>;

/// `INVOCATIONS` events, made by `make` from the invocation's number.
fn each(make: &dyn Fn(usize) -> Made) -> Result<Vec<Value>, Box<dyn std::error::Error>> {
    (0..INVOCATIONS).map(make).collect()
}

/// The API Gateway (HTTP API, payload 2.0) event of a request, as the runner builds it, with the
/// claims the JWT authorizer would pass for a caller of both bench entities.
pub fn api_event(method: &str, path: &str, body: Option<&Value>) -> Made {
    let route = RouteTable::new().find(method, path).ok_or_else(|| format!("no route for {method} {path}"))?;
    let mut headers = HeaderMap::new();
    headers.insert(http::header::CONTENT_TYPE, http::HeaderValue::from_static("application/json"));
    let body = body.map(Value::to_string).unwrap_or_default();
    let incoming = Incoming { method, path, raw_query: "", headers: &headers, body: body.as_bytes() };
    let claims = json!({"sub": "bench", "entities": [ENTITY, CRUD_ENTITY], "scope": "events:publish"});
    let claims = webhooks_local::dev_auth::stringify_claims(claims.as_object().ok_or("claims")?);
    Ok(gateway::event(&incoming, &route, Some(Authorized::Jwt(claims))))
}

enum Expect {
    Status(u64),
    NoBatchItemFailures,
}

struct Case {
    name: &'static str,
    events: Vec<Value>,
    expect: Expect,
}

impl Case {
    fn api(name: &'static str, status: u64, events: Vec<Value>) -> Self {
        Self { name, events, expect: Expect::Status(status) }
    }

    fn check(&self, answer: &Value) -> Result<(), String> {
        let ok = match self.expect {
            Expect::Status(status) => answer["statusCode"].as_u64() == Some(status),
            Expect::NoBatchItemFailures => answer["batchItemFailures"].as_array().is_some_and(Vec::is_empty),
        };
        if ok { Ok(()) } else { Err(format!("{} answered {answer}", self.name)) }
    }
}

/// `INVOCATIONS` events for every function, on webhooks and deliveries stored beforehand.
async fn cases(store: &DynamoStore, receiver: &str) -> Result<Vec<Case>, Box<dyn std::error::Error>> {
    let crud = EntityId::parse(CRUD_ENTITY)?;
    let owner = EntityId::parse(ENTITY)?;
    let webhooks = format!("/api/managing-entity/{crud}/webhook");
    let mut stored = Vec::new();
    // One to read, one to update, then one to delete per invocation.
    for _ in 0..INVOCATIONS + 2 {
        let hook = webhook(crud, "https://api.example.com/hooks")?;
        store.insert_webhook(&hook).await?;
        stored.push(hook.info.id);
    }
    let (read, updated, doomed) = (stored[0], stored[1], &stored[2..]);
    let mut targets = Vec::new();
    for _ in 0..TARGETS {
        let hook = webhook(owner, receiver)?;
        store.insert_webhook(&hook).await?;
        targets.push(hook.info.id);
    }
    let target = format!("/api/managing-entity/{owner}/webhook/{}", targets[0]);
    let mut batches = Vec::new();
    for _ in 0..INVOCATIONS {
        let messages = planned_deliveries(owner, &targets, crate::BATCH)?;
        batches.push(sqs_event_json(&messages)?);
    }

    let created = json!({"name": "Bench", "eventUrl": "https://api.example.com/hooks", "eventList": ["booking.*"]});
    Ok(vec![
        Case::api("create-webhook", 201, each(&|_| api_event("POST", &webhooks, Some(&created)))?),
        Case::api("list-webhooks", 200, each(&|_| api_event("GET", &webhooks, None))?),
        Case::api("get-webhook", 200, each(&|_| api_event("GET", &format!("{webhooks}/{read}"), None))?),
        Case::api(
            "update-webhook",
            200,
            each(&|i| {
                let patch = json!({"name": format!("Renamed {i}"), "version": i + 1});
                api_event("PATCH", &format!("{webhooks}/{updated}"), Some(&patch))
            })?,
        ),
        Case::api("delete-webhook", 204, each(&|i| api_event("DELETE", &format!("{webhooks}/{}", doomed[i]), None))?),
        Case::api("list-event-types", 200, each(&|_| api_event("GET", "/api/event-types", None))?),
        Case::api(
            "publish-event",
            202,
            each(&|i| {
                let published = json!({"id": format!("fn-{i}"), "type": "booking.created", "data": {"n": i}});
                api_event("POST", &format!("/api/managing-entity/{owner}/event"), Some(&published))
            })?,
        ),
        Case { name: "deliver-webhooks", events: batches, expect: Expect::NoBatchItemFailures },
        Case::api("test-webhook", 200, each(&|_| api_event("POST", &format!("{target}/test"), Some(&json!({}))))?),
        Case::api("list-deliveries", 200, each(&|_| api_event("GET", &format!("{target}/deliveries"), None))?),
        Case::api("console", 200, each(&|_| api_event("GET", "/", None))?),
    ])
}

/// Starts `binary` as Lambda would: the runtime API's address and the function's own variables.
fn spawn(binary: &Path, name: &str, api: &RuntimeApi, env: &[(&str, String)]) -> std::io::Result<Child> {
    std::fs::create_dir_all("target/bench")?;
    let log = File::create(format!("target/bench/{name}.log"))?;
    Command::new(binary)
        .envs(env.iter().map(|(k, v)| (k, v)))
        .env("AWS_LAMBDA_RUNTIME_API", &api.address)
        .env("AWS_LAMBDA_FUNCTION_NAME", name)
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AWS_LAMBDA_LOG_GROUP_NAME", format!("/aws/lambda/{name}"))
        .env("AWS_LAMBDA_LOG_STREAM_NAME", "bench")
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
}

struct Figures {
    init: Vec<Duration>,
    first: Vec<Duration>,
    /// The served invocations, each from handing it over to its answer.
    warm: Vec<Duration>,
    peak_kib: Option<u64>,
}

async fn measure(binary: &Path, case: &Case, env: &[(&str, String)]) -> Result<Figures, Box<dyn std::error::Error>> {
    let mut figures = Figures { init: Vec::new(), first: Vec::new(), warm: Vec::new(), peak_kib: None };
    let mut events = case.events.iter();
    for start in 0..STARTS {
        let mut api = RuntimeApi::start().await?;
        let spawned = Instant::now();
        let mut child = spawn(binary, case.name, &api, env)?;
        let served = async {
            let outcome = api.invoke(events.next().ok_or("out of events")?).await?;
            case.check(&outcome.body)?;
            figures.first.push(outcome.at - spawned);
            figures.init.push(api.first_poll().ok_or("never polled")? - spawned);
            if start + 1 == STARTS {
                for event in events.by_ref() {
                    let sent = Instant::now();
                    let outcome = api.invoke(event).await?;
                    case.check(&outcome.body)?;
                    figures.warm.push(outcome.at - sent);
                }
                figures.peak_kib = peak_rss_kib(child.id());
            }
            Ok::<_, Box<dyn std::error::Error>>(())
        }
        .await;
        let _ = child.kill();
        let _ = child.wait();
        served?;
    }
    Ok(figures)
}

fn median_ms(mut samples: Vec<Duration>) -> (f64, f64, f64) {
    samples.sort();
    let ms = |d: &Duration| d.as_secs_f64() * 1e3;
    (ms(&samples[samples.len() / 2]), ms(&samples[0]), ms(&samples[samples.len() - 1]))
}

pub async fn start_up_and_memory(receiver: &str) -> Result<(), Box<dyn std::error::Error>> {
    // The functions' release build, which `make bench` names; beside the bench when not named.
    let dir = match std::env::var_os("WEBHOOKS_FUNCTIONS_DIR") {
        Some(dir) => std::path::PathBuf::from(dir),
        None => std::env::current_exe()?.parent().ok_or("no target dir")?.to_path_buf(),
    };
    if std::env::var_os("AWS_ENDPOINT_URL_DYNAMODB").is_none() {
        println!("  skipped: run through `make bench`, which starts DynamoDB Local and the SQS emulator");
        return Ok(());
    }
    let config = shared::aws::sdk_config().await;
    let table = format!("webhooks-functions-{}", uuid::Uuid::new_v4().simple());
    let (key, key_text) = LocalKey::generate()?;
    let store = DynamoStore::new(aws_sdk_dynamodb::Client::new(&config), &table, Arc::new(Sealer::new(key)));
    store.ensure_table().await?;
    let sqs = aws_sdk_sqs::Client::new(&config);
    let (queue, dead_letters) = SqsQueue::ensure(sqs.clone(), &table, &webhooks_local::QUEUES).await?;
    let (fifo_queue, _) = SqsQueue::ensure(sqs, &format!("{table}.fifo"), &webhooks_local::FIFO_QUEUES).await?;
    let env = [
        ("TABLE_NAME", table.clone()),
        ("WEBHOOKS_SECRETS_KEY", key_text),
        ("DELIVERY_QUEUE_URL", queue.url().to_string()),
        ("DELIVERY_FIFO_QUEUE_URL", fifo_queue.url().to_string()),
        // What deliver-webhooks' timer needs to start; no benchmark delivery waits that long.
        ("DELIVERY_QUEUE_ARN", queue.arn()),
        ("DELIVERY_DLQ_ARN", dead_letters.arn()),
        ("RETRY_SCHEDULE_GROUP", "webhooks-retries".to_string()),
        ("RETRY_SCHEDULER_ROLE_ARN", "arn:aws:iam::000000000000:role/bench".to_string()),
        ("WEBHOOKS_ALLOW_PRIVATE_URLS", "true".to_string()),
        ("WEBHOOKS_API_RATE", crate::UNTHROTTLED.to_string()),
        ("WEBHOOKS_PUBLISH_RATE", crate::UNTHROTTLED.to_string()),
    ];
    println!(
        "  {:<18} {:>9} {:>18} {:>13} {:>14} {:>10}",
        "function", "init p50", "first answer p50", "(min-max)", "warm p50", "peak RSS"
    );
    for case in cases(&store, receiver).await? {
        let binary = dir.join(case.name);
        if !binary.exists() {
            println!("  {:<18} skipped: {} is not built (make bench builds it)", case.name, binary.display());
            continue;
        }
        let figures = measure(&binary, &case, &env).await?;
        let (init, _, _) = median_ms(figures.init);
        let (first, low, high) = median_ms(figures.first);
        let peak = figures.peak_kib.map_or("-".into(), |kib| format!("{:.1} MiB", kib as f64 / 1024.0));
        let (warm, _, _) = median_ms(figures.warm);
        let range = format!("({low:.1}-{high:.1})");
        println!("  {:<18} {init:>6.1} ms {first:>15.1} ms {range:>13} {warm:>11.1} ms {peak:>10}", case.name);
    }
    println!(
        "  init: spawn to the first poll for work; first answer: spawn to the first invocation's answer \
         (medians of {STARTS} starts); warm: the next {SERVED} invocations; peak RSS after all {}",
        SERVED + 1
    );
    Ok(())
}
