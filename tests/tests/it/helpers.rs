//! `TestApp`: a base URL, a client and a token minter, for the runner on a free port or the
//! deployed stack; and DynamoDB Local access.

use std::time::Duration;

use reqwest::{Client, Method, RequestBuilder, Response, StatusCode};
use rstest_reuse::template;
use serde_json::{Value, json};
use shared::config::Settings;
use shared::model::UrlPolicy;
use shared::queue::QueueConfig;
use shared::rate_limit::RatePolicy;
use shared::retry::RetrySchedule;
use shared::runtime::ApiContext;
use shared::sealing::Sealer;
use shared::store::DynamoStore;
use std::sync::Arc;
use webhooks_local::{App, Backend, DevAuth, FIFO_QUEUES, QUEUES};

use crate::tokens::Tokens;

mod deployed;
mod operator;

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

/// The AWS emulator of the deployed stack, with its test credentials.
fn emulator_config(endpoint: &str) -> aws_config::SdkConfig {
    use aws_config::{BehaviorVersion, Region};
    use aws_sdk_sqs::config::{Credentials, SharedCredentialsProvider};
    aws_config::SdkConfig::builder()
        .behavior_version(BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .region(Region::new("us-east-1"))
        .credentials_provider(SharedCredentialsProvider::new(Credentials::new("test", "test", None, None, "stack")))
        .build()
}

/// A sealer of a new local key, as a runner makes on first run.
pub fn new_sealer() -> Arc<Sealer> {
    Arc::new(Sealer::with_new_local_key().expect("a sealer"))
}

pub fn unique_table() -> String {
    format!("webhooks-test-{}", uuid::Uuid::new_v4().simple())
}

/// A store on a new table of DynamoDB Local.
pub async fn dynamo_store() -> DynamoStore {
    let store = DynamoStore::new(dynamo_client().await, unique_table(), new_sealer());
    store.ensure_table().await.expect("create the test table");
    store
}

fn aws_backend() -> Backend {
    assert!(
        std::env::var_os("AWS_ENDPOINT_URL_SQS").is_some() && std::env::var_os("AWS_ENDPOINT_URL_DYNAMODB").is_some(),
        "AWS_ENDPOINT_URL_DYNAMODB and AWS_ENDPOINT_URL_SQS are not set: run the integration tests with `make test`"
    );
    let sealer = new_sealer();
    Backend::Aws { table: unique_table(), queue_url: None, fifo_queue_url: None, queue_name: unique_table(), sealer }
}

/// The retry schedule and attempt timeout of every black-box target. The stack test deploys
/// the template with the same attempts and timeout (its last wait longer, to go through
/// EventBridge Scheduler: `STACK_SCHEDULE`), and `TestApp::stack` checks that it did.
pub const SCHEDULE: &str = "1s,1s,1s";
pub const STACK_SCHEDULE: &str = "1s,1s,12s";
pub const ATTEMPTS: usize = 4;
pub const TIMEOUT: Duration = Duration::from_secs(2);
/// Longer than any test's receiver fails (4 attempts of up to 2 s over about 25 s on the stack),
/// so that only the test of auto-disable sees a webhook disabled on the deployed stack, which
/// they share.
pub const DISABLE_AFTER: &str = "40s";

/// The runners' settings: private receivers allowed, `schedule`, `timeout`, `DISABLE_AFTER`.
fn settings(schedule: &str, timeout: Duration) -> Settings {
    let schedule = RetrySchedule::parse(schedule).expect("schedule");
    let disable_after = shared::config::parse_duration(DISABLE_AFTER).expect("duration");
    Settings { schedule, timeout, url_policy: UrlPolicy { allow_private: true }, disable_after, ..Default::default() }
}

/// Where a black-box test runs: the runner in this process on either backend, the deployed
/// stack behind API Gateway (`scripts/stack-test.sh`, which runs only the `stack` cases), or the
/// functions in SAM's containers behind `sam local start-api` (`scripts/sam-local.sh`, which runs
/// only the `sam_local` cases: a few of the API's, each named where it is declared).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    Memory,
    DynamoDb,
    Stack,
    SamLocal,
}

/// Every black-box test runs on each target, as a case of its own.
#[template]
#[rstest]
#[case::memory(Target::Memory)]
#[case::dynamodb(Target::DynamoDb)]
#[ignore = "the deployed stack: run by scripts/stack-test.sh"]
#[case::stack(Target::Stack)]
pub fn targets(#[case] target: Target) {}

/// Where a store or queue contract check runs: in memory, or on DynamoDB Local and the SQS
/// emulator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backing {
    Memory,
    Emulators,
}

