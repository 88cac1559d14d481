//! `GET /metrics`: what the functions record (`shared::metrics`) as Prometheus text, with the
//! depth of the runner's queues, read at each scrape (in AWS, SQS's own metrics say it).

use std::sync::OnceLock;

use axum::response::{IntoResponse, Response};
use http::{StatusCode, header};
use metrics::gauge;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use shared::queue::QueueDepths;

use crate::App;

const QUEUE_MESSAGES: &str = "webhooks_queue_messages";
const UPKEEP_EVERY: std::time::Duration = std::time::Duration::from_secs(5);

static PROMETHEUS: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// The process's recorder, installed by the first app: a process has one, which every app in it
/// (the tests run many) records to.
pub(crate) fn install() -> Option<&'static PrometheusHandle> {
    let installed = PROMETHEUS.get_or_init(|| {
        let recorder = PrometheusBuilder::new().build_recorder();
        let handle = recorder.handle();
        match metrics::set_global_recorder(recorder) {
            Ok(()) => {
                shared::metrics::describe();
                metrics::describe_gauge!(QUEUE_MESSAGES, "Messages on the runner's queues, by queue and state");
                // Histograms' samples wait in buffers until drained: by a scrape, or here for a
                // runner no one scrapes. A thread, not a task: the tests' runtimes come and go.
                let upkeep = handle.clone();
                std::thread::spawn(move || {
                    loop {
                        std::thread::sleep(UPKEEP_EVERY);
                        upkeep.run_upkeep();
                    }
                });
                Some(handle)
            }
            Err(_) => {
                tracing::warn!("no metrics at /metrics: the process had another recorder");
                None
            }
        }
    });
    installed.as_ref()
}

pub(crate) async fn render(app: &App) -> Response {
    let Some(prometheus) = install() else {
        return (StatusCode::NOT_FOUND, "no metrics: the process had another recorder\n").into_response();
    };
    let queues = [
        ("deliveries", app.queue.0.depths().await),
        ("deliveries_fifo", app.fifo_queue.0.depths().await),
        ("ingest", app.ingest.queue.depths().await),
        ("ingest_dead_letters", app.ingest.dead_letters.depths().await),
    ];
    for (queue, depths) in queues {
        match depths {
            Ok(QueueDepths { visible, in_flight, delayed }) => {
                for (state, count) in [("visible", visible), ("in_flight", in_flight), ("delayed", delayed)] {
                    gauge!(QUEUE_MESSAGES, "queue" => queue, "state" => state).set(count as f64);
                }
            }
            Err(err) => tracing::warn!(queue, error = %err, "queue depth not read for /metrics"),
        }
    }
    // Waits past SQS's 15-minute delay, which EventBridge Scheduler holds in AWS.
    gauge!(QUEUE_MESSAGES, "queue" => "timer", "state" => "delayed").set(app.timer.waiting() as f64);
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], prometheus.render()).into_response()
}
