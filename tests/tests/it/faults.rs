//! Faults on DynamoDB Local and the SQS emulator, against the runner as a real process:
//! a dependency cut off during API calls, and the delivery process killed mid-batch.

use std::collections::HashSet;
use std::time::Duration;

use reqwest::{Client, StatusCode};
use serde_json::{Value, json};
use shared::queue::SqsQueue;

use crate::helpers::{ENTITY, TestApp, unique_table};
use crate::process::{Proxy, RunnerProcess};
use crate::receiver::{Answer, Receiver};

/// Generous: every test shares one single-threaded SQS emulator.
const PATIENCE: Duration = Duration::from_secs(90);

/// A new queue with its DLQ on the emulator, hiding received messages for `visibility`.
pub(crate) async fn new_queue(visibility: Duration) -> String {
    let sqs = aws_sdk_sqs::Client::new(&shared::aws::sdk_config().await);
    let config = shared::queue::QueueConfig { visibility_timeout: visibility, ..webhooks_local::QUEUES };
    let (queue, _) = SqsQueue::ensure(sqs, &unique_table(), &config).await.expect("create the queue");
    queue.url().to_string()
}

async fn aws_runner(table: &str, queue_url: &str, extra: &[(&str, String)]) -> RunnerProcess {
    RunnerProcess::start(&aws_runner_env(table, queue_url, extra)).await
}

/// The environment of a runner on DynamoDB Local and the SQS emulator.
pub(crate) fn aws_runner_env<'a>(table: &str, queue_url: &str, extra: &[(&'a str, String)]) -> Vec<(&'a str, String)> {
    let mut env = vec![
        ("WEBHOOKS_BACKEND", "aws".to_string()),
        ("TABLE_NAME", table.to_string()),
        ("DELIVERY_QUEUE_URL", queue_url.to_string()),
        ("WEBHOOKS_ALLOW_PRIVATE_URLS", "true".to_string()),
        ("WEBHOOKS_RETRY_SCHEDULE", "1s,1s".to_string()),
        // The key file `make run` makes on first run, one a table: a restarted runner reads it.
        ("WEBHOOKS_SECRETS_KEY_FILE", std::env::temp_dir().join(format!("{table}.key")).display().to_string()),
    ];
    env.extend(extra.iter().map(|(k, v)| (*k, v.clone())));
    env
}

pub(crate) struct Api<'a> {
    pub(crate) client: Client,
    pub(crate) runner: &'a RunnerProcess,
}

