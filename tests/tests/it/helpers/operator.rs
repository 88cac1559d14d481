//! What an operator reads and sends beside the API: the delivery queue's counts, the ingest
//! queue, the table's items; in the runner of this process, or on the emulators of the stack or
//! of SAM local.

use serde_json::Value;
use shared::queue::{QueueConsumer, QueueDepths, RawSend, SqsQueue};

use super::{Queues, TestApp, emulator_config};

impl TestApp {
    /// The standard delivery queue's counts (SQS's `ApproximateNumberOf...`), and, in the
    /// runner, how many messages its timer holds.
    pub async fn queue_depths(&self) -> (QueueDepths, Option<usize>) {
        match &self.queues {
            Queues::Runner(app) => {
                let (depths, timed) = app.queue_depths().await.expect("the queue's counts");
                (depths, Some(timed))
            }
            Queues::Remote { endpoint, url, .. } => {
                let queue = SqsQueue::new(aws_sdk_sqs::Client::new(&emulator_config(endpoint)), url);
                (queue.depths().await.expect("the queue's counts"), None)
            }
        }
    }

    /// Sends `body` to the ingest queue as a platform backend does, in its entity's message group.
    pub async fn ingest(&self, body: &Value) {
        let (text, group) = (body.to_string(), body["entityId"].as_str());
        match &self.queues {
            Queues::Runner(app) => app.ingest_queue().send_raw(&text, group, &[]).await,
            Queues::Remote { endpoint, ingest_url, .. } => {
                let queue = SqsQueue::new(aws_sdk_sqs::Client::new(&emulator_config(endpoint)), ingest_url);
                queue.send_raw(&text, group, &[]).await
            }
        }
        .expect("send to the ingest queue");
    }

    /// The ingest dead-letter queue's messages, in the runner (the stack's alarm watches its own).
    pub async fn ingest_dead_letters(&self) -> Option<usize> {
        match &self.queues {
            Queues::Runner(app) => {
                let depths = app.ingest_dead_letter_depths().await.expect("the ingest DLQ's counts");
                Some(depths.visible + depths.in_flight + depths.delayed)
            }
            Queues::Remote { .. } => None,
        }
    }

    /// Every item of its table, as text (none in memory): what an operator's scan shows.
    pub async fn stored_items(&self) -> Option<String> {
        let (client, table) = self.table.as_ref()?;
        let (mut text, mut start) = (String::new(), None);
        loop {
            let page = client.scan().table_name(table).set_exclusive_start_key(start).send().await.expect("scan");
            for item in page.items() {
                text += &format!("{item:?}\n");
            }
            start = page.last_evaluated_key;
            if start.is_none() {
                return Some(text);
            }
        }
    }
}
