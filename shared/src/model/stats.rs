//! A webhook's delivery statistics (docs/contract.md 12), kept as hourly counters that each recorded
//! step adds to, so that a view of up to 30 days reads at most 721 small items, never the
//! deliveries themselves. A delivery counts once, under its current status, in the hour it
//! was created (its UUIDv7 says when).

use std::collections::BTreeMap;

use super::{DeliveryStatus, DeliveryStep, Timestamp};
use crate::error::Error;
use chrono::{DateTime, Utc};
use serde::Serialize;

const HOUR_SECONDS: i64 = 3600;
/// Each latency bucket is this much wider than the one before: a percentile read from them is
/// within about 12% of the exact one.
const BUCKET_GROWTH: f64 = 1.25;
/// The counter of the latency bucket `n` is named `ms{n}`.
const LATENCY_PREFIX: &str = "ms";

/// The counters of one hour of a webhook's deliveries, by name: `succeeded`, `failed`,
/// `pending`, `skipped`, and one `ms{n}` per latency bucket.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HourCounters {
    /// Unix seconds of the hour's start.
    pub hour: i64,
    pub counters: BTreeMap<String, i64>,
}

impl HourCounters {
    /// What recording `step` adds, or `None` when it changes no counter (a retry still pending
    /// whose attempt got no answer, a resend's mark).
    pub fn of_step(step: &DeliveryStep) -> Option<Self> {
        // A resend's mark leaves the delivery's status as it was.
        if step.resent_as.is_some() {
            return None;
        }
        let created = step.delivery_id.get_timestamp()?.to_unix().0;
        let mut counters = BTreeMap::new();
        let mut add = |name: String, n: i64| *counters.entry(name).or_insert(0) += n;
        // Every step before the last is pending: a later one moves the delivery out of it.
        if step.step > 1 {
            add("pending".into(), -1);
        }
        add(status_name(step.status).into(), 1);
        if let Some(attempt) = step.attempt.as_ref().filter(|a| a.status_code.is_some()) {
            add(format!("{LATENCY_PREFIX}{}", latency_bucket(attempt.duration_ms)), 1);
        }
        counters.retain(|_, n| *n != 0);
        let hour = i64::try_from(created).ok()?.div_euclid(HOUR_SECONDS) * HOUR_SECONDS;
        (!counters.is_empty()).then_some(Self { hour, counters })
    }

    /// Adds `other`'s counters to these.
    pub fn add(&mut self, other: &Self) {
        for (name, n) in &other.counters {
            *self.counters.entry(name.clone()).or_insert(0) += n;
        }
    }

    fn get(&self, name: &str) -> u64 {
        // A count a failed write left behind may read below zero.
        self.counters.get(name).map_or(0, |n| u64::try_from(*n).unwrap_or(0))
    }
}

fn status_name(status: DeliveryStatus) -> &'static str {
    match status {
        DeliveryStatus::Pending => "pending",
        DeliveryStatus::Succeeded => "succeeded",
        DeliveryStatus::Failed => "failed",
        DeliveryStatus::Skipped => "skipped",
    }
}

fn latency_bucket(ms: u64) -> u32 {
    // Precision lost past 2^53 ms is of no matter: the attempt timeout is seconds.
    #[allow(clippy::cast_precision_loss, clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let bucket = ((ms as f64) + 1.0).log(BUCKET_GROWTH).floor() as u32;
    bucket
}

/// The middle of latency bucket `n`, in milliseconds.
fn bucket_middle(n: u32) -> u64 {
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let ms = (BUCKET_GROWTH.powf(f64::from(n) + 0.5) - 1.0).round().max(0.0) as u64;
    ms
}

/// The hours a stats view covers: from the hour of `since` to the hour of `until`, both included.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StatsWindow {
    pub since: Timestamp,
    pub until: Timestamp,
}

