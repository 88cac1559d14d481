//! The queue contract: every check runs on `MemoryQueue` and on `SqsQueue` (the SQS emulator),
//! a case each (`helpers::backings`), so the embedded runner's queue behaves as SQS does for
//! publish, deliver and the trigger.

use std::collections::HashSet;
use std::time::Duration;

use serde_json::json;
use shared::model::{CarriedEvent, DeliveryMessage, EntityId, Event, EventData, QueueMessage, Timestamp, WebhookId};
use shared::queue::{MemoryQueue, Queue, QueueConfig, SqsQueue};

use rstest::rstest;
use rstest_reuse::apply;

use crate::helpers::{Backing, ENTITY, backings, unique_table};

/// Short, so that a message comes back within a test; whole seconds, as SQS counts them.
const VISIBILITY: Duration = Duration::from_secs(1);
/// How long a receive waits for a message that should be there (the emulator is shared).
const WAIT: Duration = Duration::from_secs(5);

fn carrying(data: serde_json::Value) -> QueueMessage {
    let event = Event {
        id: "evt-queue".into(),
        event_type: "booking.created".into(),
        occurred_at: Timestamp::new(chrono::Utc::now()),
        data: EventData::of(&data).expect("JSON"),
    };
    let owner = EntityId::parse(ENTITY).expect("uuid");
    let webhook = WebhookId(uuid::Uuid::now_v7());
    let message = DeliveryMessage::first(uuid::Uuid::now_v7(), webhook, owner, CarriedEvent::Whole(event));
    DeliveryMessage { global: true, ..message }.into()
}

fn message() -> QueueMessage {
    carrying(json!({"bookingId": "b-1"}))
}

fn delivery_id(message: &QueueMessage) -> uuid::Uuid {
    match message {
        QueueMessage::Delivery(m) => m.delivery_id,
        other => panic!("not a delivery: {other:?}"),
    }
}

#[apply(backings)]
#[tokio::test]
async fn a_received_message_is_hidden_until_its_visibility_ends(#[case] backing: Backing) {
    let queue = queue_on(backing).await;
    let queue: &dyn Queue = queue.as_ref();
    let sent = message();
    queue.enqueue(std::slice::from_ref(&sent), Duration::ZERO).await.expect("enqueue");
    let first = queue.receive(10, WAIT).await.expect("receive");
    assert_eq!(first.len(), 1);
    assert_eq!(first[0].receive_count, 1);
    let body: QueueMessage = serde_json::from_str(&first[0].body).expect("the body is the message");
    assert_eq!(body, sent);
    assert!(queue.receive(10, Duration::ZERO).await.expect("receive").is_empty(), "hidden while visible elsewhere");

    tokio::time::sleep(VISIBILITY).await;
    let again = queue.receive(10, WAIT).await.expect("receive");
    assert_eq!((again.len(), again[0].receive_count), (1, 2), "back after the visibility timeout, counted");
    queue.delete(&[again[0].receipt_handle.clone()]).await.expect("delete");
    tokio::time::sleep(VISIBILITY + Duration::from_millis(500)).await;
    assert!(queue.receive(10, Duration::ZERO).await.expect("receive").is_empty(), "deleted for good");
}

#[apply(backings)]
#[tokio::test]
async fn a_delayed_message_comes_back_after_its_delay(#[case] backing: Backing) {
    let queue = queue_on(backing).await;
    let queue: &dyn Queue = queue.as_ref();
    queue.enqueue(&[message()], Duration::ZERO).await.expect("enqueue");
    let received = queue.receive(10, WAIT).await.expect("receive");
    queue.delay_message(&received[0].receipt_handle, Duration::from_secs(3)).await.expect("delay");
    tokio::time::sleep(VISIBILITY + Duration::from_millis(500)).await;
    assert!(queue.receive(10, Duration::ZERO).await.expect("receive").is_empty(), "the delay outlasts the visibility");
    tokio::time::sleep(Duration::from_secs(2)).await;
    let back = queue.receive(10, WAIT).await.expect("receive");
    assert_eq!(back.len(), 1, "back after the delay: the retry timer");
}

#[apply(backings)]
#[tokio::test]
async fn a_message_sent_with_a_delay_is_received_after_it(#[case] backing: Backing) {
    let queue = queue_on(backing).await;
    let queue: &dyn Queue = queue.as_ref();
    queue.enqueue(&[message()], Duration::from_secs(2)).await.expect("enqueue");
    assert!(queue.receive(10, Duration::ZERO).await.expect("receive").is_empty(), "not before its delay");
    let received = queue.receive(10, Duration::from_secs(4)).await.expect("receive");
    assert_eq!((received.len(), received[0].receive_count), (1, 1), "received once its delay passed");
}

#[apply(backings)]
#[tokio::test]
async fn more_than_a_batch_is_enqueued_whole(#[case] backing: Backing) {
    let queue = queue_on(backing).await;
    let queue: &dyn Queue = queue.as_ref();
    let messages: Vec<QueueMessage> = (0..23).map(|_| message()).collect();
    queue.enqueue(&messages, Duration::ZERO).await.expect("enqueue");
    let mut seen = HashSet::new();
    while seen.len() < messages.len() {
        let batch = queue.receive(10, WAIT).await.expect("receive");
        assert!(!batch.is_empty() && batch.len() <= 10, "batches of 1 to 10, got {}", batch.len());
        for received in &batch {
            let body: QueueMessage = serde_json::from_str(&received.body).expect("JSON");
            assert!(seen.insert(delivery_id(&body)), "each message once");
        }
        queue.delete(&batch.iter().map(|r| r.receipt_handle.clone()).collect::<Vec<_>>()).await.expect("delete");
    }
    let sent: HashSet<_> = messages.iter().map(delivery_id).collect();
    assert_eq!(seen, sent);
}

