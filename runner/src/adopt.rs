//! `webhooks-local adopt-global-webhooks`: global webhooks stored before accounts existed get one
//! (docs/contract.md 11). Without arguments it lists them and changes nothing; `--by-writer`
//! gives each the account of its `userIdentifier`, the last caller that wrote it (not one the
//! platform disabled, whose last writer was auto-disable); `<webhookId>=<account>` gives the
//! webhook named the account named.

use shared::model::{AUTO_DISABLE_USER, WebhookRecord};
use shared::store::DynamoStore;

type Failure = Box<dyn std::error::Error>;

pub async fn run(store: &DynamoStore, args: &[String]) -> Result<(), Failure> {
    let unowned = store.unowned_global_webhooks().await?;
    let chosen = if args == ["--by-writer"] { by_writer(&unowned) } else { named(args)? };
    if chosen.is_empty() {
        for webhook in &unowned {
            let info = &webhook.info;
            println!("{}\t{}\t{}\t{}", info.id, info.user_identifier, info.created_date, info.name.as_str());
        }
        println!(
            "{} global webhooks without an account (id, userIdentifier, createdDate, name); nothing changed",
            unowned.len()
        );
        return Ok(());
    }
    for (id, account) in chosen {
        let Some(webhook) = unowned.iter().find(|w| w.info.id.to_string() == id) else {
            println!("{id}: no global webhook without an account has this id; left");
            continue;
        };
        let outcome = if store.assign_account(webhook, &account).await? {
            format!("now belongs to {account}")
        } else {
            "written meanwhile; left: run again".into()
        };
        println!("{id}: {outcome}");
    }
    Ok(())
}

fn by_writer(unowned: &[WebhookRecord]) -> Vec<(String, String)> {
    let writers = unowned.iter().filter(|w| w.info.user_identifier != AUTO_DISABLE_USER);
    writers.map(|w| (w.info.id.to_string(), w.info.user_identifier.clone())).collect()
}

fn named(args: &[String]) -> Result<Vec<(String, String)>, Failure> {
    let pair = |arg: &String| {
        let (id, account) = arg.split_once('=').filter(|(id, account)| !id.is_empty() && !account.is_empty())?;
        Some((id.to_string(), account.to_string()))
    };
    args.iter()
        .map(|arg| pair(arg).ok_or_else(|| format!("{arg}: expected <webhookId>=<account> or --by-writer").into()))
        .collect()
}
