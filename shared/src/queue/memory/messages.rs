//! The messages of a `MemoryQueue`, indexed by group and by the time each next changes state, so
//! that a receive or a delete costs about the batch's size and the number of groups with
//! messages waiting, not the queue's length: a profile of `make load` found a quarter of the
//! runner's time in a queue that looked at every message on every receive and delete.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, BinaryHeap, HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use super::QueueDepths;
use crate::queue::Received;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Sent with a delay not yet over.
    Delayed,
    Visible,
    /// Received, and neither deleted nor visible again.
    InFlight,
}

pub(super) struct Message {
    pub(super) message_id: String,
    pub(super) body: String,
    pub(super) receive_count: u32,
    pub(super) sent_at_millis: i64,
    pub(super) group: Arc<str>,
    sent_at: Instant,
    visible_at: Instant,
    state: State,
}

impl Message {
    pub(super) fn new(body: String, group: Arc<str>, sent_at_millis: i64) -> Self {
        let now = Instant::now();
        Self {
            message_id: uuid::Uuid::new_v4().to_string(),
            body,
            receive_count: 0,
            sent_at_millis,
            group,
            sent_at: now,
            visible_at: now,
            state: State::Visible,
        }
    }
}

#[derive(Default)]
struct Group {
    /// Its visible messages by sequence number: the order they were sent in.
    visible: BTreeSet<u64>,
    in_flight: usize,
    /// Its messages in every state: the group is forgotten at none.
    held: usize,
}

/// How a message leaving the queue without a receive goes: retention forgets it; a redrive
/// policy moves it to the dead-letter queue.
pub(super) struct Redrive {
    pub(super) max_receives: u32,
}

pub(super) struct Messages {
    /// Names this queue in its receipt handles, so that one given to another queue is refused.
    tag: u64,
    /// By sequence number, which is also the order sent (and so of `sent_at`: retention takes
    /// from the front).
    messages: BTreeMap<u64, Message>,
    groups: HashMap<Arc<str>, Group>,
    /// The groups with a visible message: those a receive chooses among.
    waiting: HashSet<Arc<str>>,
    /// When a delayed or in-flight message is next visible; an entry whose message has been
    /// deleted, received again or delayed anew since is skipped when it comes up.
    timeline: BinaryHeap<Reverse<(Instant, u64)>>,
    sequence: u64,
}

impl Messages {
    pub(super) fn new() -> Self {
        Self {
            tag: uuid::Uuid::new_v4().as_u64_pair().0,
            messages: BTreeMap::new(),
            groups: HashMap::new(),
            waiting: HashSet::new(),
            timeline: BinaryHeap::new(),
            sequence: 0,
        }
    }

    pub(super) fn len(&self) -> usize {
        self.messages.len()
    }

    /// Adds `message` as sent now (a dead letter is new to its queue), first visible after `delay`.
    pub(super) fn push(&mut self, mut message: Message, delay: Duration) {
        message.sent_at = Instant::now();
        message.receive_count = 0;
        message.state = State::Visible;
        self.sequence += 1;
        let sequence = self.sequence;
        // The group's name is shared by all its messages, so a group holds one copy of it.
        if let Some((name, _)) = self.groups.get_key_value(&message.group) {
            message.group = name.clone();
        }
        let group = self.groups.entry(message.group.clone()).or_default();
        group.held += 1;
        if delay.is_zero() {
            group.visible.insert(sequence);
            self.waiting.insert(message.group.clone());
        } else {
            message.state = State::Delayed;
            message.visible_at = message.sent_at + delay;
            self.timeline.push(Reverse((message.visible_at, sequence)));
        }
        self.messages.insert(sequence, message);
    }

    /// Brings the queue to `now`: messages past `retention` are forgotten, and delayed or
    /// in-flight ones whose time has come are visible again, or handed back when `redrive`
    /// says they were received too often.
    pub(super) fn advance(&mut self, now: Instant, retention: Duration, redrive: Option<&Redrive>) -> Vec<Message> {
        while let Some((&sequence, first)) = self.messages.first_key_value() {
            if now.duration_since(first.sent_at) < retention {
                break;
            }
            self.remove(sequence);
        }
        let mut dead = Vec::new();
        // Stale entries are dropped from the top even when not due, so that `next_visible` never
        // wakes a waiting receive for a message deleted since.
        while let Some(&Reverse((at, sequence))) = self.timeline.peek() {
            let live = self.messages.get(&sequence).is_some_and(|m| m.state != State::Visible && m.visible_at == at);
            if live && at > now {
                break;
            }
            self.timeline.pop();
            let Some(message) = self.messages.get_mut(&sequence).filter(|_| live) else { continue };
            if redrive.is_some_and(|r| message.receive_count >= r.max_receives) {
                dead.extend(self.remove(sequence));
                continue;
            }
            // Every message's group is held (`push`, `remove`).
            let Some(group) = self.groups.get_mut(&message.group) else { continue };
            if message.state == State::InFlight {
                group.in_flight -= 1;
            }
            message.state = State::Visible;
            group.visible.insert(sequence);
            self.waiting.insert(message.group.clone());
        }
        dead
    }

    /// When the next delayed or in-flight message may be visible.
    pub(super) fn next_visible(&self) -> Option<Instant> {
        self.timeline.peek().map(|Reverse((at, _))| *at)
    }