/// Ten messages of 200 KiB events: over SQS's 1 MiB a batch, so in several; and characters SQS
/// refuses in a message body (U+FFFE, U+FFFF) travel escaped, read back as sent.
#[apply(backings)]
#[tokio::test]
async fn big_messages_go_in_batches_of_a_mebibyte_and_every_character_arrives(#[case] backing: Backing) {
    let queue = queue_on(backing).await;
    let queue: &dyn Queue = queue.as_ref();
    let blob = format!("\u{fffe}{}\u{ffff}", "x".repeat(200 * 1024));
    let messages: Vec<QueueMessage> = (0..10).map(|_| carrying(json!({"blob": blob}))).collect();
    queue.enqueue(&messages, Duration::ZERO).await.expect("enqueue");
    let mut received = Vec::new();
    while received.len() < messages.len() {
        let batch = queue.receive(10, WAIT).await.expect("receive");
        assert!(!batch.is_empty(), "{} of {} received", received.len(), messages.len());
        for message in &batch {
            received.push(serde_json::from_str::<QueueMessage>(&message.body).expect("JSON"));
        }
        queue.delete(&batch.iter().map(|r| r.receipt_handle.clone()).collect::<Vec<_>>()).await.expect("delete");
    }
    let ids = |list: &[QueueMessage]| list.iter().map(delivery_id).collect::<HashSet<_>>();
    assert_eq!(ids(&received), ids(&messages));
    assert!(received.contains(&messages[0]), "the data as sent, its characters included");
}

/// A standard queue's message names its tenant (the entity it is for) as its group: what SQS
/// fair queues serve in fair shares.
#[apply(backings)]
#[tokio::test]
async fn a_message_names_its_tenant_as_its_group(#[case] backing: Backing) {
    let queue = queue_on(backing).await;
    let queue: &dyn Queue = queue.as_ref();
    queue.enqueue(&[message()], Duration::ZERO).await.expect("enqueue");
    let received = queue.receive(10, WAIT).await.expect("receive");
    assert_eq!(received[0].group.as_deref(), Some(ENTITY));
}

/// A message sent with a delay is counted delayed, then visible, then in flight once received:
/// what a test reads to show that waiting deliveries hold nothing in flight.
#[apply(backings)]
#[tokio::test]
async fn depths_count_delayed_visible_and_in_flight_messages(#[case] backing: Backing) {
    let queue = queue_on(backing).await;
    let queue: &dyn Queue = queue.as_ref();
    queue.enqueue(&[message()], Duration::from_secs(2)).await.expect("enqueue");
    queue.enqueue(&[message()], Duration::ZERO).await.expect("enqueue");
    let depths = queue.depths().await.expect("depths");
    assert_eq!((depths.delayed, depths.visible, depths.in_flight), (1, 1, 0));
    queue.receive(10, WAIT).await.expect("receive");
    let depths = queue.depths().await.expect("depths");
    assert_eq!((depths.delayed, depths.in_flight), (1, 1));
}

/// A message received `MAX_RECEIVES` times and never deleted (it crashed the function each
/// time) is not received again: it moves to the dead-letter queue, whose consumer gets it.
async fn a_message_received_too_often_moves_to_the_dead_letters(queue: &dyn Queue, dead_letters: &dyn Queue) {
    let sent = message();
    queue.enqueue(std::slice::from_ref(&sent), Duration::ZERO).await.expect("enqueue");
    for receive in 1..=MAX_RECEIVES {
        let received = queue.receive(10, WAIT).await.expect("receive");
        assert_eq!((received.len(), received[0].receive_count), (1, receive));
        tokio::time::sleep(VISIBILITY).await;
    }
    assert!(queue.receive(10, Duration::from_secs(2)).await.expect("receive").is_empty(), "not again");
    let dead = dead_letters.receive(10, WAIT).await.expect("receive the dead letter");
    assert_eq!(dead.len(), 1);
    let body: QueueMessage = serde_json::from_str(&dead[0].body).expect("the body is the message");
    assert_eq!(body, sent);
}

const MAX_RECEIVES: u32 = 2;

fn config(max_receives: u32) -> QueueConfig {
    QueueConfig { visibility_timeout: VISIBILITY, max_receives, retention: shared::queue::MAX_RETENTION }
}

#[tokio::test]
async fn memory_a_message_received_too_often_moves_to_the_dead_letters() {
    let dead_letters = std::sync::Arc::new(MemoryQueue::new(VISIBILITY));
    let queue = MemoryQueue::with_dead_letters(VISIBILITY, MAX_RECEIVES, dead_letters.clone());
    a_message_received_too_often_moves_to_the_dead_letters(&queue, dead_letters.as_ref()).await;
}

#[tokio::test]
async fn sqs_emulator_a_message_received_too_often_moves_to_the_dead_letters() {
    let sqs = aws_sdk_sqs::Client::new(&shared::aws::sdk_config().await);
    let (queue, dead_letters) =
        SqsQueue::ensure(sqs, &unique_table(), &config(MAX_RECEIVES)).await.expect("create the queues");
    a_message_received_too_often_moves_to_the_dead_letters(&queue, &dead_letters).await;
}

/// A new, empty queue on `backing`.
async fn queue_on(backing: Backing) -> Box<dyn Queue> {
    match backing {
        Backing::Memory => Box::new(MemoryQueue::new(VISIBILITY)),
        Backing::Emulators => Box::new(sqs_queue().await),
    }
}

async fn sqs_queue() -> SqsQueue {
    let sqs = aws_sdk_sqs::Client::new(&shared::aws::sdk_config().await);
    SqsQueue::ensure(sqs, &unique_table(), &config(20)).await.expect("create the queue").0
}
