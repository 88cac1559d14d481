//! `make bench` section 3, last part: the AWS requests of a publish to an entity that no
//! global webhook covers, as the table gains global webhooks of other entities (there should
//! be none more), and once a `"*"` webhook covers it too.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use crate::workloads::{Measured, start_measured};

const PUBLISHES: usize = 50;
const LISTING_WEBHOOKS: usize = 20;

pub async fn publish_requests() -> Result<(), Box<dyn std::error::Error>> {
    let Some(Measured { mut runner, base, token, calls, .. }) = start_measured().await? else { return Ok(()) };
    let client = reqwest::Client::new();
    let post = |path: String, body: Value| {
        let request = client.post(format!("{base}{path}")).bearer_auth(&token).json(&body);
        async move { request.send().await?.error_for_status() }
    };
    let entity = uuid::Uuid::new_v4();
    let publishes = |phase: &'static str| {
        let (post, calls) = (&post, &calls);
        async move {
            let event = |n: String| json!({"id": n, "type": "booking.created", "data": {}});
            // One first, so that what a process learns once is not counted against every publish.
            post(format!("/api/managing-entity/{entity}/event"), event(format!("{phase}-warm"))).await?;
            calls.lock().map_err(|_| "lock")?.clear();
            for n in 0..PUBLISHES {
                post(format!("/api/managing-entity/{entity}/event"), event(format!("{phase}-{n}"))).await?;
            }
            let mut by_operation: BTreeMap<String, usize> = BTreeMap::new();
            for call in calls.lock().map_err(|_| "lock")?.iter() {
                // The deliver loop's polling goes on whatever is published.
                if call.operation() != "ReceiveMessage" {
                    *by_operation.entry(call.operation().to_string()).or_default() += 1;
                }
            }
            let per = |n: usize| n as f64 / PUBLISHES as f64;
            let total = per(by_operation.values().sum());
            let each: Vec<String> = by_operation.iter().map(|(op, n)| format!("{op} {:.2}", per(*n))).collect();
            println!("    {phase:<44} {total:.2} a publish ({})", each.join(", "));
            Ok::<_, Box<dyn std::error::Error>>(())
        }
    };
    println!("  AWS requests of a publish to an entity no global webhook covers ({PUBLISHES} publishes):");
    publishes("no global webhook in the table").await?;
    for _ in 0..LISTING_WEBHOOKS {
        let others = [uuid::Uuid::new_v4(), uuid::Uuid::new_v4()];
        post("/api/webhook".into(), json!({"name": "other", "eventUrl": "http://127.0.0.1:9/", "entities": others}))
            .await?;
    }
    publishes("20 global webhooks, each of 2 other entities").await?;
    let star =
        json!({"name": "all", "eventUrl": "http://127.0.0.1:9/", "eventList": ["payment.failed"], "entities": "*"});
    post("/api/webhook".into(), star).await?;
    publishes("and a \"*\" one (so it is covered)").await?;
    runner.kill()?;
    runner.wait()?;
    Ok(())
}
