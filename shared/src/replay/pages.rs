//! A recovery, a page at a time: the window's deliveries are read oldest first, `RECOVERY_PAGE` at
//! a time, so that memory holds one page whatever the window; each finished one to resend is
//! marked with its new delivery's id before the new delivery's message is sent (naming its event,
//! not carrying it). A recovery retried after it stopped (a timeout, a crash) finds the marks and
//! makes no second new delivery: it sends a delayed copy of a marked one's message when that
//! new delivery has not started, which the deliver step drops if the first message carries it.
//! A pending one, still being retried, is not marked (its steps are its attempts').

use std::time::{Duration, Instant};

use super::{again, created_at};
use crate::error::Error;
use crate::model::{DeliveryStatus, DeliveryStep, QueueMessage, RecoveryPage, WebhookRecord};
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
    webhook: &WebhookRecord,
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
                None if delivery.status == DeliveryStatus::Pending => {
                    // Still being retried: a mark would take the step its next attempt records.
                    // Unmarked, it is sent again by a retried recovery, as a resend would.
                    fresh.extend(again(webhook, &delivery, ids.new_id(), false).map(QueueMessage::from));
                }
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

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use serde_json::json;

    use super::*;
    use crate::model::{DeliveryStatus, EntityId, Owner, Timestamp, WebhookId};
    use crate::replay::Recovery;
    use crate::runtime::RandomIds;
    use crate::store::{DeliveryGet, MemoryStore, WebhookGet};
    use crate::testing::{OWNER, WEBHOOK, Waits, store_of};

    const FAILED: usize = 250;
    const COPY_DELAY: Duration = Duration::from_secs(60);

    /// The fixture's webhook, with `FAILED` failed deliveries.
    async fn with_failed_deliveries() -> (MemoryStore, WebhookRecord) {
        let store = store_of(json!({"name": "Down for a while", "eventUrl": "https://api.example.com/hooks"})).await;
        let (owner, id) = (EntityId::parse(OWNER).expect("uuid"), WebhookId::parse(WEBHOOK).expect("uuid"));
        let webhook = store.get_webhook(Owner::Entity(owner), id).await.expect("get").expect("the webhook");
        for n in 0..FAILED {
            let event = (format!("evt-{n}"), "booking.created".to_string());
            let step = DeliveryStep::of(RandomIds.new_id(), id, owner, (&event.0, &event.1), 1, DeliveryStatus::Failed);
            assert_eq!(store.record_step(&step).await.expect("record"), Recorded::Written);
        }
        (store, webhook)
    }

    // Paused time: the copies' delay passes at once when the test reads the queue.
    #[tokio::test(start_paused = true)]
    async fn a_recovery_goes_a_page_at_a_time_and_its_retry_makes_no_second_delivery() {
        let (store, webhook) = with_failed_deliveries().await;
        let waits = Waits::default();
        // Asked a moment later: a window ends at its request, before the deliveries it makes.
        let now = Timestamp::new(chrono::Utc::now() + chrono::Duration::seconds(1));
        let since = Timestamp::new(now.get() - chrono::Duration::hours(1));
        let first = Recovery { since, until: None, statuses: vec![DeliveryStatus::Failed] }.first_page(&webhook, now);
        // No time left after a page: one page, and the rest of the window to go on with.
        let one_page = (Duration::ZERO, COPY_DELAY);
        let (sent, mut rest) =
            resend_for(&store, &waits.queue, &RandomIds, &webhook, first.clone(), one_page).await.expect("page");
        assert_eq!((sent, rest.is_some()), (RECOVERY_PAGE, true));
        // The same request again (its answer was lost): the page's new deliveries have not started,
        // so each gets a delayed copy of its message, and none a second new delivery.
        let (again, _) = resend_for(&store, &waits.queue, &RandomIds, &webhook, first, one_page).await.expect("again");
        assert_eq!(again, RECOVERY_PAGE);
        let mut pages = 1;
        while let Some(page) = rest {
            (_, rest) = resend_for(&store, &waits.queue, &RandomIds, &webhook, page, one_page).await.expect("page");
            pages += 1;
        }
        assert_eq!(pages, FAILED.div_ceil(RECOVERY_PAGE));

        let messages = waits.sent().await;
        let new: Vec<_> = messages.iter().filter(|m| !m.resent).map(|m| m.delivery_id).collect();
        let distinct: HashSet<_> = new.iter().copied().collect();
        assert_eq!((new.len(), distinct.len()), (FAILED, FAILED), "one new delivery of each failed one");
        let copies: Vec<_> = messages.iter().filter(|m| m.resent).collect();
        assert_eq!(copies.len(), RECOVERY_PAGE);
        assert!(copies.iter().all(|c| distinct.contains(&c.delivery_id)), "copies of the new deliveries only");
        let originals = store.deliveries_after(webhook.info.id, uuid::Uuid::nil(), 2 * FAILED).await.expect("list");
        let marks: HashSet<_> = originals.iter().filter_map(|d| d.resent_as).collect();
        assert_eq!((originals.len(), marks), (FAILED, distinct), "each failed one marked with its new delivery");
    }

    #[tokio::test]
    async fn a_pending_delivery_recovered_keeps_its_own_retries() {
        let store = store_of(json!({"name": "Slow to recover", "eventUrl": "https://api.example.com/hooks"})).await;
        let (owner, id) = (EntityId::parse(OWNER).expect("uuid"), WebhookId::parse(WEBHOOK).expect("uuid"));
        let webhook = store.get_webhook(Owner::Entity(owner), id).await.expect("get").expect("the webhook");
        let delivery = RandomIds.new_id();
        let mut step = DeliveryStep::of(delivery, id, owner, ("evt-1", "booking.created"), 1, DeliveryStatus::Pending);
        let next = Timestamp::new(chrono::Utc::now() + chrono::Duration::minutes(30));
        step.next_attempt_at = Some(next);
        store.record_step(&step).await.expect("record");
        let waits = Waits::default();
        let now = Timestamp::new(chrono::Utc::now() + chrono::Duration::seconds(1));
        let since = Timestamp::new(now.get() - chrono::Duration::hours(1));
        let page = Recovery { since, until: None, statuses: vec![DeliveryStatus::Pending] }.first_page(&webhook, now);
        let (sent, _) = resend_for(&store, &waits.queue, &RandomIds, &webhook, page, (Duration::ZERO, COPY_DELAY))
            .await
            .expect("recover");
        assert_eq!(sent, 1);
        let state = store.delivery_state(id, delivery).await.expect("state").expect("recorded");
        assert_eq!((state.step, state.next_attempt_at), (1, Some(next)), "its next attempt is still step 2, then");
    }
}
