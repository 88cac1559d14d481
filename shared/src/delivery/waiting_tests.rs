//! Waiting without holding a message in flight, on an injected clock: a long retry through the
//! timer kept to the second, a webhook's turns reserved ahead, an outage of hours sent back and
//! never dead-lettered, a FIFO webhook's later messages parked behind its waiting head, and the
//! next message of a step whose invocation stopped after recording it.

use std::time::Duration;

use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde_json::json;
use uuid::Uuid;

use super::*;
use crate::model::{DeliveryMessage, DeliveryStatus, Event, FanOutPlan, FanOutTarget, Timestamp};
use crate::queue::{DeliveryEnqueue, QueueConsumer, Received, TIMER_LEAD, lambda_event};
use crate::retry::RetrySchedule;
use crate::store::{DeliveryGet, DeliveryRecord, EventInsert, FifoGate, MemoryStore};
use crate::testing::ManualClock;
use crate::testing::{Waits, answering, message, run_with, sqs_event, store_of};

fn start() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-12-06T09:00:00Z").expect("time").with_timezone(&Utc)
}

fn settings(schedule: &str) -> Settings {
    Settings { schedule: RetrySchedule::parse(schedule).expect("schedule"), ..Default::default() }
}

fn carrying(message: &DeliveryMessage) -> SqsEvent {
    sqs_event(1, Some(&serde_json::to_string(message).expect("JSON")))
}

/// The fixture's message, of its step 1, its event's plan kept in `store` (as publishing keeps it).
async fn planned(store: &MemoryStore) -> DeliveryMessage {
    let message = DeliveryMessage { step: 1, ..message() };
    let event = message.event.whole().expect("the fixture's event").clone();
    let target = FanOutTarget {
        webhook_id: message.webhook_id,
        delivery_id: message.delivery_id,
        enabled: true,
        global: false,
        account: None,
        fifo: false,
    };
    let Event { id, event_type, occurred_at, data } = event;
    let plan = FanOutPlan { plan: None, event_id: id, event_type, occurred_at, data, targets: vec![target] };
    let ttl = Duration::from_secs(60);
    store.open_fan_out(message.owner_identifier, &plan, Timestamp::new(Utc::now()), ttl).await.expect("plan");
    message
}

async fn state(store: &MemoryStore) -> crate::model::DeliveryState {
    let message = message();
    store.delivery_state(message.webhook_id, message.delivery_id).await.expect("read").expect("a step")
}

/// The next batch of `queue`, paused time and `clock` moved on together to its first message.
async fn next(queue: &crate::queue::MemoryQueue, clock: &ManualClock) -> Vec<Received> {
    let before = tokio::time::Instant::now();
    let received = queue.receive(10, Duration::from_secs(24 * 3600)).await.expect("receive");
    clock.advance_by(before.elapsed());
    received
}

#[tokio::test(start_paused = true)]
async fn a_thirteen_hour_wait_goes_to_the_timer_and_ends_to_the_second() {
    let store = store_of(json!({"name": "Sync", "eventUrl": "https://api.example.com/hooks"})).await;
    let (clock, settings, waits) = (ManualClock::at(start()), settings("13h"), Waits::default());
    let failing = answering(503);
    let first = planned(&store).await;
    assert!(run_with(&store, &failing, &waits, (&clock, &settings), carrying(&first)).await.is_empty());

    let due = state(&store).await.next_attempt_at.expect("the retry's time");
    let waited = (due.get() - start()).num_seconds();
    assert!((13 * 3600 * 8 / 10..=13 * 3600 * 12 / 10).contains(&waited), "13 h ± 20%: {waited} s");
    let depths = waits.queue.depths().await.expect("depths");
    assert_eq!((depths.in_flight, depths.delayed, depths.visible), (0, 0, 0), "nothing on the queue while it waits");
    let (woken, at) = waits.timer.0.lock().expect("lock")[0].clone();
    assert_eq!((woken.step, woken.due), (2, Some(due)));
    assert_eq!(at.get(), due.get() - chrono::Duration::from_std(TIMER_LEAD).expect("lead"), "woken early by the lead");
    assert!(woken.event.whole().is_none(), "the timer's message names its event only");

    // The timer sends it 37 s after its time (a scheduler's lateness): the rest is a delay.
    clock.advance_by((at.get() - clock.now()).to_std().expect("ahead") + Duration::from_secs(37));
    let answered = answering(200);
    assert!(run_with(&store, &answered, &waits, (&clock, &settings), carrying(&woken)).await.is_empty());
    assert!(answered.sent.lock().expect("lock").is_empty(), "not before its time");
    let hop = next(&waits.queue, &clock).await;
    assert_eq!(clock.now(), due.get(), "the delay ends at the retry's time, to the second");
    let event = lambda_event(&hop, &waits.queue.arn());
    assert!(run_with(&store, &answered, &waits, (&clock, &settings), event).await.is_empty());
    let delivery = store.get_delivery(woken.webhook_id, woken.delivery_id).await.expect("get").expect("delivery");
    assert_eq!((delivery.status, delivery.attempts.len()), (DeliveryStatus::Succeeded, 2));
    assert_eq!(delivery.attempts[1].at, due, "attempt 2 made at its time, with the event read from its plan");
}

