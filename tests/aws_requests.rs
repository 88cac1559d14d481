//! `make bench` section 3: the release runner as a process on DynamoDB Local and the SQS
//! emulator, reached through proxies that count requests per operation (`wire`), while
//! `EVENTS` events fan out to `WEBHOOKS` webhooks; then the table's items are sized and the
//! counts turned into the cost of a million deliveries (`cost`).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::types::AttributeValue;
use serde_json::json;

use crate::{ENTITY, cost, peak_rss_kib, wire};

pub const EVENTS: usize = 200;
pub const WEBHOOKS: usize = 5;

/// Starts the release runner beside this binary with `env`.
fn start_runner(env: &[(&str, String)]) -> Result<(std::process::Child, String, String), Box<dyn std::error::Error>> {
    let binary = std::env::current_exe()?.parent().ok_or("no target dir")?.join("webhooks-local");
    let mut env: Vec<(String, String)> = env.iter().map(|(k, v)| ((*k).to_string(), v.clone())).collect();
    env.push(("RUST_LOG".into(), "warn".into()));
    Ok(webhooks_tests::start_runner(&binary, &env)?)
}

pub async fn requests_per_delivery() -> Result<(), Box<dyn std::error::Error>> {
    let endpoint = |name: &str| std::env::var(name).map(|url| url.trim_start_matches("http://").to_string());
    let (Ok(dynamodb), Ok(sqs)) = (endpoint("AWS_ENDPOINT_URL_DYNAMODB"), endpoint("AWS_ENDPOINT_URL_SQS")) else {
        println!("  skipped: run through `make bench`, which starts DynamoDB Local and the SQS emulator");
        return Ok(());
    };
    let counts = wire::Counts::default();
    let dynamodb = wire::counting_proxy(dynamodb, counts.clone()).await?;
    let sqs = wire::counting_proxy(sqs, counts.clone()).await?;
    let table = format!("webhooks-bench-{}", uuid::Uuid::new_v4().simple());
    let (mut runner, base, token) = start_runner(&[
        ("WEBHOOKS_BACKEND", "aws".into()),
        ("TABLE_NAME", table.clone()),
        ("AWS_ENDPOINT_URL_DYNAMODB", dynamodb),
        ("AWS_ENDPOINT_URL_SQS", sqs),
        ("WEBHOOKS_ALLOW_PRIVATE_URLS", "true".into()),
    ])?;
    let received = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let receiver_url = format!("http://{}/hooks", listener.local_addr()?);
    let counter = received.clone();
    let app = axum::Router::new().fallback(move || {
        counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        async { "ok" }
    });
    tokio::spawn(async move { axum::serve(listener, app).await });

    let client = reqwest::Client::new();
    for i in 0..WEBHOOKS {
        let body = json!({"name": format!("cost-{i}"), "eventUrl": receiver_url});
        client
            .post(format!("{base}/api/managing-entity/{ENTITY}/webhook"))
            .bearer_auth(&token)
            .json(&body)
            .send()
            .await?
            .error_for_status()?;
    }
    counts.lock().map_err(|_| "lock")?.clear();
    let started = Instant::now();
    let mut publishing = Duration::ZERO;
    for n in 0..EVENTS {
        let body = json!({"id": format!("cost-{n}"), "type": "booking.created", "data": {"n": n}});
        let sent = Instant::now();
        client
            .post(format!("{base}/api/managing-entity/{ENTITY}/event"))
            .bearer_auth(&token)
            .json(&body)
            .send()
            .await?
            .error_for_status()?;
        publishing += sent.elapsed();
    }
    let deliveries = EVENTS * WEBHOOKS;
    while received.load(std::sync::atomic::Ordering::SeqCst) < deliveries
        && started.elapsed() < Duration::from_secs(300)
    {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Let the last attempts be recorded and their messages deleted.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let elapsed = started.elapsed();
    let peak = peak_rss_kib(runner.id());
    runner.kill()?;
    runner.wait()?;

    let delivered = received.load(std::sync::atomic::Ordering::SeqCst);
    let counts = counts.lock().map_err(|_| "lock")?.clone();
    println!("  delivered {delivered} of {deliveries} in {:.1}s", elapsed.as_secs_f64());
    let per = |n: usize| n as f64 / delivered.max(1) as f64;
    for (operation, n) in &counts {
        println!("  {operation:<36} {n:>6}  = {:.3} per delivery", per(*n));
    }
    let polling_aside: usize = counts.iter().filter(|(op, _)| !op.ends_with("ReceiveMessage")).map(|(_, n)| n).sum();
    println!(
        "  requests per delivery: {:.2}, or {:.2} with ReceiveMessage (the event source mapping's polling in AWS)",
        per(polling_aside),
        per(counts.values().sum())
    );
    if let Some(kib) = peak {
        println!("  runner process (every function in one process) peak RSS: {:.1} MiB", kib as f64 / 1024.0);
    }
    let items = scan(&table).await?;
    let largest = cost::largest_items(&items);
    let records = items
        .iter()
        .filter(|i| matches!(i.get("SK"), Some(AttributeValue::S(sk)) if sk.starts_with("DELIVERY#")))
        .count();
    let size = |kind: &str| largest.get(kind).copied().unwrap_or_default();
    println!(
        "  largest items: webhook {} B, delivery {} B, event outbox {} B (DynamoDB's sizing rules)",
        size("WEBHOOK"),
        size("DELIVERY"),
        size("EVENT")
    );
    let n = |op: &str| counts.iter().filter(|(o, _)| o.ends_with(op)).map(|(_, n)| *n as f64).sum::<f64>();
    // Every write is charged at the larger written item's units; BatchWriteItem per item.
    let write_units =
        (n(".PutItem") + n(".UpdateItem") + records as f64) * cost::write_units(size("DELIVERY").max(size("EVENT")));
    let read_units =
        n(".GetItem") * cost::read_units(size("WEBHOOK")) + n(".Query") * cost::read_units(WEBHOOKS * size("WEBHOOK"));
    let sqs_requests: f64 = counts.iter().filter(|(o, _)| o.starts_with("AmazonSQS.")).map(|(_, n)| *n as f64).sum();
    // One deliver invocation per non-empty batch received, which ends in one DeleteMessageBatch.
    let (publishes, deliver_invocations) = (EVENTS as f64, n(".DeleteMessageBatch"));
    let gb_seconds =
        (publishing.as_secs_f64() + deliver_invocations * cost::DELIVER_INVOCATION_SECONDS) * cost::LAMBDA_MEMORY_GB;
    let million = 1e6 / delivered.max(1) as f64;
    let parts = [
        (
            format!("DynamoDB writes, {:.2} WRU per delivery", write_units / delivered as f64),
            write_units * cost::DYNAMODB_WRITE_UNIT,
        ),
        (
            format!("DynamoDB reads, {:.2} RRU (strongly consistent)", read_units / delivered as f64),
            read_units * cost::DYNAMODB_READ_UNIT,
        ),
        (format!("SQS, {:.2} requests", sqs_requests / delivered as f64), sqs_requests * cost::SQS_REQUEST),
        (
            format!("API Gateway HTTP API, {:.2} publish requests", publishes / delivered as f64),
            publishes * cost::HTTP_API_REQUEST,
        ),
        (
            format!("Lambda 128 MB arm64, {:.2} invocations", (publishes + deliver_invocations) / delivered as f64),
            (publishes + deliver_invocations) * cost::LAMBDA_REQUEST + gb_seconds * cost::LAMBDA_ARM_GB_SECOND,
        ),
    ];
    println!(
        "  cost of one million deliveries at list prices (docs/cost.md; deliver invocations taken as {:.0} ms, publishes as measured here):",
        cost::DELIVER_INVOCATION_SECONDS * 1e3
    );
    for (part, dollars) in &parts {
        println!("    {part:<48} ${:.3}", dollars * million);
    }
    println!("    {:<48} ${:.2}", "total", parts.iter().map(|(_, d)| d).sum::<f64>() * million);
    Ok(())
}

/// Every item of `table`, read directly (not through the counting proxies).
async fn scan(table: &str) -> Result<Vec<HashMap<String, AttributeValue>>, Box<dyn std::error::Error>> {
    let client = aws_sdk_dynamodb::Client::new(&shared::aws::sdk_config().await);
    let mut items = Vec::new();
    let mut start = None;
    loop {
        let page = client.scan().table_name(table).set_exclusive_start_key(start).send().await?;
        items.extend(page.items.unwrap_or_default());
        start = page.last_evaluated_key;
        if start.is_none() {
            return Ok(items);
        }
    }
}
