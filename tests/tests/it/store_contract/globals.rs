//! The store contract's checks of who an event reaches (docs/contract.md 11 and 12): the global
//! webhooks at publish, an account's list, the accounts given to those from before accounts,
//! and the few webhooks the platform's notices reach.

use serde_json::json;
use shared::model::{Owner, Timestamp, WebhookId, WebhookIn, WebhookRecord, WebhookSecret};
use shared::store::{PageRequest, Store, StoreError, WebhookDelete, WebhookInsert, WebhookList};

use super::{entity, owner, rules, webhook};
use rstest::rstest;
use rstest_reuse::apply;

use crate::helpers::{Backing, ENTITY, OTHER_ENTITY, backings, store_on};

fn global(name: &str, entities: serde_json::Value) -> WebhookRecord {
    global_of(Some("tester"), name, entities)
}

fn global_of(account: Option<&str>, name: &str, entities: serde_json::Value) -> WebhookRecord {
    let body = json!({"name": name, "eventUrl": "https://api.example.com/hooks", "entities": entities});
    let input = WebhookIn::parse(body.as_object().expect("object"), &rules(Owner::Global), None).expect("valid input");
    let (id, now) = (WebhookId(uuid::Uuid::now_v7()), Timestamp::new(chrono::Utc::now()));
    WebhookRecord::create(input, id, Owner::Global, "tester", account, now, WebhookSecret::from_key(&[9; 32]))
}

/// `global` with `entities` replaced, one version later.
fn covering(stored: &WebhookRecord, entities: serde_json::Value) -> WebhookRecord {
    let mut next = stored.clone();
    next.info.entities = Some(serde_json::from_value(entities).expect("entities"));
    next.info.version += 1;
    next
}

#[apply(backings)]
#[tokio::test]
async fn subscribers_are_the_entitys_own_and_the_global_webhooks_covering_it(#[case] backing: Backing) {
    let store = store_on(backing).await;
    let store: &dyn Store = store.as_ref();
    let names = |webhooks: Vec<WebhookRecord>| {
        let mut names: Vec<String> = webhooks.iter().map(|w| w.info.name.as_str().to_string()).collect();
        names.sort();
        names
    };
    let subscribers =
        |id: &'static str| async move { names(store.subscribers(entity(id)).await.expect("subscribers")) };
    const THIRD: &str = "5c1d9e2a-3b4f-4e6d-9a8b-7c6d5e4f3a2b";
    store.insert_webhook(&webhook(ENTITY, "own")).await.expect("insert");
    store.insert_webhook(&webhook(OTHER_ENTITY, "other's own")).await.expect("insert");
    let listing = global("listing", json!([ENTITY, OTHER_ENTITY]));
    let star = global("star", json!("*"));
    for webhook in [&listing, &star] {
        store.insert_webhook(webhook).await.expect("insert");
    }
    assert_eq!(subscribers(ENTITY).await, ["listing", "own", "star"]);
    assert_eq!(subscribers(THIRD).await, ["star"]);
    assert_eq!(store.get_webhook(Owner::Global, listing.info.id).await.expect("get"), Some(listing.clone()));

    let narrowed = covering(&listing, json!([OTHER_ENTITY]));
    store.replace_webhook(&narrowed, &listing).await.expect("narrow");
    assert_eq!(subscribers(ENTITY).await, ["own", "star"], "no longer covered");
    assert_eq!(subscribers(OTHER_ENTITY).await, ["listing", "other's own", "star"]);
    let stale = store.replace_webhook(&covering(&listing, json!("*")), &listing).await;
    assert!(matches!(stale, Err(StoreError::VersionConflict { current: 2 })), "{stale:?}");

    let listed_now = covering(&star, json!([THIRD]));
    store.replace_webhook(&listed_now, &star).await.expect("from * to a list");
    assert_eq!(subscribers(ENTITY).await, ["own"]);
    assert_eq!(subscribers(THIRD).await, ["star"]);
    let starred = covering(&narrowed, json!("*"));
    store.replace_webhook(&starred, &narrowed).await.expect("from a list to *");
    assert_eq!(subscribers(ENTITY).await, ["listing", "own"], "found once, though listed and *");
    assert_eq!(subscribers(OTHER_ENTITY).await, ["listing", "other's own"]);

    let listed = store.list_webhooks(Owner::Global, PageRequest { limit: 10, after: None }).await.expect("list");
    assert_eq!(names(listed.items), ["listing", "star"], "the global ones, and no entity's");
    let stale = store.delete_webhook(Owner::Global, starred.info.id, Some(1)).await;
    assert!(matches!(stale, Err(StoreError::VersionConflict { current: 3 })), "{stale:?}");
    store.delete_webhook(Owner::Global, starred.info.id, None).await.expect("delete");
    store.delete_webhook(Owner::Global, listed_now.info.id, Some(2)).await.expect("delete");
    assert_eq!(subscribers(THIRD).await, Vec::<String>::new());
    assert_eq!(subscribers(OTHER_ENTITY).await, ["other's own"]);
    assert!(matches!(store.delete_webhook(Owner::Global, star.info.id, None).await, Err(StoreError::NotFound)));
}