#[tokio::test(start_paused = true)]
async fn turns_beyond_a_near_one_are_reserved_and_waited_for_as_messages_not_attempts() {
    let store = store_of(json!({"name": "Small", "eventUrl": "https://api.example.com/hooks", "rateLimit": 1})).await;
    let (clock, settings, waits) = (ManualClock::at(start()), settings("5s"), Waits::default());
    let ok = answering(200);
    for _ in 0..6 {
        let message = DeliveryMessage { delivery_id: Uuid::now_v7(), step: 1, ..message() };
        assert!(run_with(&store, &ok, &waits, (&clock, &settings), carrying(&message)).await.is_empty());
    }
    // The first goes, the next two wait their turns (1 and 2 s) in the invocation; three are
    // reserved turns, waited for as messages.
    assert_eq!(ok.sent.lock().expect("lock").len(), 3);
    let later = waits.sent().await;
    let turns: Vec<i64> = later.iter().map(|m| (m.due.expect("due").get() - start()).num_seconds()).collect();
    assert_eq!(turns, [3, 4, 5], "one a second, each its own");
    assert!(later.iter().all(|m| m.turn && m.step == 1), "turns taken, no attempt used");
}

#[tokio::test(start_paused = true)]
async fn a_six_hour_outage_sends_the_message_back_backing_off_and_never_dead_letters_it() {
    let store = Arc::new(store_of(json!({"name": "Sync", "eventUrl": "https://api.example.com/hooks"})).await);
    let (clock, settings, waits) = (ManualClock::at(start()), settings("5s"), Waits::default());
    let ok = answering(200);
    store.fail_all(true);
    let mut sent_back = 0;
    let mut batch = lambda_event(&[], &waits.queue.arn());
    batch.records = carrying(&message()).records;
    while clock.now() < start() + chrono::Duration::hours(6) {
        let kept = run_with(&store, &ok, &waits, (&clock, &settings), batch).await;
        assert!(kept.is_empty(), "never kept on its queue, where its receives would count");
        sent_back += 1;
        let received = next(&waits.queue, &clock).await;
        assert_eq!((received.len(), received[0].receive_count), (1, 1), "a new message each time");
        waits.queue.delete(&[received[0].receipt_handle.clone()]).await.expect("delete");
        batch = lambda_event(&received, &waits.queue.arn());
    }
    let last: DeliveryMessage = serde_json::from_str(batch.records[0].body.as_deref().expect("body")).expect("JSON");
    assert_eq!(last.deferrals, sent_back);
    // Backing off to SQS's 15 minutes: about 10 sends in the first quarter hour, then 4 an hour.
    assert!((25..=40).contains(&sent_back), "{sent_back} sends back in 6 h");
    store.fail_all(false);
    assert!(run_with(&store, &ok, &waits, (&clock, &settings), batch).await.is_empty());
    assert_eq!(ok.sent.lock().expect("lock").len(), 1);
    assert_eq!(state(&store).await.status, DeliveryStatus::Succeeded, "delivered once the store is back");
}