    /// Receives up to `max` visible messages, each hidden until `visible_at`: from a standard
    /// queue each from the group with the fewest in flight at that point (its oldest first), so
    /// that a tenant with a backlog cannot keep another's message waiting behind it; from a
    /// FIFO queue the first message of each group with none in flight, in the order sent.
    pub(super) fn receive(&mut self, max: usize, fifo: bool, visible_at: Instant) -> Vec<Received> {
        let chosen = if fifo { self.fifo_heads(max) } else { self.fair_share(max) };
        chosen.into_iter().filter_map(|sequence| self.hand_out(sequence, visible_at, fifo)).collect()
    }

    fn fifo_heads(&self, max: usize) -> Vec<u64> {
        // A FIFO queue delays no message, so a group with none in flight has all visible.
        let mut heads: Vec<u64> = self
            .waiting
            .iter()
            .filter_map(|name| self.groups.get(name))
            .filter(|group| group.in_flight == 0)
            .filter_map(|group| group.visible.first().copied())
            .collect();
        heads.sort_unstable();
        heads.truncate(max);
        heads
    }

    fn fair_share(&self, max: usize) -> Vec<u64> {
        let mut next: BinaryHeap<Reverse<(usize, u64, &Arc<str>)>> = self
            .waiting
            .iter()
            .filter_map(|name| {
                let group = self.groups.get(name)?;
                Some(Reverse((group.in_flight, *group.visible.first()?, name)))
            })
            .collect();
        let mut chosen = Vec::with_capacity(max);
        while chosen.len() < max
            && let Some(Reverse((in_flight, sequence, name))) = next.pop()
        {
            chosen.push(sequence);
            if let Some(&later) = self.groups.get(name).and_then(|group| group.visible.range(sequence + 1..).next()) {
                next.push(Reverse((in_flight + 1, later, name)));
            }
        }
        chosen
    }

    fn hand_out(&mut self, sequence: u64, visible_at: Instant, fifo: bool) -> Option<Received> {
        let message = self.messages.get_mut(&sequence)?;
        let group = self.groups.get_mut(&message.group)?;
        group.visible.remove(&sequence);
        group.in_flight += 1;
        if group.visible.is_empty() {
            self.waiting.remove(&message.group);
        }
        message.receive_count += 1;
        message.state = State::InFlight;
        message.visible_at = visible_at;
        self.timeline.push(Reverse((visible_at, sequence)));
        Some(Received {
            message_id: message.message_id.clone(),
            receipt_handle: format!("{:x}.{sequence}.{}", self.tag, message.receive_count),
            body: message.body.clone(),
            receive_count: message.receive_count,
            sent_at_millis: message.sent_at_millis,
            group: Some(message.group.to_string()),
            sequence: fifo.then(|| format!("{sequence:020}")),
        })
    }

    /// The message a receipt handle was given for, while that receive is its latest: a
    /// handle names the queue, the message and the receive (`hand_out`), so a later receive of
    /// the message makes it stale, as SQS's receipt handles are.
    fn received(&self, receipt_handle: &str) -> Option<u64> {
        let mut parts = receipt_handle.splitn(3, '.');
        let (tag, sequence, count) = (parts.next()?, parts.next()?, parts.next()?);
        if u64::from_str_radix(tag, 16) != Ok(self.tag) {
            return None;
        }
        let sequence = sequence.parse().ok()?;
        let message = self.messages.get(&sequence)?;
        (message.receive_count > 0 && count.parse() == Ok(message.receive_count)).then_some(sequence)
    }

    pub(super) fn delete(&mut self, receipt_handle: &str) {
        if let Some(sequence) = self.received(receipt_handle) {
            self.remove(sequence);
        }
    }

    /// Hides a received message until `visible_at`; false when the receipt handle is stale.
    pub(super) fn hide(&mut self, receipt_handle: &str, visible_at: Instant) -> bool {
        let Some(sequence) = self.received(receipt_handle) else { return false };
        let Some(message) = self.messages.get_mut(&sequence) else { return false };
        let Some(group) = self.groups.get_mut(&message.group) else { return false };
        if message.state == State::Visible {
            group.visible.remove(&sequence);
            if group.visible.is_empty() {
                self.waiting.remove(&message.group);
            }
        }
        if message.state != State::InFlight {
            group.in_flight += 1;
        }
        message.state = State::InFlight;
        message.visible_at = visible_at;
        self.timeline.push(Reverse((visible_at, sequence)));
        true
    }

    fn remove(&mut self, sequence: u64) -> Option<Message> {
        let message = self.messages.remove(&sequence)?;
        let Some(group) = self.groups.get_mut(&message.group) else { return Some(message) };
        match message.state {
            State::Visible => {
                group.visible.remove(&sequence);
                if group.visible.is_empty() {
                    self.waiting.remove(&message.group);
                }
            }
            State::InFlight => group.in_flight -= 1,
            State::Delayed => {}
        }
        group.held -= 1;
        if group.held == 0 {
            self.groups.remove(&message.group);
        }
        Some(message)
    }

    pub(super) fn depths(&self) -> QueueDepths {
        self.messages.values().fold(QueueDepths::default(), |mut depths, message| {
            match message.state {
                State::Visible => depths.visible += 1,
                State::InFlight => depths.in_flight += 1,
                State::Delayed => depths.delayed += 1,
            }
            depths
        })
    }
}