impl StatsWindow {
    /// `since` (RFC 3339; the last 24 hours when absent) up to `now`, held to at most `longest`
    /// back and to no later than `now`: the answer's `since` says where it began.
    pub fn parse(since: Option<&str>, now: Timestamp, longest: std::time::Duration) -> Result<Self, Error> {
        let longest = chrono::Duration::from_std(longest).map_err(Error::internal)?;
        let since = match since {
            None => Timestamp::new(now.get() - chrono::Duration::hours(24)),
            Some(text) => DateTime::parse_from_rfc3339(text)
                .map(|t| Timestamp::new(t.with_timezone(&Utc)))
                .map_err(|_| Error::BadRequest("since must be an RFC 3339 time, e.g. 2026-11-24T09:00:00Z".into()))?,
        };
        let since = since.clamp(Timestamp::new(now.get() - longest), now);
        Ok(Self { since, until: now })
    }

    /// Unix seconds of the first and the last hour's start.
    pub fn hours(&self) -> (i64, i64) {
        let hour = |t: Timestamp| t.get().timestamp().div_euclid(HOUR_SECONDS) * HOUR_SECONDS;
        (hour(self.since), hour(self.until))
    }
}

/// `GET .../stats`: the window's counts by status, success rate, latency and hourly series.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Stats {
    pub since: Timestamp,
    pub until: Timestamp,
    pub counts: Counts,
    /// Succeeded over succeeded and failed; none before either.
    pub success_rate: Option<f64>,
    pub latency_ms: Latency,
    pub series: Vec<SeriesPoint>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    pub succeeded: u64,
    pub failed: u64,
    pub pending: u64,
    pub skipped: u64,
}

/// Percentiles of the attempts that got an answer.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Latency {
    pub p50: Option<u64>,
    pub p95: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SeriesPoint {
    pub start: Timestamp,
    pub succeeded: u64,
    pub failed: u64,
}

impl Stats {
    /// The view of `window` from the counters of its hours (hours without any may be missing).
    pub fn of(window: StatsWindow, hours: &[HourCounters]) -> Self {
        let (first, last) = window.hours();
        let mut total = HourCounters::default();
        let by_hour: BTreeMap<i64, &HourCounters> = hours.iter().map(|h| (h.hour, h)).collect();
        let series = (first..=last)
            .step_by(usize::try_from(HOUR_SECONDS).unwrap_or(3600))
            .map(|hour| {
                let counters = by_hour.get(&hour).copied().cloned().unwrap_or_default();
                total.add(&counters);
                let start = Timestamp::new(DateTime::from_timestamp(hour, 0).unwrap_or_default());
                SeriesPoint { start, succeeded: counters.get("succeeded"), failed: counters.get("failed") }
            })
            .collect();
        let counts = Counts {
            succeeded: total.get("succeeded"),
            failed: total.get("failed"),
            pending: total.get("pending"),
            skipped: total.get("skipped"),
        };
        let finished = counts.succeeded + counts.failed;
        #[allow(clippy::cast_precision_loss)]
        let success_rate = (finished > 0).then(|| counts.succeeded as f64 / finished as f64);
        let latency = Latency { p50: percentile(&total, 0.50), p95: percentile(&total, 0.95) };
        Self { since: window.since, until: window.until, counts, success_rate, latency_ms: latency, series }
    }
}

