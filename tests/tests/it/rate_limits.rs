//! Rate limits (docs/contract.md 5.5) from outside: a burst from one caller is cut at the policy's
//! burst on every target, other callers go on, and two runners on one table count together.

use futures::StreamExt;
use reqwest::{Method, StatusCode};
use rstest::rstest;
use rstest_reuse::apply;
use serde_json::json;

use crate::helpers::{Target, TestApp, targets};

/// The default per-caller policy (`WEBHOOKS_API_RATE`, `20/s,40`), which every target runs.
const BURST: usize = 40;
const PER_SECOND: f64 = 20.0;

struct Burst {
    succeeded: usize,
    refused: usize,
    seconds: f64,
}

/// `count` list requests with `token`, 20 at a time, spread over `apps` in turn; every answer
/// must carry the rate-limit headers, and every 429 `Retry-After` as well.
async fn burst(apps: &[&TestApp], token: &str, count: usize) -> Burst {
    let started = std::time::Instant::now();
    let statuses: Vec<StatusCode> = futures::stream::iter(0..count)
        .map(|n| {
            let app = apps[n % apps.len()];
            async move {
                let response = app
                    .client
                    .request(Method::GET, format!("{}{}", app.base, app.webhooks()))
                    .bearer_auth(token)
                    .send()
                    .await
                    .expect("list");
                let header = |name: &str| response.headers().get(name).and_then(|v| v.to_str().ok()).map(String::from);
                assert_eq!(header("ratelimit-policy").as_deref(), Some("\"caller\";q=40;w=2"));
                assert!(header("ratelimit").is_some_and(|v| v.starts_with("\"caller\";r=")), "RateLimit");
                if response.status() == StatusCode::TOO_MANY_REQUESTS {
                    let wait: u64 = header("retry-after").expect("Retry-After").parse().expect("seconds");
                    assert!((1..=2).contains(&wait), "Retry-After {wait}");
                    let body: serde_json::Value = response.json().await.expect("problem");
                    assert_eq!(body["type"], "/problems/rate-limited");
                    return StatusCode::TOO_MANY_REQUESTS;
                }
                response.status()
            }
        })
        .buffer_unordered(20)
        .collect()
        .await;
    let seconds = started.elapsed().as_secs_f64();
    let succeeded = statuses.iter().filter(|s| **s == StatusCode::OK).count();
    let refused = statuses.iter().filter(|s| **s == StatusCode::TOO_MANY_REQUESTS).count();
    assert_eq!(succeeded + refused, count, "only 200 or 429: {statuses:?}");
    Burst { succeeded, refused, seconds }
}

/// At least the burst, and no more than the burst and what refilled while it ran: some refused,
/// unless the target answered so slowly (the deployed stack under the other tests' load) that
/// the refill kept up with the burst.
fn assert_cut_at_the_burst(burst: &Burst) {
    let most = BURST + (burst.seconds * PER_SECOND).ceil() as usize + 1;
    let sent = burst.succeeded + burst.refused;
    assert!(
        (BURST..=most).contains(&burst.succeeded) && (burst.refused > 0 || sent <= most),
        "{} succeeded and {} were refused in {:.2} s: expected {BURST} to {most} to succeed",
        burst.succeeded,
        burst.refused,
        burst.seconds
    );
}

#[apply(targets)]
#[tokio::test]
async fn a_burst_from_one_caller_is_cut_at_40_and_another_caller_goes_on(#[case] target: Target) {
    let app = TestApp::on(target).await;
    let burst = burst(&[&app], &app.token, 100).await;
    assert_cut_at_the_burst(&burst);

    let mut claims = app.tokens.claims("*");
    claims["sub"] = json!(format!("another-{}", uuid::Uuid::new_v4()));
    let another = app.tokens.sign(&claims);
    let response = app.client.get(format!("{}{}", app.base, app.webhooks())).bearer_auth(&another).send().await;
    assert_eq!(response.expect("list").status(), 200, "another caller has its own limit");
}

#[tokio::test]
async fn two_runners_on_one_table_share_the_callers_limit() {
    let (first, second) = TestApp::two_on_one_table().await;
    let burst = burst(&[&first, &second], &first.token, 100).await;
    assert_cut_at_the_burst(&burst);
}
