//! A message of the ingest queue refused as the publish route would refuse its body
//! (`crate::ingest`): what its entity reads at `GET .../refused-events`.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::Timestamp;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Refusal {
    /// Sorts by when the message was sent; the same for every receive of one message, so that
    /// recording it again rewrites one record.
    pub id: Uuid,
    /// The message's id on the ingest queue (its copy on the dead-letter queue names it in its
    /// `refusal` attribute's `instance`).
    pub message_id: String,
    pub refused_at: Timestamp,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_type: Option<String>,
    /// The RFC 9457 problem the publish route would have answered.
    pub problem: Value,
}

impl Refusal {
    /// The id of the refusal of message `message_id`, sent at `sent_at_millis`: a UUIDv7 of that
    /// time whose other bits come from the message id.
    pub fn id_of(message_id: &str, sent_at_millis: i64) -> Uuid {
        let digest = Sha256::digest(message_id.as_bytes());
        let millis = u64::try_from(sent_at_millis).unwrap_or_default();
        let mut random = [0u8; 10];
        random.copy_from_slice(&digest[..10]);
        uuid::Builder::from_unix_timestamp_millis(millis, &random).into_uuid()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refusal_id_is_the_messages_own_and_sorts_by_when_it_was_sent() {
        assert_eq!(Refusal::id_of("m-1", 1_000), Refusal::id_of("m-1", 1_000));
        assert_ne!(Refusal::id_of("m-1", 1_000), Refusal::id_of("m-2", 1_000));
        assert!(Refusal::id_of("m-9", 1_000) < Refusal::id_of("m-1", 1_001));
        assert_eq!(Refusal::id_of("m-1", 1_000).get_version_num(), 7);
    }
}
