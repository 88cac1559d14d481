//! A recovery, a page at a time: the window's deliveries are read oldest first, `RECOVERY_PAGE` at
//! a time, so that memory holds one page whatever the window; each one to resend is marked with
//! its new delivery's id before the new delivery's message is sent (naming its event, not
//! carrying it). A recovery retried after it stopped (a timeout, a crash) finds the marks and
//! makes no second new delivery: it sends a delayed copy of a marked one's message when that
//! new delivery has not started, which the deliver step drops if the first message carries it.

use std::time::{Duration, Instant};

use super::{again, created_at};
use crate::error::Error;
use crate::model::{DeliveryStep, QueueMessage, RecoveryPage, Webhook};
use crate::queue::DeliveryEnqueue;
use crate::runtime::IdGenerator;
use crate::store::{DeliveryGet, DeliveryList, DeliveryRecord, Recorded};

/// Deliveries read at once.
const RECOVERY_PAGE: usize = 100;

/// Resends the deliveries of `page`'s window, page after page, until the window ends or
/// `budget` is spent; answers how many it sent and, when the window goes on, its next page.
pub(super) async fn resend_for<S, Q>(
    store: &S,
    queue: &Q,
    ids: &dyn IdGenerator,
    webhook: &Webhook,
    mut page: RecoveryPage,
    (budget, copy_delay): (Duration, Duration),
) -> Result<(usize, Option<RecoveryPage>), Error>
where
    S: DeliveryList + DeliveryGet + DeliveryRecord + ?Sized,
    Q: DeliveryEnqueue + ?Sized,
{
    let started = Instant::now();
    let mut resent = 0;
    page.deferrals = 0;
    loop {
        let after = page.after.unwrap_or_default();
        let deliveries = store.deliveries_after(page.webhook_id, after, RECOVERY_PAGE).await?;
        let mut ended = deliveries.len() < RECOVERY_PAGE;
        let (mut fresh, mut copies): (Vec<QueueMessage>, Vec<QueueMessage>) = (Vec::new(), Vec::new());
        for delivery in deliveries {
            let Some(created) = created_at(delivery.delivery_id) else { continue };
            if created >= page.until {
                ended = true;
                break;
            }
            page.after = Some(delivery.delivery_id);
            if created < page.since || !page.statuses.contains(&delivery.status) {
                continue;
            }
            match delivery.resent_as {
                None => {
                    let id = ids.new_id();
                    let Some(message) = again(webhook, &delivery, id, false) else { continue };
                    // Marked first: a retry of this recovery then finds the mark.
                    if store.record_step(&DeliveryStep::resent(&delivery, id)).await? == Recorded::Written {
                        fresh.push(message.into());
                    }
                }
                Some(id) if store.delivery_state(webhook.info.id, id).await?.is_none() => {
                    copies.extend(again(webhook, &delivery, id, true).map(QueueMessage::from));
                }
                Some(_) => {}
            }
        }
        resent += fresh.len() + copies.len();
        if !fresh.is_empty() {
            queue.enqueue(&fresh, Duration::ZERO).await?;
        }
        if !copies.is_empty() {
            queue.enqueue(&copies, copy_delay).await?;
        }
        if ended {
            return Ok((resent, None));
        }
        if started.elapsed() >= budget {
            return Ok((resent, Some(page)));
        }
    }
}
