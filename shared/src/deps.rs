//! What every function is given: its clients and settings, built once where the process starts
//! (a Lambda's `main` through `crate::aws::deps`, the runner from its backend) and borrowed by
//! each invocation, as the Lambda runtime's examples build their clients in `main`.

use std::sync::Arc;

use crate::delivery::{Deliverer, HttpSender};
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
    /// The HTTP client of attempts (the deliver function's and the test send's).
    pub sender: HttpSender,
}

impl Deps {
    /// Both delivery queues, each message to its own.
    pub fn queues(&self) -> Routed<'_> {
        Routed { unordered: self.unordered.as_ref(), fifo: self.fifo.as_ref() }
    }

    /// The deliver function on these clients, its waits past SQS's longest delay given to `timer`.
    pub fn deliverer<'a>(&'a self, timer: &'a dyn Timer) -> Deliverer<'a> {
        Deliverer::new(self.store.as_ref(), self.queues(), timer, &self.sender, &self.ctx.settings)
    }
}
