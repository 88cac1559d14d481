//! `TestApp`: the local runner on a free port, a client and tokens; and DynamoDB Local access.

use std::sync::Arc;

use reqwest::{Client, Method, RequestBuilder, Response};
use serde_json::{Value, json};
use shared::config::ApiSettings;
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

pub struct TestApp {
    pub base: String,
    pub client: Client,
    pub auth: DevAuth,
    /// A token for every entity.
    pub token: String,
}

impl TestApp {
    pub async fn memory() -> Self {
        Self::start(Backend::Memory).await
    }

    pub async fn dynamo() -> Self {
        dynamo_client().await;
        Self::start(Backend::Aws { table: unique_table() }).await
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

    async fn start(backend: Backend) -> Self {
        let auth = DevAuth::new("integration-test-secret", "webhooks-local", "webhooks-api");
        let ctx = Context::new(ApiSettings::default());
        let app = App::new(ctx, &backend, auth.clone()).await.expect("start the app");
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
        let response = self
            .request(Method::POST, &Self::webhooks_path(ENTITY))
            .json(&json!({"name": name, "eventUrl": "https://api.example.com/hooks", "eventList": ["booking.*"]}))
            .send()
            .await
            .expect("create");
        assert_eq!(response.status(), 201);
        response.json().await.expect("JSON")
    }

    pub async fn get(&self, id: &str) -> Response {
        self.request(Method::GET, &Self::webhook_path(ENTITY, id)).send().await.expect("get")
    }
}
