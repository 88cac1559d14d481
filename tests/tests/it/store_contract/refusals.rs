//! Refused ingest messages (issue 27), on both backings: kept per entity, newest first, a page
//! at a time; the same refusal recorded again is one record.

use rstest::rstest;
use rstest_reuse::apply;
use serde_json::json;
use shared::model::{Refusal, Timestamp};
use shared::store::PageRequest;

use super::entity;
use crate::helpers::{Backing, ENTITY, OTHER_ENTITY, backings, store_on};

fn refusal(message: &str, sent_at_millis: i64) -> Refusal {
    Refusal {
        id: Refusal::id_of(message, sent_at_millis),
        message_id: message.into(),
        refused_at: Timestamp::new(chrono::DateTime::from_timestamp_millis(sent_at_millis).expect("a time")),
        event_id: Some(format!("evt-{message}")),
        event_type: Some("nothing.known".into()),
        problem: json!({"type": "/problems/validation", "status": 422, "detail": "type is not known"}),
    }
}

#[apply(backings)]
#[tokio::test]
async fn refusals_are_listed_per_entity_newest_first_and_once_each(#[case] backing: Backing) {
    let store = store_on(backing).await;
    let (mine, theirs) = (entity(ENTITY), entity(OTHER_ENTITY));
    let now = chrono::Utc::now().timestamp_millis();
    for n in 0..5 {
        store.record_refusal(mine, &refusal(&format!("m-{n}"), now + n)).await.expect("record");
    }
    // Refused again (its first answer lost): one record still.
    store.record_refusal(mine, &refusal("m-2", now + 2)).await.expect("record again");
    store.record_refusal(theirs, &refusal("t-0", now)).await.expect("record");

    let first = store.list_refusals(mine, PageRequest { limit: 3, after: None }).await.expect("page 1");
    let second = store.list_refusals(mine, PageRequest { limit: 3, after: first.next }).await.expect("page 2");
    let ids: Vec<&str> = first.items.iter().chain(&second.items).map(|r| r.message_id.as_str()).collect();
    assert_eq!(ids, ["m-4", "m-3", "m-2", "m-1", "m-0"], "{backing:?}");
    assert!(first.next.is_some() && second.next.is_none(), "{backing:?}");
    assert_eq!(first.items[0], refusal("m-4", now + 4), "{backing:?}: read back whole");
    let others = store.list_refusals(theirs, PageRequest { limit: 10, after: None }).await.expect("theirs");
    assert_eq!(others.items.iter().map(|r| r.message_id.as_str()).collect::<Vec<_>>(), ["t-0"], "{backing:?}");
}