/// The `p` quantile of the latency buckets' counts, as its bucket's middle.
fn percentile(total: &HourCounters, p: f64) -> Option<u64> {
    let buckets: BTreeMap<u32, u64> = total
        .counters
        .keys()
        .filter_map(|name| Some((name.strip_prefix(LATENCY_PREFIX)?.parse().ok()?, total.get(name))))
        .collect();
    let count: u64 = buckets.values().sum();
    #[allow(clippy::cast_precision_loss, clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let rank = ((count as f64) * p).ceil().max(1.0) as u64;
    let mut seen = 0;
    buckets.into_iter().find_map(|(bucket, n)| {
        seen += n;
        (seen >= rank).then(|| bucket_middle(bucket))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use uuid::Uuid;

    use crate::model::{Attempt, WebhookId};

    fn step(n: u32, status: DeliveryStatus, duration_ms: Option<u64>) -> DeliveryStep {
        let at = Timestamp::new(Utc::now());
        DeliveryStep {
            delivery_id: Uuid::now_v7(),
            webhook_id: WebhookId(Uuid::nil()),
            owner_identifier: None,
            event_id: "e".into(),
            event_type: "booking.created".into(),
            plan: None,
            step: n,
            status,
            attempt: duration_ms.map(|duration_ms| Attempt {
                attempt: n,
                at,
                status_code: Some(200),
                duration_ms,
                error: None,
                response_body: None,
            }),
            error: None,
            next_attempt_at: None,
            resent_as: None,
        }
    }

    fn names(counters: &HourCounters) -> Vec<(&str, i64)> {
        counters.counters.iter().map(|(name, n)| (name.as_str(), *n)).collect()
    }

    #[test]
    fn a_delivery_moves_from_pending_to_its_last_status_and_each_answer_counts_its_latency() {
        let first = HourCounters::of_step(&step(1, DeliveryStatus::Pending, Some(100))).expect("counts");
        assert_eq!(names(&first), [("ms20", 1), ("pending", 1)]);
        let retry = HourCounters::of_step(&step(2, DeliveryStatus::Pending, None));
        assert_eq!(retry, None, "still pending, no answer: nothing changes");
        let last = HourCounters::of_step(&step(3, DeliveryStatus::Failed, Some(0))).expect("counts");
        assert_eq!(names(&last), [("failed", 1), ("ms0", 1), ("pending", -1)]);
        let skipped = HourCounters::of_step(&step(1, DeliveryStatus::Skipped, None)).expect("counts");
        assert_eq!(names(&skipped), [("skipped", 1)]);
    }

    #[test]
    fn twenty_successes_and_five_failures_are_a_rate_of_0_8_with_percentiles_from_the_buckets() {
        let succeeded = (1..=20).map(|ms| step(1, DeliveryStatus::Succeeded, Some(ms * 10)));
        let failed = (0..5).map(|_| step(1, DeliveryStatus::Failed, Some(1000)));
        let steps: Vec<_> = succeeded.chain(failed).collect();
        let mut hour = HourCounters::of_step(&steps[0]).expect("counts");
        for step in &steps[1..] {
            hour.add(&HourCounters::of_step(step).expect("counts"));
        }
        let now = Timestamp::new(Utc::now());
        let window = StatsWindow::parse(None, now, std::time::Duration::from_secs(30 * 86_400)).expect("window");
        let stats = Stats::of(window, &[hour]);
        assert_eq!(stats.counts, Counts { succeeded: 20, failed: 5, pending: 0, skipped: 0 });
        assert_eq!(stats.success_rate, Some(0.8));
        // The exact p50 is 130 ms and the exact p95 1000 ms: each within half a bucket.
        let (p50, p95) = (stats.latency_ms.p50.expect("p50"), stats.latency_ms.p95.expect("p95"));
        assert!((115..=145).contains(&p50), "p50 {p50}");
        assert!((890..=1120).contains(&p95), "p95 {p95}");
        assert_eq!(stats.series.len(), 25, "one entry per hour, both ends included");
        assert_eq!(stats.series.iter().map(|p| p.succeeded).sum::<u64>(), 20);
    }

    #[test]
    fn a_window_is_held_to_the_retention_and_never_begins_in_the_future() {
        let now = Timestamp::new(Utc::now());
        let longest = std::time::Duration::from_secs(30 * 86_400);
        let since = |days: i64| {
            let text = (now.get() - chrono::Duration::days(days)).to_rfc3339();
            StatsWindow::parse(Some(&text), now, longest).expect("a window").since
        };
        assert_eq!(since(29), Timestamp::new(now.get() - chrono::Duration::days(29)));
        assert_eq!(since(31), Timestamp::new(now.get() - chrono::Duration::days(30)));
        assert_eq!(since(-1), now);
        assert!(matches!(StatsWindow::parse(Some("yesterday"), now, longest), Err(Error::BadRequest(_))));
    }
}
