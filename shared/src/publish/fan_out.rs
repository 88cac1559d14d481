//! Sending a plan's messages. FIFO webhooks' messages are sent by the publish itself, so that
//! each such webhook gets its events in publish order. The other deliveries' messages, when they
//! fit one `SendMessageBatch` (ten, and 1 MiB) and few webhooks are paused, are sent as they are;
//! otherwise as one message per page of `FAN_OUT_PAGE` targets, which the deliver function turns
//! into the page's messages and skipped records (`send_page`): publishing answers within its time
//! however many webhooks an entity has, and a page that fails is retried by its queue. Messages
//! are built ten at a time, so that big events never take more than a batch's worth of copies.

use std::time::Duration;

use futures::{StreamExt, TryStreamExt};
use uuid::Uuid;

use crate::error::Error;
use crate::model::{
    CarriedEvent, DeliveryMessage, DeliveryStatus, DeliveryStep, EntityId, Event, FanOutPage, FanOutPlan, FanOutTarget,
    QueueMessage,
};
use crate::queue::{DeliveryEnqueue, ENQUEUE_BATCH, fits_one_batch};
use crate::store::{DeliveryGet, DeliveryRecord, DeliveryStats, EventGet, FAN_OUT_PAGE, Tally, delivery_states};

/// Skipped records written at once; a publish writes at most this many itself.
const CONCURRENT_WRITES: usize = 10;

/// The message of `target`'s delivery of `event`, planned in `plan`.
fn message_for(
    target: &FanOutTarget,
    owner: EntityId,
    event: &Event,
    plan: Option<Uuid>,
    resent: bool,
) -> DeliveryMessage {
    DeliveryMessage {
        global: target.global,
        plan,
        resent,
        fifo: target.fifo,
        ..DeliveryMessage::first(target.delivery_id, target.webhook_id, owner, CarriedEvent::Whole(event.clone()))
    }
}

/// Sends the plan's messages (for a retried publish, `!created`: copies of the unstarted
/// deliveries', delayed by `resend_delay`); answers how many deliveries it is for.
pub(super) async fn send<S, Q>(
    store: &S,
    queue: &Q,
    owner: EntityId,
    plan: &FanOutPlan,
    created: bool,
    resend_delay: Duration,
) -> Result<usize, Error>
where
    S: DeliveryGet + DeliveryRecord + DeliveryStats + ?Sized,
    Q: DeliveryEnqueue + ?Sized,
{
    let enabled = plan.targets.iter().filter(|t| t.enabled).count();
    // A copy waits, so that an original still on the queue starts first and the copy is dropped.
    let delay = if created { Duration::ZERO } else { resend_delay };
    let event = plan.event();
    let message = |t: &FanOutTarget| -> QueueMessage { message_for(t, owner, &event, plan.plan, !created).into() };
    let fifo: Vec<&FanOutTarget> = plan.targets.iter().filter(|t| t.enabled && t.fifo).collect();
    let mut sent_fifo = 0;
    for chunk in fifo.chunks(ENQUEUE_BATCH) {
        let messages: Vec<QueueMessage> = chunk.iter().map(|t| message(t)).collect();
        let messages = if created { messages } else { unstarted(store, messages).await? };
        queue.enqueue(&messages, delay).await?;
        sent_fifo += messages.len();
    }

    let unordered = || plan.targets.iter().filter(|t| t.enabled && !t.fifo);
    let direct: Vec<QueueMessage> = unordered().take(ENQUEUE_BATCH + 1).map(message).collect();
    let paused = plan.targets.iter().filter(|t| !t.enabled).count();
    // A plan stored before plans had ids has no pages to send: its messages go as they are.
    let paged = match plan.plan {
        Some(plan_id) if !fits_one_batch(&direct)? || paused > CONCURRENT_WRITES => Some(plan_id),
        _ => None,
    };
    let Some(plan_id) = paged else {
        record_skipped(store, owner, &event, plan.plan, &plan.targets).await?;
        let direct = if direct.len() > ENQUEUE_BATCH { unordered().map(message).collect() } else { direct };
        let direct = if created { direct } else { unstarted(store, direct).await? };
        queue.enqueue(&direct, delay).await?;
        return Ok(if created { enabled } else { sent_fifo + direct.len() });
    };
    let pages = plan.targets.len().div_ceil(FAN_OUT_PAGE);
    let messages: Vec<QueueMessage> = (0..pages)
        .map(|page| {
            let page = u32::try_from(page).map_err(Error::internal)?;
            let fan_out = FanOutPage {
                owner_identifier: owner,
                event_id: plan.event_id.clone(),
                plan: plan_id,
                page,
                resent: !created,
                deferrals: 0,
            };
            Ok(QueueMessage::FanOut { fan_out })
        })
        .collect::<Result<_, Error>>()?;
    queue.enqueue(&messages, delay).await?;
    tracing::info!(event_id = %plan.event_id, pages, deliveries = enabled, "fanning out by pages");
    Ok(enabled)
}