#[tokio::test(start_paused = true)]
async fn a_step_whose_invocation_stopped_after_recording_it_gets_its_next_message_once() {
    let store = store_of(json!({"name": "Sync", "eventUrl": "https://api.example.com/hooks"})).await;
    let (clock, settings, waits) = (ManualClock::at(start()), settings("1h"), Waits::default());
    let first = DeliveryMessage { step: 1, ..message() };
    let mut step = first.step(1, DeliveryStatus::Pending);
    step.next_attempt_at = Some(Timestamp::new(start() + chrono::Duration::hours(1)));
    store.record_step(&step).await.expect("record");
    let failing = answering(500);
    // A copy received once while the retry waits: the recorder sent the retry; nothing to do.
    assert!(run_with(&store, &failing, &waits, (&clock, &settings), carrying(&first)).await.is_empty());
    assert!(waits.timer.0.lock().expect("lock").is_empty());
    // The same message received again: its invocation stopped before sending the retry.
    let again = sqs_event(2, Some(&serde_json::to_string(&first).expect("JSON")));
    assert!(run_with(&store, &failing, &waits, (&clock, &settings), again).await.is_empty());
    let scheduled = waits.timer.0.lock().expect("lock").clone();
    assert_eq!(scheduled.len(), 1);
    assert_eq!((scheduled[0].0.step, scheduled[0].0.due), (2, step.next_attempt_at));
    assert!(failing.sent.lock().expect("lock").is_empty(), "no attempt repeated");
}

/// Runs the trigger of both queues, FIFO first, until neither has had a message for a minute.
async fn drain(
    store: &MemoryStore,
    sender: &dyn WebhookSender,
    waits: &Waits,
    clock: &ManualClock,
    settings: &Settings,
) {
    loop {
        let fifo = waits.fifo.receive(1, Duration::ZERO).await.expect("receive");
        let (received, arn) = if fifo.is_empty() {
            let before = tokio::time::Instant::now();
            let received = waits.queue.receive(10, Duration::from_secs(60)).await.expect("receive");
            clock.advance_by(before.elapsed());
            (received, waits.queue.arn())
        } else {
            (fifo, waits.fifo.arn())
        };
        if received.is_empty() {
            return;
        }
        let event = lambda_event(&received, &arn);
        assert!(run_with(store, sender, waits, (clock, settings), event).await.is_empty());
        let queue = if arn.ends_with(".fifo") { &waits.fifo } else { &waits.queue };
        queue.delete(&received.into_iter().map(|r| r.receipt_handle).collect::<Vec<_>>()).await.expect("delete");
    }
}

#[tokio::test(start_paused = true)]
async fn a_fifo_webhooks_later_messages_wait_parked_behind_its_retried_head_and_go_in_order() {
    let store =
        store_of(json!({"name": "Ordered", "eventUrl": "https://api.example.com/hooks", "ordering": "fifo"})).await;
    let (clock, settings, waits) = (ManualClock::at(start()), settings("30s,30s"), Waits::default());
    let first = planned(&store).await;
    let ids: Vec<Uuid> = (0..4).map(|_| Uuid::now_v7()).collect();
    let messages: Vec<QueueMessage> =
        ids.iter().map(|id| DeliveryMessage { delivery_id: *id, fifo: true, ..first.clone() }.into()).collect();
    waits.fifo.enqueue(&messages, Duration::ZERO).await.expect("enqueue");
    // The head fails twice, then everything succeeds.
    let receiver = crate::testing::scripted(&[500, 500, 200]);
    drain(&store, &receiver, &waits, &clock, &settings).await;
    let sent = receiver.sent.lock().expect("lock").len();
    assert_eq!(sent, 6, "the head three times, then each of the three after it once");
    for id in &ids {
        let delivery = store.get_delivery(message().webhook_id, *id).await.expect("get").expect("delivery");
        assert_eq!(delivery.status, DeliveryStatus::Succeeded);
    }
    let attempts: Vec<_> =
        futures::future::join_all(ids.iter().map(|id| store.get_delivery(message().webhook_id, *id)))
            .await
            .into_iter()
            .map(|d| d.expect("get").expect("delivery").attempts[0].at)
            .collect();
    assert!(attempts.windows(2).all(|w| w[0] <= w[1]), "first attempts in publish order: {attempts:?}");
    let head = store.get_delivery(message().webhook_id, ids[0]).await.expect("get").expect("delivery");
    let last_of_head = head.attempts.last().expect("attempts").at;
    let next = store.get_delivery(message().webhook_id, ids[1]).await.expect("get").expect("delivery");
    assert!(next.attempts[0].at >= last_of_head, "the second went only once the head succeeded");
    let gate = crate::store::FifoGate::fifo_head(&store, message().webhook_id).await.expect("gate");
    assert!(gate.is_none(), "the gate opens");
}

