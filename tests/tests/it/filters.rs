//! Content filters (docs/contract.md 14) on every target: a webhook gets exactly the events its filter
//! matches, nothing is recorded for the others, and a bad filter is refused where it is bad.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use rstest::rstest;
use rstest_reuse::apply;
use serde_json::{Value, json};

use crate::helpers::{Target, TestApp, targets};
use crate::receiver::{Answer, Receiver};

const PATIENCE: Duration = Duration::from_secs(60);

#[apply(targets)]
#[tokio::test]
async fn a_filtered_webhook_gets_exactly_the_matching_events_and_no_record_of_the_rest(#[case] target: Target) {
    let app = TestApp::on(target).await;
    let (filtered, everything) =
        (Receiver::start(&[Answer::Status(200)]).await, Receiver::start(&[Answer::Status(200)]).await);
    let filter = json!({"data": {"total": {"currency": "USD"}, "guests": {"adults": {"$gte": 2}}}});
    let webhook = app.create_with(&json!({"name": "USD couples", "eventUrl": filtered.url(), "filter": filter})).await;
    assert_eq!(webhook["filter"], filter, "{target:?}");
    let id = webhook["id"].as_str().expect("id");
    app.create_with(&json!({"name": "Everything", "eventUrl": everything.url()})).await;

    let mut matching = Vec::new();
    for n in 0..20 {
        let (currency, adults) = (["USD", "EUR", "THB", "USD"][n % 4], [1, 2, 3, 4, 2][n % 5]);
        let data = json!({"n": n, "total": {"amount": "100.00", "currency": currency}, "guests": {"adults": adults}});
        if currency == "USD" && adults >= 2 {
            matching.push(n);
        }
        let published = app.publish(&json!({"type": "booking.created", "data": data})).await;
        assert_eq!(published.status(), StatusCode::ACCEPTED);
    }
    everything.wait_for(20, PATIENCE).await;
    let got = filtered.wait_for(matching.len(), PATIENCE).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut received: Vec<usize> = filtered
        .received()
        .iter()
        .map(|r| serde_json::from_slice::<Value>(&r.body).expect("JSON")["data"]["n"].as_u64().expect("n") as usize)
        .collect();
    received.sort_unstable();
    assert_eq!((received, got.len()), (matching.clone(), matching.len()), "{target:?}");
    assert_eq!(app.deliveries(id).await.len(), matching.len(), "no record of what the filter refused");

    let test = app.request(Method::POST, &format!("{}/test", app.webhook(id)));
    let refused =
        json!({"eventType": "booking.created", "data": {"total": {"currency": "EUR"}, "guests": {"adults": 2}}});
    let verdict: Value = TestApp::send_within_limits(test.json(&refused)).await.json().await.expect("JSON");
    assert_eq!((verdict["filterMatches"].clone(), verdict["delivered"].clone()), (json!(false), json!(true)));
}

#[apply(targets)]
#[tokio::test]
async fn a_bad_filter_is_refused_naming_where_and_changes_nothing(#[case] target: Target) {
    let app = TestApp::on(target).await;
    let body = json!({"name": "Bad", "eventUrl": "https://api.example.com/hooks",
        "filter": {"data": {"guests": {"adults": {"$gtee": 2}}}}, "rateLimit": 0, "ordering": "sorted"});
    let response = TestApp::send_within_limits(app.request(Method::POST, &app.webhooks()).json(&body)).await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY, "{target:?}");
    let problem: Value = response.json().await.expect("JSON");
    let fields: Vec<Value> =
        problem["properties"]["errors"].as_array().expect("errors").iter().map(|e| e["field"].clone()).collect();
    assert_eq!(fields, [json!("/filter/data/guests/adults/$gtee"), json!("rateLimit"), json!("ordering")]);
    let listed: Value =
        app.request(Method::GET, &app.webhooks()).send().await.expect("list").json().await.expect("JSON");
    assert_eq!(listed["items"], json!([]));
}
