//! A FIFO webhook's order while its head waits (docs/contract.md 14). SQS FIFO gives a group's
//! messages one at a time, in order, while the webhook's gate is open. A head that must wait
//! (its retry, its turn) does not stay in flight there, where the group's later messages would
//! expire behind it: it closes the gate (the store's `FifoGate`) and waits as any message does,
//! on the standard queue. The group's later messages, received meanwhile, are parked in the table
//! in their order. When the head finishes, the first parked message becomes the head (a write on
//! condition that the finished one still is) and then goes to the standard queue, and so on,
//! until none is left and the gate opens. Only the head ever releases, and parks and releases are
//! counted, so a message parked while the last head opens the gate is never left behind. A
//! release that stopped between its write and its send is finished by the old head's message,
//! which comes back: finding another head that has not started, it sends that head's message.

use std::time::Duration;

use uuid::Uuid;

use super::Deliverer;
use crate::error::Error;
use crate::model::{DeliveryMessage, DeliveryStatus, Timestamp, WebhookId};

/// What the gate did with a FIFO webhook's message.
pub(super) enum Gate {
    /// Let it through: the webhook waits behind no one (`None`), or behind this very message.
    Through(Option<Uuid>),
    /// Parked it behind the webhook's waiting head.
    Parked,
}

impl Deliverer<'_> {
    /// Lets a FIFO webhook's message through, or parks it behind the webhook's waiting head.
    pub(super) async fn gate(&self, message: &DeliveryMessage) -> Result<Gate, Error> {
        let (webhook, delivery) = (message.webhook_id, message.delivery_id);
        let Some(head) = self.store.fifo_head(webhook).await? else { return Ok(Gate::Through(None)) };
        if head.delivery == delivery {
            return Ok(Gate::Through(Some(delivery)));
        }
        let state = self.store.delivery_state(webhook, delivery).await?;
        if state.is_some_and(|s| s.status != DeliveryStatus::Pending) {
            // A finished one (a head's message back after its release stopped): nothing to park,
            // but the head it made may never have been sent.
            if let Some(lost) = head.message
                && self.store.delivery_state(webhook, head.delivery).await?.is_none()
            {
                self.queues.unordered.enqueue(&[lost.into()], Duration::ZERO).await?;
            }
            return Ok(Gate::Parked);
        }
        let parked = DeliveryMessage { due: None, deferrals: 0, ..message.with_event_named() };
        if !self.store.park(webhook, &parked).await? {
            // The gate opened since it was read: nothing waits ahead of it any more.
            return Ok(Gate::Through(None));
        }
        tracing::info!(webhook_id = %webhook, delivery_id = %delivery, head = %head.delivery, "parked behind the webhook's waiting head");
        Ok(Gate::Parked)
    }

    /// The head `head` finished: the first parked message becomes the head, or the gate opens
    /// when none is left.
    pub(super) async fn release(&self, webhook: WebhookId, head: Uuid) -> Result<(), Error> {
        loop {
            let Some((place, next)) = self.store.first_parked(webhook).await? else {
                if self.store.open_fifo(webhook, head).await? {
                    tracing::info!(webhook_id = %webhook, %head, "the webhook's FIFO gate opens");
                    return Ok(());
                }
                // One was parked while the gate was opening: it is the next head.
                continue;
            };
            // Its time makes its copy a new message to deduplication, wherever it goes.
            let next = DeliveryMessage { due: Some(Timestamp::new(self.clock.now())), ..next };
            if !self.store.release_parked(webhook, head, &place, &next).await? {
                // Released already, by this head's message received twice.
                return Ok(());
            }
            self.queues.unordered.enqueue(&[next.clone().into()], Duration::ZERO).await?;
            tracing::info!(webhook_id = %webhook, %head, next = %next.delivery_id, "the next parked message goes");
            return Ok(());
        }
    }
}
