//! `TestApp`: the local runner on a free port, a client and tokens; and DynamoDB Local access.

use std::sync::Arc;
use std::time::Duration;

use reqwest::{Client, Method, RequestBuilder, Response};
use serde_json::{Value, json};
use shared::config::ApiSettings;
use shared::delivery::DeliverySettings;
use shared::model::UrlPolicy;
use shared::retry::RetrySchedule;
use shared::runtime::Context;
use shared::store::DynamoStore;
use webhooks_local::{App, Backend, DevAuth};

pub const ENTITY: &str = "d5b8a3c2-9e6f-4a1b-8d34-7c2e1f0a5b69";
pub const OTHER_ENTITY: &str = "0d9e8f7a-6b5c-4d3e-8f2a-1b0c9d8e7f6a";

/// The SDK config for DynamoDB Local, whose endpoint `make test` exports.
pub async fn dynamo_client() -> aws_sdk_dynamodb::Client {
    assert!(
        std::env::var_os("AWS_ENDPOINT_URL_DYNAMODB").is_some(),
        "AWS_ENDPOINT_URL_DYNAMODB is not set: run the integration tests with `make test`, which starts DynamoDB Local"
    );
    aws_sdk_dynamodb::Client::new(&shared::aws::sdk_config().await)
}

pub fn unique_table() -> String {
    format!("webhooks-test-{}", uuid::Uuid::new_v4().simple())
}

/// A store on a new table of DynamoDB Local.
pub async fn dynamo_store() -> DynamoStore {
    let store = DynamoStore::new(dynamo_client().await, unique_table());
    store.ensure_table().await.expect("create the test table");
    store
}

fn aws_backend() -> Backend {
    assert!(
        std::env::var_os("AWS_ENDPOINT_URL_SQS").is_some() && std::env::var_os("AWS_ENDPOINT_URL_DYNAMODB").is_some(),
        "AWS_ENDPOINT_URL_DYNAMODB and AWS_ENDPOINT_URL_SQS are not set: run the integration tests with `make test`"
    );
    Backend::Aws { table: unique_table(), queue_url: None, queue_name: unique_table() }
}

fn delivery_settings(schedule: &str, timeout: Duration) -> DeliverySettings {
    let schedule = RetrySchedule::parse(schedule).expect("schedule");
    DeliverySettings { schedule, timeout, url_policy: UrlPolicy { allow_private: true } }
}

pub struct TestApp {
    pub base: String,
    pub client: Client,
    pub auth: DevAuth,
    /// A token for every entity.
    pub token: String,
}

impl TestApp {
    /// The memory backend with production URL rules.
    pub async fn memory() -> Self {
        Self::start(Backend::Memory, UrlPolicy::default(), delivery_settings("1s", Duration::from_secs(2))).await
    }

    /// DynamoDB Local and the SQS emulator, with production URL rules.
    pub async fn dynamo() -> Self {
        Self::start(aws_backend(), UrlPolicy::default(), delivery_settings("1s", Duration::from_secs(2))).await
    }

    /// An app allowed to deliver to loopback receivers, retrying on `schedule`.
    pub async fn delivering(aws: bool, schedule: &str, timeout: Duration) -> Self {
        let backend = if aws { aws_backend() } else { Backend::Memory };
        Self::start(backend, UrlPolicy { allow_private: true }, delivery_settings(schedule, timeout)).await
    }

    /// Runs `check` on both backends: what holds on one must hold on the other.
    pub async fn each<F, Fut>(check: F)
    where
        F: Fn(Arc<TestApp>) -> Fut,
        Fut: std::future::Future<Output = ()>,
    {
        check(Arc::new(Self::memory().await)).await;
        check(Arc::new(Self::dynamo().await)).await;
    }

    async fn start(backend: Backend, url_policy: UrlPolicy, delivery: DeliverySettings) -> Self {
        let auth = DevAuth::new("integration-test-secret", "webhooks-local", "webhooks-api");
        let ctx = Context::new(ApiSettings { url_policy, ..ApiSettings::default() });
        let app = App::new(ctx, delivery, &backend, auth.clone()).await.expect("start the app");
        let addr = webhooks_local::spawn(app).await.expect("bind a loopback port");
        let token = auth.issue("tester", "*", chrono::Duration::hours(1)).expect("token");
        Self { base: format!("http://{addr}"), client: Client::new(), auth, token }
    }

    pub fn token_for(&self, entities: &str) -> String {
        self.auth.issue("tester", entities, chrono::Duration::hours(1)).expect("token")
    }

    /// A request to `path` with the all-entities token.
    pub fn request(&self, method: Method, path: &str) -> RequestBuilder {
        self.client.request(method, format!("{}{path}", self.base)).bearer_auth(&self.token)
    }

    pub fn webhooks_path(entity: &str) -> String {
        format!("/api/managing-entity/{entity}/webhook")
    }

    pub fn webhook_path(entity: &str, id: &str) -> String {
        format!("/api/managing-entity/{entity}/webhook/{id}")
    }

    pub async fn create(&self, name: &str) -> Value {
        self.create_with(
            &json!({"name": name, "eventUrl": "https://api.example.com/hooks", "eventList": ["booking.*"]}),
        )
        .await
    }

    pub async fn create_with(&self, body: &Value) -> Value {
        let response =
            self.request(Method::POST, &Self::webhooks_path(ENTITY)).json(body).send().await.expect("create");
        assert_eq!(response.status(), 201, "{body}");
        response.json().await.expect("JSON")
    }

    pub async fn publish(&self, event: &Value) -> Response {
        let path = format!("/api/managing-entity/{ENTITY}/event");
        self.request(Method::POST, &path).json(event).send().await.expect("publish")
    }

    /// The webhook's delivery log, newest first.
    pub async fn deliveries(&self, id: &str) -> Vec<Value> {
        let path = format!("{}/deliveries", Self::webhook_path(ENTITY, id));
        let page: Value =
            self.request(Method::GET, &path).send().await.expect("deliveries").json().await.expect("JSON");
        page["items"].as_array().cloned().unwrap_or_default()
    }

    /// Polls the delivery log until `done` holds for it, for at most `limit`.
    pub async fn deliveries_when(&self, id: &str, limit: Duration, done: impl Fn(&[Value]) -> bool) -> Vec<Value> {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            let deliveries = self.deliveries(id).await;
            if done(&deliveries) || tokio::time::Instant::now() >= deadline {
                return deliveries;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    pub async fn get(&self, id: &str) -> Response {
        self.request(Method::GET, &Self::webhook_path(ENTITY, id)).send().await.expect("get")
    }
}
