//! Counting recorded steps in their webhooks' hourly statistics (`HourCounters`). The steps of
//! one batch are added up per webhook and hour first, so that a batch writes each once.

use std::collections::BTreeMap;
use std::sync::Mutex;

use futures::StreamExt;

use super::{CONCURRENT_READS, DeliveryRecord, DeliveryStats, Recorded, StoreError};
use crate::model::{DeliveryStep, HourCounters, WebhookId};

pub struct Tally<'a, S: ?Sized> {
    store: &'a S,
    counts: Mutex<BTreeMap<(WebhookId, i64), HourCounters>>,
}

impl<'a, S: DeliveryRecord + DeliveryStats + ?Sized> Tally<'a, S> {
    pub fn new(store: &'a S) -> Self {
        Self { store, counts: Mutex::default() }
    }

    /// Records `step` and, when it is written, counts it.
    pub async fn record(&self, step: &DeliveryStep) -> Result<Recorded, StoreError> {
        let recorded = self.store.record_step(step).await?;
        if recorded == Recorded::Written {
            crate::metrics::step_recorded(step);
        }
        if let (Recorded::Written, Some(delta)) = (recorded, HourCounters::of_step(step)) {
            let mut counts = self.counts.lock().map_err(|_| StoreError::internal("tally lock poisoned"))?;
            counts
                .entry((step.webhook_id, delta.hour))
                .or_insert_with(|| HourCounters { hour: delta.hour, ..HourCounters::default() })
                .add(&delta);
        }
        Ok(recorded)
    }

    /// Adds what was counted to the statistics. A failure is logged, not returned: the steps
    /// are recorded, and the statistics, a view, are then short of them.
    pub async fn flush(self) {
        let counts = self.counts.into_inner().unwrap_or_default();
        let store = self.store;
        let writes: Vec<_> = counts
            .into_iter()
            .map(|((webhook, _), counters)| async move {
                if let Err(err) = store.add_counts(webhook, &counters).await {
                    tracing::warn!(webhook_id = %webhook, error = %crate::error::chain(&err),
                        "recorded steps were not counted in the statistics");
                }
            })
            .collect();
        futures::stream::iter(writes).buffer_unordered(CONCURRENT_READS).collect::<Vec<()>>().await;
    }
}