/// Every contract check runs on each backing, as a case of its own.
#[template]
#[rstest]
#[case::memory(Backing::Memory)]
#[case::emulators(Backing::Emulators)]
pub fn backings(#[case] backing: Backing) {}

/// A new, empty store on `backing`.
pub async fn store_on(backing: Backing) -> Box<dyn shared::store::Store> {
    match backing {
        Backing::Memory => Box::new(shared::store::MemoryStore::new()),
        Backing::Emulators => Box::new(dynamo_store().await),
    }
}

/// A runner made for one test: what it sets beyond a black-box target's defaults.
#[derive(Debug, Clone, Default)]
pub struct Custom {
    /// The retry schedule (default `SCHEDULE`).
    pub schedule: Option<&'static str>,
    /// Every caller's API rate (default the contract's 20/s).
    pub api_rate: Option<RatePolicy>,
    /// How long its queues keep a message (default SQS's 14 days).
    pub retention: Option<Duration>,
    /// How long a webhook fails before it is disabled (default `DISABLE_AFTER`).
    pub disable_after: Option<Duration>,
    /// The most attempts at once to a slow receiver (default the service's).
    pub receiver_concurrency: Option<u32>,
    /// Private URLs refused, as in production (by default receivers on loopback are allowed).
    pub production_urls: bool,
}

pub struct TestApp {
    pub base: String,
    pub client: Client,
    pub tokens: Tokens,
    /// A token for every entity.
    pub token: String,
    /// An entity of this app's own, so that apps sharing a deployed stack never meet.
    pub entity: String,
    /// Where its delivery queue's counts are read: the runner in this process, or the queue of
    /// the stack or of SAM local on an emulator.
    queues: Queues,
    /// Its DynamoDB table, read as an operator would (none in memory).
    table: Option<(aws_sdk_dynamodb::Client, String)>,
}

enum Queues {
    Runner(Arc<App>),
    /// The queues of functions outside this process, at `endpoint`.
    Remote {
        endpoint: String,
        url: String,
        ingest_url: String,
    },
}

impl TestApp {
    /// A black-box target: receivers on loopback allowed, retried on `SCHEDULE`.
    pub async fn on(target: Target) -> Self {
        match target {
            Target::Memory => Self::delivering(false, SCHEDULE, TIMEOUT).await,
            Target::DynamoDb => Self::delivering(true, SCHEDULE, TIMEOUT).await,
            Target::Stack => Self::stack(),
            Target::SamLocal => Self::sam_local(),
        }
    }

    /// The memory backend with production URL rules.
    pub async fn memory() -> Self {
        let production = Settings { url_policy: UrlPolicy::default(), ..settings("1s", TIMEOUT) };
        Self::start(Backend::Memory, production).await
    }

    /// An app allowed to deliver to loopback receivers, retrying on `schedule`.
    pub async fn delivering(aws: bool, schedule: &str, timeout: Duration) -> Self {
        let backend = if aws { aws_backend() } else { Backend::Memory };
        Self::start(backend, settings(schedule, timeout)).await
    }

    /// A black-box target whose webhooks are disabled after failing for `disable_after`; on the
    /// deployed stack, `DISABLE_AFTER`.
    pub async fn disabling_after(target: Target, disable_after: Duration) -> Self {
        let backend = match target {
            Target::Memory => Backend::Memory,
            Target::DynamoDb => aws_backend(),
            Target::Stack => return Self::stack(),
            Target::SamLocal => return Self::sam_local(),
        };
        Self::start(backend, Settings { disable_after, ..settings(SCHEDULE, TIMEOUT) }).await
    }

    /// Two runners, as two instances would run, on one new table of DynamoDB Local (each with
    /// a queue of its own); tokens of the first are good for both.
    pub async fn two_on_one_table() -> (Self, Self) {
        let (table, sealer) = (unique_table(), new_sealer());
        let on_table = || Backend::Aws {
            table: table.clone(),
            queue_url: None,
            fifo_queue_url: None,
            queue_name: unique_table(),
            sealer: sealer.clone(),
        };
        let first = Self::start(on_table(), settings(SCHEDULE, TIMEOUT)).await;
        let second = Self::start(on_table(), settings(SCHEDULE, TIMEOUT)).await;
        (first, second)
    }

    async fn start(backend: Backend, settings: Settings) -> Self {
        Self::start_with(backend, settings, QUEUES).await
    }

    async fn start_with(backend: Backend, settings: Settings, queues: QueueConfig) -> Self {
        let (secret, issuer, audience) = ("integration-test-secret", "webhooks-local", "webhooks-api");
        let auth = DevAuth::new(secret, issuer, audience);
        let fifo = QueueConfig { max_receives: FIFO_QUEUES.max_receives, ..queues };
        let app = App::with_queues(ApiContext::new(settings), &backend, auth, (&queues, &fifo)).await;
        let app = Arc::new(app.expect("start the app"));
        let addr = webhooks_local::spawn(app.clone()).await.expect("bind a loopback port");
        let table = match backend {
            Backend::Aws { table, .. } => Some((dynamo_client().await, table)),
            Backend::Memory => None,
        };
        let tokens = Tokens::hs256(secret.as_bytes(), issuer, audience);
        Self::with(format!("http://{addr}"), tokens, Queues::Runner(app), table)
    }

    /// A black-box target set as `custom` says; on the deployed stack, as deployed.
    pub async fn custom(target: Target, custom: Custom) -> Self {
        let backend = match target {
            Target::Memory => Backend::Memory,
            Target::DynamoDb => aws_backend(),
            Target::Stack => return Self::stack(),
            Target::SamLocal => return Self::sam_local(),
        };
        let defaults = settings(custom.schedule.unwrap_or(SCHEDULE), TIMEOUT);
        let settings = Settings {
            url_policy: UrlPolicy { allow_private: !custom.production_urls },
            api_rate: custom.api_rate.unwrap_or(defaults.api_rate),
            disable_after: custom.disable_after.unwrap_or(defaults.disable_after),
            receiver_concurrency: custom.receiver_concurrency.unwrap_or(defaults.receiver_concurrency),
            ..defaults
        };
        let queues = QueueConfig { retention: custom.retention.unwrap_or(QUEUES.retention), ..QUEUES };
        Self::start_with(backend, settings, queues).await
    }

    fn with(base: String, tokens: Tokens, queues: Queues, table: Option<(aws_sdk_dynamodb::Client, String)>) -> Self {
        let token = tokens.issue("*");
        let entity = uuid::Uuid::new_v4().to_string();
        Self { base, client: Client::new(), tokens, token, entity, queues, table }
    }

    pub fn token_for(&self, entities: &str) -> String {
        self.tokens.issue(entities)
    }

    /// A token of a caller of another account, managing `entities`.
    pub fn token_of(&self, account: &str, entities: &str) -> String {
        self.tokens.issue_as(account, entities)
    }

    /// A request to `path` with the all-entities token.
    pub fn request(&self, method: Method, path: &str) -> RequestBuilder {
        self.client.request(method, format!("{}{path}", self.base)).bearer_auth(&self.token)
    }

    /// This app's entity's webhooks.
    pub fn webhooks(&self) -> String {
        Self::webhooks_path(&self.entity)
    }

    pub fn webhook(&self, id: &str) -> String {
        Self::webhook_path(&self.entity, id)
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

    /// Sends `request` as a well-behaved client does: after a 429, again once `Retry-After`
    /// has passed (the helpers that make many requests in a row use it).
    pub async fn send_within_limits(mut request: RequestBuilder) -> Response {
        loop {
            let again = request.try_clone().expect("a request without a streamed body");
            let response = request.send().await.expect("send");
            let Some(wait) = response.headers().get("retry-after").filter(|_| response.status() == 429) else {
                return response;
            };
            let seconds: u64 = wait.to_str().ok().and_then(|s| s.parse().ok()).expect("Retry-After in seconds");
            tokio::time::sleep(Duration::from_secs(seconds)).await;
            request = again;
        }
    }

    pub async fn create_with(&self, body: &Value) -> Value {
        let response = Self::send_within_limits(self.request(Method::POST, &self.webhooks()).json(body)).await;
        assert_eq!(response.status(), 201, "{body}");
        response.json().await.expect("JSON")
    }

    pub async fn publish(&self, event: &Value) -> Response {
        let path = format!("/api/managing-entity/{}/event", self.entity);
        Self::send_within_limits(self.request(Method::POST, &path).json(event)).await
    }

    /// `POST .../events` with `{"events": events}`: its status and body.
    pub async fn publish_batch(&self, events: Value) -> (StatusCode, Value) {
        let path = format!("/api/managing-entity/{}/events", self.entity);
        let response =
            Self::send_within_limits(self.request(Method::POST, &path).json(&json!({"events": events}))).await;
        let status = response.status();
        (status, response.json().await.expect("JSON"))
    }

    /// The webhook's delivery log, newest first.
    pub async fn deliveries(&self, id: &str) -> Vec<Value> {
        let path = format!("{}/deliveries", self.webhook(id));
        let page: Value = Self::send_within_limits(self.request(Method::GET, &path)).await.json().await.expect("JSON");
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
        self.request(Method::GET, &self.webhook(id)).send().await.expect("get")
    }
}
