//! The queue contract: every check runs on `MemoryQueue` and on `SqsQueue` (the SQS emulator),
//! so the embedded runner's queue behaves as SQS does for publish, deliver and the trigger.

use std::collections::HashSet;
use std::time::Duration;

use serde_json::json;
use shared::model::{DeliveryMessage, EntityId, Event, Timestamp, WebhookId};
use shared::queue::{MemoryQueue, Queue, SqsQueue};

use crate::helpers::{ENTITY, unique_table};

/// Short, so that a message comes back within a test; whole seconds, as SQS counts them.
const VISIBILITY: Duration = Duration::from_secs(1);
/// How long a receive waits for a message that should be there (the emulator is shared).
const WAIT: Duration = Duration::from_secs(5);

fn message() -> DeliveryMessage {
    let event = Event {
        id: "evt-queue".into(),
        event_type: "booking.created".into(),
        occurred_at: Timestamp::new(chrono::Utc::now()),
        data: json!({"bookingId": "b-1"}),
    };
    let owner = EntityId::parse(ENTITY).expect("uuid");
    DeliveryMessage {
        delivery_id: uuid::Uuid::now_v7(),
        webhook_id: WebhookId(uuid::Uuid::now_v7()),
        owner_identifier: owner,
        global: true,
        event,
        resent: false,
        fifo: false,
    }
}

async fn a_received_message_is_hidden_until_its_visibility_ends(queue: &dyn Queue) {
    let sent = message();
    queue.enqueue(std::slice::from_ref(&sent), Duration::ZERO).await.expect("enqueue");
    let first = queue.receive(10, WAIT).await.expect("receive");
    assert_eq!(first.len(), 1);
    assert_eq!(first[0].receive_count, 1);
    let body: DeliveryMessage = serde_json::from_str(&first[0].body).expect("the body is the message");
    assert_eq!(body, sent);
    assert!(queue.receive(10, Duration::ZERO).await.expect("receive").is_empty(), "hidden while visible elsewhere");

    tokio::time::sleep(VISIBILITY).await;
    let again = queue.receive(10, WAIT).await.expect("receive");
    assert_eq!((again.len(), again[0].receive_count), (1, 2), "back after the visibility timeout, counted");
    queue.delete(&[again[0].receipt_handle.clone()]).await.expect("delete");
    tokio::time::sleep(VISIBILITY + Duration::from_millis(500)).await;
    assert!(queue.receive(10, Duration::ZERO).await.expect("receive").is_empty(), "deleted for good");
}

async fn a_delayed_message_comes_back_after_its_delay(queue: &dyn Queue) {
    queue.enqueue(&[message()], Duration::ZERO).await.expect("enqueue");
    let received = queue.receive(10, WAIT).await.expect("receive");
    queue.delay_message(&received[0].receipt_handle, Duration::from_secs(3)).await.expect("delay");
    tokio::time::sleep(VISIBILITY + Duration::from_millis(500)).await;
    assert!(queue.receive(10, Duration::ZERO).await.expect("receive").is_empty(), "the delay outlasts the visibility");
    tokio::time::sleep(Duration::from_secs(2)).await;
    let back = queue.receive(10, WAIT).await.expect("receive");
    assert_eq!(back.len(), 1, "back after the delay: the retry timer");
}

async fn a_message_sent_with_a_delay_is_received_after_it(queue: &dyn Queue) {
    queue.enqueue(&[message()], Duration::from_secs(2)).await.expect("enqueue");
    assert!(queue.receive(10, Duration::ZERO).await.expect("receive").is_empty(), "not before its delay");
    let received = queue.receive(10, Duration::from_secs(4)).await.expect("receive");
    assert_eq!((received.len(), received[0].receive_count), (1, 1), "received once its delay passed");
}

async fn more_than_a_batch_is_enqueued_whole(queue: &dyn Queue) {
    let messages: Vec<DeliveryMessage> = (0..23).map(|_| message()).collect();
    queue.enqueue(&messages, Duration::ZERO).await.expect("enqueue");
    let mut seen = HashSet::new();
    while seen.len() < messages.len() {
        let batch = queue.receive(10, WAIT).await.expect("receive");
        assert!(!batch.is_empty() && batch.len() <= 10, "batches of 1 to 10, got {}", batch.len());
        for received in &batch {
            let body: DeliveryMessage = serde_json::from_str(&received.body).expect("JSON");
            assert!(seen.insert(body.delivery_id), "each message once");
        }
        queue.delete(&batch.iter().map(|r| r.receipt_handle.clone()).collect::<Vec<_>>()).await.expect("delete");
    }
    let sent: HashSet<_> = messages.iter().map(|m| m.delivery_id).collect();
    assert_eq!(seen, sent);
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
    let body: DeliveryMessage = serde_json::from_str(&dead[0].body).expect("the body is the message");
    assert_eq!(body, sent);
}

const MAX_RECEIVES: u32 = 2;

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
        SqsQueue::ensure(sqs, &unique_table(), VISIBILITY, MAX_RECEIVES).await.expect("create the queues");
    a_message_received_too_often_moves_to_the_dead_letters(&queue, &dead_letters).await;
}

async fn sqs_queue() -> SqsQueue {
    let sqs = aws_sdk_sqs::Client::new(&shared::aws::sdk_config().await);
    SqsQueue::ensure(sqs, &unique_table(), VISIBILITY, 20).await.expect("create the queue").0
}

macro_rules! contract {
    ($($check:ident),* $(,)?) => {
        mod memory {
            $(#[tokio::test]
            async fn $check() {
                super::$check(&super::MemoryQueue::new(super::VISIBILITY)).await;
            })*
        }
        mod sqs_emulator {
            $(#[tokio::test]
            async fn $check() {
                super::$check(&super::sqs_queue().await).await;
            })*
        }
    };
}

contract!(
    a_received_message_is_hidden_until_its_visibility_ends,
    a_delayed_message_comes_back_after_its_delay,
    a_message_sent_with_a_delay_is_received_after_it,
    more_than_a_batch_is_enqueued_whole,
);
