//! What an operator watches (the README's "Metrics and the dashboard"): deliveries by outcome, attempts and their
//! latency, how long a delivery message waited past its time, events published. Recorded through
//! the `metrics` facade, named and labelled for no webhook or entity (a label per webhook would
//! be a metric per webhook: CloudWatch bills each, Prometheus keeps each). The runner renders
//! them as Prometheus text at `GET /metrics`; in Lambda they are written to stdout after each
//! invocation in CloudWatch's Embedded Metric Format, which CloudWatch Logs turns into metrics
//! without a call to CloudWatch.

use std::io::Write;
use std::sync::OnceLock;
use std::time::Duration;

use aws_lambda_events::event::sqs::SqsMessage;
use chrono::{DateTime, Utc};
use metrics::{Unit, counter, describe_counter, describe_histogram, histogram};

use crate::model::{DeliveryMessage, DeliveryStatus, DeliveryStep};

const DELIVERIES: &str = "webhooks_deliveries_total";
const ATTEMPTS: &str = "webhooks_attempts_total";
const ATTEMPT_SECONDS: &str = "webhooks_attempt_duration_seconds";
const MESSAGE_WAIT_SECONDS: &str = "webhooks_message_wait_seconds";
const EVENTS_PUBLISHED: &str = "webhooks_events_published_total";
const DELIVERIES_PLANNED: &str = "webhooks_deliveries_planned_total";

/// Names, units and meanings, for the recorder installed (Prometheus's HELP lines, EMF's units).
pub fn describe() {
    describe_counter!(
        DELIVERIES,
        "Deliveries finished, by outcome: succeeded, failed (after the last attempt or dead-lettered) or skipped"
    );
    describe_counter!(ATTEMPTS, "POSTs made to receivers, by result: success or failure");
    describe_histogram!(
        ATTEMPT_SECONDS,
        Unit::Seconds,
        "How long an attempt took, its receiver's authentication included"
    );
    describe_histogram!(
        MESSAGE_WAIT_SECONDS,
        Unit::Seconds,
        "How long a delivery message waited on its queue past the time it was due"
    );
    describe_counter!(
        EVENTS_PUBLISHED,
        "Events accepted for publishing, not the platform's own notices (a duplicate id is not counted again)"
    );
    describe_counter!(DELIVERIES_PLANNED, "Deliveries the published events sent to enabled webhooks");
}

/// A delivery's step, recorded: its attempt, if it made one, and its outcome, if it is the last.
pub(crate) fn step_recorded(step: &DeliveryStep) {
    // A resend's mark leaves the delivery as it was (as in its statistics).
    if step.resent_as.is_some() {
        return;
    }
    if let Some(attempt) = &step.attempt {
        let result = if step.status == DeliveryStatus::Succeeded { "success" } else { "failure" };
        counter!(ATTEMPTS, "result" => result).increment(1);
        histogram!(ATTEMPT_SECONDS).record(Duration::from_millis(attempt.duration_ms));
    }
    let outcome = match step.status {
        DeliveryStatus::Pending => return,
        DeliveryStatus::Succeeded => "succeeded",
        DeliveryStatus::Failed => "failed",
        DeliveryStatus::Skipped => "skipped",
    };
    counter!(DELIVERIES, "outcome" => outcome).increment(1);
}

/// An event accepted, fanning out to `deliveries` (its enabled webhooks').
pub(crate) fn published(deliveries: usize) {
    counter!(EVENTS_PUBLISHED).increment(1);
    counter!(DELIVERIES_PLANNED).increment(deliveries as u64);
}

/// A delivery message taken `now` for its step (not a timer's early wake, nor a FIFO message
/// parked behind its head): how long past its time it waited. Its time is when it was sent
/// (SQS's `SentTimestamp`) or, for a wait, when it was due. A retried publish's copy is delayed
/// on purpose, and not measured.
pub(crate) fn taken(record: &SqsMessage, message: &DeliveryMessage, now: DateTime<Utc>) {
    if message.resent {
        return;
    }
    let sent =
        record.attributes.get("SentTimestamp").and_then(|ms| ms.parse().ok()).and_then(DateTime::from_timestamp_millis);
    let Some(since) = sent.max(message.due.map(|due| due.get())) else { return };
    histogram!(MESSAGE_WAIT_SECONDS).record((now - since).to_std().unwrap_or_default());
}

static EMF: OnceLock<&'static metrics_cloudwatch_embedded::Collector> = OnceLock::new();

/// In Lambda: what is recorded goes out as EMF lines in `namespace` at each `flush`.
pub(crate) fn install_emf(namespace: String) {
    let installed = metrics_cloudwatch_embedded::Builder::new().cloudwatch_namespace(namespace).init();
    match installed {
        Ok(collector) => {
            let _ = EMF.set(collector);
            describe();
        }
        Err(err) => tracing::warn!(error = %err, "no metrics: their recorder was not installed"),
    }
}

/// `work`'s answer, once what it recorded is written out: an invocation's metrics leave while
/// Lambda still runs the process, which it may freeze, or end, as soon as the answer is given.
pub async fn flushed<T>(work: impl Future<Output = T>) -> T {
    let answer = work.await;
    flush();
    answer
}

/// Writes what was recorded since the last flush to stdout, as EMF lines (nothing outside
/// Lambda).
fn flush() {
    let Some(collector) = EMF.get() else { return };
    // Whole, in one write: stdout shares its pipe with the logs, which must not land inside a line.
    let mut lines = Vec::new();
    let written = collector.flush(&mut lines).and_then(|()| std::io::stdout().lock().write_all(&lines));
    if let Err(err) = written {
        tracing::warn!(error = %err, "metrics not written");
    }
}