/// The messages of `page`'s enabled unordered deliveries (a FIFO webhook's went with the
/// publish), naming their event only; none when the plan is no longer kept.
pub async fn page_targets<S: EventGet + ?Sized>(
    store: &S,
    page: &FanOutPage,
) -> Result<Option<Vec<DeliveryMessage>>, Error> {
    let (owner, plan) = (page.owner_identifier, Some(page.plan));
    let Some((event, targets)) = store.plan_page(owner, &page.event_id, page.plan, page.page).await? else {
        return Ok(None);
    };
    let named = CarriedEvent::Whole(event).named();
    let messages = targets
        .iter()
        .filter(|t| t.enabled && !t.fifo)
        .map(|t| DeliveryMessage {
            global: t.global,
            plan,
            fifo: t.fifo,
            ..DeliveryMessage::first(t.delivery_id, t.webhook_id, owner, named.clone())
        })
        .collect();
    Ok(Some(messages))
}

/// The deliver step of a fan-out page: records its paused webhooks' deliveries as skipped and
/// sends its enabled unordered ones' messages (a retried publish's page: copies of those not
/// started), ten at a time.
pub async fn send_page<S, Q>(store: &S, queue: &Q, page: &FanOutPage) -> Result<(), Error>
where
    S: EventGet + DeliveryGet + DeliveryRecord + DeliveryStats + ?Sized,
    Q: DeliveryEnqueue + ?Sized,
{
    let owner = page.owner_identifier;
    let Some((event, targets)) = store.plan_page(owner, &page.event_id, page.plan, page.page).await? else {
        tracing::warn!(event_id = %page.event_id, page = page.page, "a fan-out page whose plan is no longer kept");
        return Ok(());
    };
    record_skipped(store, owner, &event, Some(page.plan), &targets).await?;
    let unordered: Vec<&FanOutTarget> = targets.iter().filter(|t| t.enabled && !t.fifo).collect();
    for chunk in unordered.chunks(ENQUEUE_BATCH) {
        let messages: Vec<QueueMessage> =
            chunk.iter().map(|t| message_for(t, owner, &event, Some(page.plan), page.resent).into()).collect();
        let messages = if page.resent { unstarted(store, messages).await? } else { messages };
        queue.enqueue(&messages, Duration::ZERO).await?;
    }
    Ok(())
}

/// Those of `messages` whose deliveries have no step yet.
async fn unstarted<S: DeliveryGet + ?Sized>(
    store: &S,
    messages: Vec<QueueMessage>,
) -> Result<Vec<QueueMessage>, Error> {
    let keys: Vec<_> = messages
        .iter()
        .filter_map(|m| match m {
            QueueMessage::Delivery(d) => Some((d.webhook_id, d.delivery_id)),
            _ => None,
        })
        .collect();
    let started = delivery_states(store, &keys).await?;
    Ok(messages
        .into_iter()
        .filter(|m| !matches!(m, QueueMessage::Delivery(d) if started.contains_key(&d.delivery_id)))
        .collect())
}

/// Records the paused webhooks' deliveries among `targets` as skipped. A retried publish writes
/// them again, as its first try may have stopped before; a step already stored is left as it is.
async fn record_skipped<S: DeliveryRecord + DeliveryStats + ?Sized>(
    store: &S,
    owner: EntityId,
    event: &Event,
    plan: Option<Uuid>,
    targets: &[FanOutTarget],
) -> Result<(), Error> {
    let skipped: Vec<_> = targets
        .iter()
        .filter(|t| !t.enabled)
        .map(|t| {
            let mut step = DeliveryStep::of(
                t.delivery_id,
                t.webhook_id,
                owner,
                (&event.id, &event.event_type),
                1,
                DeliveryStatus::Skipped,
            );
            step.plan = plan;
            step
        })
        .collect();
    if skipped.is_empty() {
        return Ok(());
    }
    // Collected first: a stream of borrowing closures would not be `Send` for every lifetime.
    let tally = Tally::new(store);
    let writes: Vec<_> = skipped.iter().map(|step| tally.record(step)).collect();
    let written = futures::stream::iter(writes).buffer_unordered(CONCURRENT_WRITES).try_collect::<Vec<_>>().await;
    tally.flush().await;
    written?;
    Ok(())
}
