//! What the crate's own tests share: a clock they move, API Gateway events to hand the
//! handlers, and the deliver function's doubles. Each test module keeps only its own helpers.

mod api_event;
mod delivery;
mod faults;

use chrono::{DateTime, Utc};

pub(crate) use api_event::{ApiEvent, ENTITY, OTHER_ENTITY};
pub(crate) use delivery::{
    OWNER, RecordingTimer, ScriptedSender, WEBHOOK, Waits, answering, message, run_with, scripted, sqs_event, store_of,
    store_with,
};
pub(crate) use faults::{FlakyQueue, FlakyStore};

use crate::publish::Notices;
use crate::queue::{MemoryQueue, Routed};
use crate::runtime::{ApiContext, Clock};
use crate::store::MemoryStore;

/// Where the notices of the webhook writes these tests make go: a store and a queue of their
/// own, where no webhook lists them (`publish::notices` tests them).
pub(crate) struct Unheard(MemoryStore, MemoryQueue);

impl Unheard {
    pub(crate) fn new() -> Self {
        Self(MemoryStore::new(), MemoryQueue::new(std::time::Duration::from_secs(60)))
    }

    pub(crate) fn notices<'a>(&'a self, ctx: &'a ApiContext) -> Notices<'a> {
        let queues = Routed { unordered: &self.1, fifo: &self.1 };
        Notices { store: &self.0, queues, ids: ctx.ids.as_ref(), resend_delay: ctx.settings.resend_delay }
    }
}

/// A clock tests set and move.
pub(crate) struct ManualClock(pub(crate) std::sync::Mutex<DateTime<Utc>>);

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        *self.0.lock().expect("lock")
    }
}

impl ManualClock {
    pub(crate) fn at(at: DateTime<Utc>) -> Self {
        Self(std::sync::Mutex::new(at))
    }

    pub(crate) fn advance(&self, seconds: i64) {
        *self.0.lock().expect("lock") += chrono::Duration::seconds(seconds);
    }

    pub(crate) fn advance_by(&self, by: std::time::Duration) {
        *self.0.lock().expect("lock") += chrono::Duration::from_std(by).expect("a duration");
    }
}