#[apply(backings)]
#[tokio::test]
async fn an_accounts_list_pages_through_its_own_global_webhooks_only(#[case] backing: Backing) {
    let store = store_on(backing).await;
    let store: &dyn Store = store.as_ref();
    let (mine, theirs) = (format!("account-{}", uuid::Uuid::new_v4()), format!("account-{}", uuid::Uuid::new_v4()));
    let mut kept = Vec::new();
    for n in 0..6 {
        let webhook = global_of(Some(&mine), &format!("mine {n}"), json!([ENTITY]));
        store.insert_webhook(&webhook).await.expect("insert");
        store.insert_webhook(&global_of(Some(&theirs), "theirs", json!([ENTITY]))).await.expect("insert");
        kept.push(webhook);
    }
    // A deleted one leaves no gap that ends the list early.
    let deleted = kept.remove(2);
    store.delete_webhook(Owner::Global, deleted.info.id, None).await.expect("delete");
    let (mut listed, mut after) = (Vec::new(), None);
    loop {
        let page = store.list_account_webhooks(&mine, PageRequest { limit: 2, after }).await.expect("list");
        listed.extend(page.items.iter().map(|w| w.info.name.as_str().to_string()));
        match page.next {
            Some(next) => after = Some(next),
            None => break,
        }
    }
    let names: Vec<String> = kept.iter().map(|w| w.info.name.as_str().to_string()).collect();
    assert_eq!(listed, names, "the account's own, in creation order, none lost or repeated");
}

/// A table from before accounts: its global webhooks, listed or `"*"`, get an account once.
#[tokio::test]
async fn global_webhooks_from_before_accounts_are_given_an_account_once() {
    let store = crate::helpers::dynamo_store().await;
    let writer = format!("writer-{}", uuid::Uuid::new_v4());
    let mut old = global_of(None, "from before accounts", json!([ENTITY]));
    old.info.user_identifier.clone_from(&writer);
    store.insert_webhook(&old).await.expect("insert");
    let mut star = global_of(None, "every entity's, from before accounts", json!("*"));
    star.info.user_identifier.clone_from(&writer);
    store.insert_webhook(&star).await.expect("insert");
    let page = PageRequest { limit: 10, after: None };
    assert!(store.list_account_webhooks(&writer, page).await.expect("list").items.is_empty());
    let unowned = store.unowned_global_webhooks().await.expect("unowned");
    assert_eq!(unowned.len(), 2);
    for webhook in &unowned {
        assert!(store.assign_account(webhook, &writer).await.expect("assign"));
        assert!(!store.assign_account(webhook, "another").await.expect("assign again"), "once given, kept");
    }
    let listed = store.list_account_webhooks(&writer, page).await.expect("list").items;
    let accounts: Vec<_> = listed.iter().map(|w| (w.info.account_identifier.as_deref(), w.info.version)).collect();
    assert_eq!(accounts, [(Some(writer.as_str()), 1), (Some(writer.as_str()), 1)], "the version did not move");
    assert!(store.unowned_global_webhooks().await.expect("unowned").is_empty());
    for webhook in [&old, &star] {
        store.delete_webhook(Owner::Global, webhook.info.id, None).await.expect("delete");
    }
}

/// `stored` listing `event_list` instead, one version later.
fn listing(stored: &WebhookRecord, event_list: serde_json::Value) -> WebhookRecord {
    let mut next = stored.clone();
    next.info.event_list = serde_json::from_value(event_list).expect("an event list");
    next.info.version += 1;
    next
}

#[apply(backings)]
#[tokio::test]
async fn notices_reach_the_entitys_own_webhooks_that_list_a_platform_type_and_no_other(#[case] backing: Backing) {
    let store = store_on(backing).await;
    let store: &dyn Store = store.as_ref();
    let notified = |id: &'static str| async move {
        let mut names: Vec<String> = store
            .notice_subscribers(entity(id))
            .await
            .expect("read")
            .iter()
            .map(|w| w.info.name.as_str().into())
            .collect();
        names.sort();
        names
    };
    let (named, family) = (listing(&webhook(ENTITY, "named"), json!(["webhook.disabled"])), webhook(ENTITY, "family"));
    let family = listing(&family, json!(["delivery.*"]));
    let everything = listing(&webhook(ENTITY, "everything"), json!(["*"]));
    let others = listing(&webhook(OTHER_ENTITY, "other's"), json!(["webhook.*"]));
    for webhook in [&named, &family, &everything, &others, &webhook(ENTITY, "bookings")] {
        store.insert_webhook(webhook).await.expect("insert");
    }
    let mut partner = global("partner", json!([ENTITY]));
    partner.info.event_list = serde_json::from_value(json!(["webhook.*"])).expect("an event list");
    store.insert_webhook(&partner).await.expect("insert");
    assert_eq!(notified(ENTITY).await, ["family", "named"], "never through *, never a global webhook");
    assert_eq!(notified(OTHER_ENTITY).await, ["other's"]);

    let unlisted = listing(&named, json!(["booking.created"]));
    store.replace_webhook(&unlisted, &named).await.expect("replace");
    let listed = listing(&everything, json!(["*", "webhook.*"]));
    store.replace_webhook(&listed, &everything).await.expect("replace");
    assert_eq!(notified(ENTITY).await, ["everything", "family"], "as each write leaves it");
    store.delete_webhook(owner(ENTITY), family.info.id, None).await.expect("delete");
    assert_eq!(notified(ENTITY).await, ["everything"]);
}
