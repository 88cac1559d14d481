//! What every function is given: its clients and settings, built once where the process starts
//! (a Lambda's `main` through `crate::aws::deps`, the runner from its backend) and borrowed by
//! each invocation, as the Lambda runtime's examples build their clients in `main`.

use std::sync::{Arc, OnceLock};

use crate::delivery::{Deliverer, HttpSender};
use crate::error::Error;
use crate::portal::PortalKeys;
use crate::publish::Notices;
use crate::queue::{DeliveryQueue, Routed, Timer};
use crate::runtime::ApiContext;
use crate::store::Store;

pub struct Deps {
    /// The clock, the id source and the settings.
    pub ctx: ApiContext,
    pub store: Arc<dyn Store>,
    /// The standard delivery queue, and the FIFO one of FIFO webhooks.
    pub unordered: Arc<dyn DeliveryQueue>,
    pub fifo: Arc<dyn DeliveryQueue>,
    /// The portal key, read once a process needs it (docs/contract.md 16).
    pub portal_keys: PortalKeys,
    /// The HTTP client of attempts, made on first use: only the deliver function and the test
    /// send POST to receivers, so no other function pays for it at a cold start.
    sender: OnceLock<HttpSender>,
}

impl Deps {
    pub fn new(
        ctx: ApiContext,
        store: Arc<dyn Store>,
        (unordered, fifo): (Arc<dyn DeliveryQueue>, Arc<dyn DeliveryQueue>),
    ) -> Self {
        Self { ctx, store, unordered, fifo, portal_keys: PortalKeys::default(), sender: OnceLock::new() }
    }

    /// Both delivery queues, each message to its own.
    pub fn queues(&self) -> Routed<'_> {
        Routed { unordered: self.unordered.as_ref(), fifo: self.fifo.as_ref() }
    }

    /// What publishes the platform's notices, through these clients.
    pub fn notices(&self) -> Notices<'_> {
        let (store, ids) = (self.store.as_ref(), self.ctx.ids.as_ref());
        Notices { store, queues: self.queues(), ids, resend_delay: self.ctx.settings.resend_delay }
    }

    /// The HTTP client of attempts, with the settings' timeout and URL policy.
    pub fn sender(&self) -> Result<&HttpSender, Error> {
        if let Some(sender) = self.sender.get() {
            return Ok(sender);
        }
        let made = self.ctx.settings.sender()?;
        // Two first uses at once make two; one is kept, the same as the other.
        Ok(self.sender.get_or_init(|| made))
    }

    /// The deliver function on these clients, its waits past SQS's longest delay given to `timer`.
    pub fn deliverer<'a>(&'a self, timer: &'a dyn Timer) -> Result<Deliverer<'a>, Error> {
        Ok(Deliverer::new(self.store.as_ref(), self.queues(), timer, self.sender()?, &self.ctx.settings))
    }
}
