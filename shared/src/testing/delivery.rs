//! The deliver function's test doubles: a scripted receiver, a recording timer, in-memory
//! queues for its waits, a store holding the sample event's webhook, and the handler run on them.

use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;
use aws_lambda_events::event::sqs::SqsEvent;
use serde_json::{Value, json};

use crate::config::Settings;
use crate::delivery::{Answer, Deliverer, Outgoing, WebhookSender};
use crate::model::{
    Catalog, DeliveryMessage, EntityId, Owner, Timestamp, UrlPolicy, WebhookId, WebhookIn, WebhookRecord, WebhookRules,
    WebhookSecret,
};
use crate::queue::{MemoryQueue, QueueConsumer, QueueError, Routed, Timer};
use crate::runtime::Clock;
use crate::store::{MemoryStore, WebhookInsert};

pub(crate) const WEBHOOK: &str = "0193f0a0-1111-7222-8333-444455556666";
/// The sample event's entity, the API events' too.
pub(crate) const OWNER: &str = super::ENTITY;

/// Answers its statuses in turn, the last one from then on, and remembers what it was sent.
pub(crate) struct ScriptedSender {
    answers: Vec<u16>,
    pub(crate) sent: Mutex<Vec<Outgoing>>,
}

#[async_trait]
impl WebhookSender for ScriptedSender {
    async fn send(&self, request: Outgoing) -> Result<Answer, String> {
        let mut sent = self.sent.lock().expect("lock");
        sent.push(request);
        let status = self.answers[(sent.len() - 1).min(self.answers.len() - 1)];
        Ok(Answer { status, retry_after: None, body: "ok".into() })
    }
}

pub(crate) fn answering(status: u16) -> ScriptedSender {
    scripted(&[status])
}

pub(crate) fn scripted(statuses: &[u16]) -> ScriptedSender {
    ScriptedSender { answers: statuses.to_vec(), sent: Mutex::new(Vec::new()) }
}

/// Remembers what it was asked to send when; refuses as many requests as `refusals` says first
/// (Scheduler throttled or unreachable).
#[derive(Default)]
pub(crate) struct RecordingTimer(pub(crate) Mutex<Vec<(DeliveryMessage, Timestamp)>>, pub(crate) Mutex<usize>);

#[async_trait]
impl Timer for RecordingTimer {
    async fn send_at(&self, message: &DeliveryMessage, at: Timestamp) -> Result<(), QueueError> {
        let mut refusals = self.1.lock().expect("lock");
        if *refusals > 0 {
            *refusals -= 1;
            return Err(QueueError::unavailable("the timer refused"));
        }
        self.0.lock().expect("lock").push((message.clone(), at));
        Ok(())
    }
}

/// Where the deliver function's waits go, in memory, for a test to look into.
pub(crate) struct Waits {
    pub(crate) queue: MemoryQueue,
    pub(crate) fifo: MemoryQueue,
    pub(crate) timer: RecordingTimer,
}

impl Default for Waits {
    fn default() -> Self {
        let visibility = Duration::from_secs(60);
        Self {
            queue: MemoryQueue::new(visibility),
            fifo: MemoryQueue::new(visibility).fifo(),
            timer: RecordingTimer::default(),
        }
    }
}

impl Waits {
    /// Every message on the standard queue, delayed or not, in the order they become visible
    /// (in a test on paused time, which this moves on).
    pub(crate) async fn sent(&self) -> Vec<DeliveryMessage> {
        let mut sent = Vec::new();
        loop {
            let received = self.queue.receive(1000, crate::queue::MAX_SEND_DELAY).await.expect("receive");
            if received.is_empty() {
                return sent;
            }
            sent.extend(received.iter().map(|r| serde_json::from_str::<DeliveryMessage>(&r.body).expect("a message")));
            self.queue
                .delete(&received.into_iter().map(|r| r.receipt_handle).collect::<Vec<_>>())
                .await
                .expect("delete");
        }
    }
}

/// The sample SQS event of the deliver function, received `receive_count` times, its body `body`
/// when given.
pub(crate) fn sqs_event(receive_count: u32, body: Option<&str>) -> SqsEvent {
    let mut event: Value =
        serde_json::from_str(include_str!("../../../events/deliver-webhooks.json")).expect("fixture");
    event["Records"][0]["attributes"]["ApproximateReceiveCount"] = json!(receive_count.to_string());
    if let Some(body) = body {
        event["Records"][0]["body"] = json!(body);
    }
    serde_json::from_value(event).expect("lambda's SQS event")
}

pub(crate) async fn store_with(enabled: bool, url: &str) -> MemoryStore {
    store_of(json!({"name": "Sync", "eventUrl": url, "enabled": enabled, "headers": {"X-Api-Key": "abc"}})).await
}

/// A store holding the fixture's webhook as `body` describes it.
pub(crate) async fn store_of(body: Value) -> MemoryStore {
    let store = MemoryStore::new();
    let owner = Owner::Entity(EntityId::parse(OWNER).expect("uuid"));
    let rules = WebhookRules { owner, policy: UrlPolicy { allow_private: true }, catalog: Catalog::defaults() };
    let input = WebhookIn::parse(body.as_object().expect("object"), &rules, None).expect("valid webhook");
    let webhook = WebhookRecord::create(
        input,
        WebhookId::parse(WEBHOOK).expect("uuid"),
        owner,
        "user",
        Some("user"),
        Timestamp::new(chrono::Utc::now()),
        WebhookSecret::from_key(&[3; 32]),
    );
    store.insert_webhook(&webhook).await.expect("insert webhook");
    store
}

pub(crate) fn message() -> DeliveryMessage {
    serde_json::from_str(sqs_event(1, None).records[0].body.as_deref().expect("body")).expect("message")
}

/// The deliver handler on `event`, at `clock`'s time, its waits and notices sent to `waits`;
/// answers the ids of the messages kept on their queue.
pub(crate) async fn run_with(
    store: &MemoryStore,
    sender: &dyn WebhookSender,
    waits: &Waits,
    (clock, settings): (&dyn Clock, &Settings),
    event: SqsEvent,
) -> Vec<String> {
    let queues = Routed { unordered: &waits.queue, fifo: &waits.fifo };
    let deliverer = Deliverer { clock, ..Deliverer::new(store, queues, &waits.timer, sender, settings) };
    deliverer.deliver_batch(event).await.batch_item_failures.into_iter().map(|f| f.item_identifier).collect()
}