impl Api<'_> {
    pub(crate) async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> (StatusCode, Value) {
        let mut request =
            self.client.request(method, format!("{}{path}", self.runner.base)).bearer_auth(&self.runner.token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("the runner answers");
        let status = response.status();
        let text = response.text().await.expect("body");
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    async fn create(&self, url: &str) -> Value {
        let body = json!({"name": "Faulty", "eventUrl": url});
        let (status, created) = self.call(reqwest::Method::POST, &TestApp::webhooks_path(ENTITY), Some(body)).await;
        assert_eq!(status, 201, "{created}");
        created
    }

    pub(crate) async fn publish(&self, id: &str) -> (StatusCode, Value) {
        let body = json!({"id": id, "type": "booking.created", "data": {"bookingId": "b-1"}});
        self.call(reqwest::Method::POST, &format!("/api/managing-entity/{ENTITY}/event"), Some(body)).await
    }

    pub(crate) async fn deliveries_done(&self, id: &str) -> Vec<Value> {
        let path = format!("{}/deliveries", TestApp::webhook_path(ENTITY, id));
        let deadline = tokio::time::Instant::now() + PATIENCE;
        loop {
            let (_, page) = self.call(reqwest::Method::GET, &path, None).await;
            let items = page["items"].as_array().cloned().unwrap_or_default();
            if items.iter().all(|d| d["status"] == "succeeded") && !items.is_empty()
                || tokio::time::Instant::now() > deadline
            {
                return items;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

fn assert_unavailable(status: StatusCode, body: &Value, what: &str) {
    assert_eq!(status, 503, "{what}: {body}");
    assert_eq!(body["type"], "/problems/unavailable", "{what}");
}

#[tokio::test]
async fn dynamodb_unreachable_is_503_writes_nothing_and_recovers() {
    let proxy = Proxy::for_endpoint("AWS_ENDPOINT_URL_DYNAMODB").await;
    let (table, queue) = (unique_table(), new_queue(Duration::from_secs(30)).await);
    let runner = aws_runner(&table, &queue, &[("AWS_ENDPOINT_URL_DYNAMODB", proxy.url())]).await;
    let api = Api { client: Client::new(), runner: &runner };
    let receiver = Receiver::start(&[Answer::Status(200)]).await;
    let webhook = api.create(&receiver.url()).await;
    let id = webhook["id"].as_str().expect("id");
    let item = TestApp::webhook_path(ENTITY, id);

    proxy.cut();
    let (status, body) = api
        .call(
            reqwest::Method::POST,
            &TestApp::webhooks_path(ENTITY),
            Some(json!({"name": "Lost?", "eventUrl": receiver.url()})),
        )
        .await;
    assert_unavailable(status, &body, "create");
    let mut replaced = webhook.clone();
    replaced["name"] = json!("Half-written?");
    let (status, body) = api.call(reqwest::Method::PUT, &item, Some(replaced)).await;
    assert_unavailable(status, &body, "PUT");
    let (status, body) = api.publish("evt-outage").await;
    assert_unavailable(status, &body, "publish");

    proxy.restore().await;
    let (status, list) = api.call(reqwest::Method::GET, &TestApp::webhooks_path(ENTITY), None).await;
    assert_eq!(status, 200);
    let ids: Vec<&str> = list["items"].as_array().expect("items").iter().filter_map(|w| w["id"].as_str()).collect();
    assert_eq!(ids, [id], "the refused create wrote nothing");
    let (_, stored) = api.call(reqwest::Method::GET, &item, None).await;
    assert_eq!(
        (stored["name"].clone(), stored["version"].clone()),
        (json!("Faulty"), json!(1)),
        "the refused PUT wrote nothing"
    );
    let (status, published) = api.publish("evt-outage").await;
    assert_eq!((status.as_u16(), published["deliveries"].clone()), (202, json!(1)), "{published}");
    receiver.wait_for(1, PATIENCE).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(receiver.received().len(), 1, "delivered once after recovery");
}

#[tokio::test]
async fn dynamodb_that_never_answers_is_503_within_the_timeouts_and_writes_nothing() {
    let proxy = Proxy::for_endpoint("AWS_ENDPOINT_URL_DYNAMODB").await;
    let (table, queue) = (unique_table(), new_queue(Duration::from_secs(30)).await);
    let runner = aws_runner(&table, &queue, &[("AWS_ENDPOINT_URL_DYNAMODB", proxy.url())]).await;
    // Without the SDK's timeouts the request would hang; this client gives up long after them.
    let client = Client::builder().timeout(Duration::from_secs(30)).build().expect("client");
    let api = Api { client, runner: &runner };
    let receiver = Receiver::start(&[Answer::Status(200)]).await;
    let webhook = api.create(&receiver.url()).await;

    proxy.hang().await;
    let body = json!({"name": "Lost?", "eventUrl": receiver.url()});
    let (status, answer) = api.call(reqwest::Method::POST, &TestApp::webhooks_path(ENTITY), Some(body)).await;
    assert_unavailable(status, &answer, "create while DynamoDB never answers");

    proxy.restore().await;
    let (status, list) = api.call(reqwest::Method::GET, &TestApp::webhooks_path(ENTITY), None).await;
    assert_eq!(status, 200);
    let ids: Vec<&str> = list["items"].as_array().expect("items").iter().filter_map(|w| w["id"].as_str()).collect();
    assert_eq!(ids, [webhook["id"].as_str().expect("id")], "the timed-out create wrote nothing");
}

/// The SDK sends a write again when its answer does not come within the attempt's timeout;
/// the second finds the first's item, which must read as the write's success, not a conflict.
#[tokio::test]
async fn a_write_whose_answer_is_lost_succeeds_on_the_sdks_retry() {
    let proxy = Proxy::for_endpoint("AWS_ENDPOINT_URL_DYNAMODB").await;
    let (table, queue) = (unique_table(), new_queue(Duration::from_secs(30)).await);
    let runner = aws_runner(&table, &queue, &[("AWS_ENDPOINT_URL_DYNAMODB", proxy.url())]).await;
    let api = Api { client: Client::new(), runner: &runner };

    proxy.lose_the_answer_to("DynamoDB_20120810.PutItem");
    let created = api.create("https://api.example.com/hooks").await;
    let item = TestApp::webhook_path(ENTITY, created["id"].as_str().expect("id"));
    let mut replaced = created.clone();
    replaced["name"] = json!("Renamed");
    proxy.lose_the_answer_to("DynamoDB_20120810.PutItem");
    let (status, body) = api.call(reqwest::Method::PUT, &item, Some(replaced)).await;
    assert_eq!((status.as_u16(), body["version"].clone()), (200, json!(2)), "{body}");
    let (_, stored) = api.call(reqwest::Method::GET, &item, None).await;
    assert_eq!((stored["name"].clone(), stored["version"].clone()), (json!("Renamed"), json!(2)));
}

#[tokio::test]
async fn sqs_unreachable_during_publish_is_503_and_a_retry_delivers_each_once() {
    let proxy = Proxy::for_endpoint("AWS_ENDPOINT_URL_SQS").await;
    let (table, queue) = (unique_table(), new_queue(Duration::from_secs(30)).await);
    let env = [("AWS_ENDPOINT_URL_SQS", proxy.url()), ("WEBHOOKS_RESEND_DELAY", "1s".into())];
    let runner = aws_runner(&table, &queue, &env).await;
    let api = Api { client: Client::new(), runner: &runner };
    let receiver = Receiver::start(&[Answer::Status(200)]).await;
    let mut ids = Vec::new();
    for _ in 0..12 {
        ids.push(api.create(&receiver.url()).await["id"].as_str().expect("id").to_string());
    }

    proxy.cut();
    let (status, body) = api.publish("evt-queue-down").await;
    assert_unavailable(status, &body, "publish with the queue down");
    proxy.restore().await;

    // The plan was stored: the retry is a duplicate, which sends what had not started.
    let (status, published) = api.publish("evt-queue-down").await;
    assert_eq!((status.as_u16(), published["duplicate"].clone()), (200, json!(true)), "{published}");
    receiver.wait_for(12, PATIENCE).await;
    tokio::time::sleep(Duration::from_millis(1000)).await;
    let received = receiver.received();
    assert_eq!(received.len(), 12, "each delivery once");
    let webhooks: HashSet<String> = received
        .iter()
        .map(|r| {
            serde_json::from_slice::<Value>(&r.body).expect("JSON")["webhookId"].as_str().unwrap_or("").to_string()
        })
        .collect();
    assert_eq!(webhooks, ids.into_iter().collect());
    let (status, again) = api.publish("evt-queue-down").await;
    assert_eq!((status.as_u16(), again["duplicate"].clone()), (200, json!(true)));
}

#[tokio::test]
async fn a_delivery_process_killed_mid_batch_loses_nothing() {
    let (table, queue) = (unique_table(), new_queue(Duration::from_secs(2)).await);
    // The first five POSTs are held until the process that made them is dead.
    let script: Vec<Answer> =
        std::iter::repeat_n(Answer::Hang(Duration::from_millis(1500)), 5).chain([Answer::Status(200)]).collect();
    let receiver = Receiver::start(&script).await;
    let mut first = aws_runner(&table, &queue, &[]).await;
    let api = Api { client: Client::new(), runner: &first };
    let mut ids = Vec::new();
    for _ in 0..5 {
        ids.push(api.create(&receiver.url()).await["id"].as_str().expect("id").to_string());
    }
    assert_eq!(api.publish("evt-crash").await.0, 202);
    assert_eq!(receiver.wait_for(5, PATIENCE).await.len(), 5, "the batch is in flight");
    first.kill();

    let second = aws_runner(&table, &queue, &[]).await;
    let api = Api { client: Client::new(), runner: &second };
    for id in &ids {
        let log = api.deliveries_done(id).await;
        assert_eq!(log.len(), 1, "{log:?}");
        assert_eq!(log[0]["status"], "succeeded", "{log:?}");
        let numbers: Vec<&Value> =
            log[0]["attempts"].as_array().expect("attempts").iter().map(|a| &a["attempt"]).collect();
        assert_eq!(numbers, [&json!(1)], "the crash used up no attempt: the second receive made attempt 1");
    }
}