#[tokio::test(start_paused = true)]
async fn a_wait_the_timer_refused_after_the_step_was_recorded_is_asked_for_again() {
    let store = store_of(json!({"name": "Sync", "eventUrl": "https://api.example.com/hooks"})).await;
    let (clock, settings, waits) = (ManualClock::at(start()), settings("1h"), Waits::default());
    *waits.timer.1.lock().expect("lock") = 1;
    let failing = answering(503);
    let first = planned(&store).await;
    // The attempt is recorded, then the timer refuses: an outage, and the message goes back.
    assert!(run_with(&store, &failing, &waits, (&clock, &settings), carrying(&first)).await.is_empty());
    assert!(waits.timer.0.lock().expect("lock").is_empty());
    let back = next(&waits.queue, &clock).await;
    let event = lambda_event(&back, &waits.queue.arn());
    assert!(run_with(&store, &failing, &waits, (&clock, &settings), event).await.is_empty());
    let scheduled = waits.timer.0.lock().expect("lock").clone();
    assert_eq!(scheduled.len(), 1, "the retry is scheduled once the timer takes it");
    assert_eq!((scheduled[0].0.step, scheduled[0].0.due), (2, state(&store).await.next_attempt_at));
    assert_eq!(failing.sent.lock().expect("lock").len(), 1, "no attempt repeated");
}

#[tokio::test(start_paused = true)]
async fn a_retried_publishs_copy_that_a_fifo_gate_lets_through_as_its_head_lets_the_next_go() {
    let store =
        store_of(json!({"name": "Ordered", "eventUrl": "https://api.example.com/hooks", "ordering": "fifo"})).await;
    let (clock, settings, waits) = (ManualClock::at(start()), settings("30s"), Waits::default());
    let head = DeliveryMessage { fifo: true, ..planned(&store).await };
    let after = DeliveryMessage { delivery_id: Uuid::now_v7(), ..head.clone() };
    // The head finished; a copy of it, parked before, was released as the head again.
    store.hold_fifo(head.webhook_id, head.delivery_id).await.expect("hold");
    assert!(store.park(head.webhook_id, &after).await.expect("park"));
    store.record_step(&head.step(1, DeliveryStatus::Succeeded)).await.expect("record");
    let copy = DeliveryMessage { resent: true, ..head.clone() };
    let mut batch = carrying(&copy);
    batch.records[0].event_source_arn = Some(waits.fifo.arn());
    assert!(run_with(&store, &answering(200), &waits, (&clock, &settings), batch).await.is_empty());
    let released = waits.sent().await;
    assert_eq!(released.iter().map(|m| m.delivery_id).collect::<Vec<_>>(), [after.delivery_id], "the next one goes");
    let gate = crate::store::FifoGate::fifo_head(&store, head.webhook_id).await.expect("gate").expect("closed");
    assert_eq!(gate.delivery, after.delivery_id);
}

#[tokio::test(start_paused = true)]
async fn a_turn_arrives_a_second_early_and_a_full_reservation_comes_back_minutes_later() {
    let store = store_of(json!({"name": "Small", "eventUrl": "https://api.example.com/hooks", "rateLimit": 1})).await;
    let (clock, settings, waits) = (ManualClock::at(start()), settings("5s"), Waits::default());
    let ok = answering(200);
    // 900 turns a second apart fill SQS's 15 minutes; the last few find none to reserve.
    for _ in 0..904 {
        let message = DeliveryMessage { delivery_id: Uuid::now_v7(), step: 1, ..message() };
        assert!(run_with(&store, &ok, &waits, (&clock, &settings), carrying(&message)).await.is_empty());
    }
    let before = tokio::time::Instant::now();
    let first = waits.queue.receive(1, Duration::from_secs(60)).await.expect("receive");
    let message: DeliveryMessage = serde_json::from_str(&first[0].body).expect("a message");
    let due = (message.due.expect("due").get() - start()).to_std().expect("ahead");
    assert_eq!((due.as_secs(), before.elapsed().as_secs()), (3, 2), "the turn 3 s ahead comes at 2 s");
    let waiting: Vec<DeliveryMessage> = waits.sent().await;
    let unreserved: Vec<_> = waiting.iter().filter(|m| !m.turn).collect();
    assert!(!unreserved.is_empty(), "{} waiting, all reserved", waiting.len());
    for message in unreserved {
        let wait = (message.due.expect("due").get() - start()).num_seconds();
        assert!((360..=900).contains(&wait), "asks again in minutes, not every second: {wait} s");
    }
}
