//! The in-memory store of the embedded runner and fast tests: a sorted map behind a mutex,
//! with the same conditional-write semantics as DynamoDB.

use std::collections::BTreeMap;
use std::ops::Bound;
use std::sync::{Mutex, MutexGuard};

use async_trait::async_trait;
use uuid::Uuid;

use super::{Page, PageRequest, WebhookDelete, WebhookGet, WebhookInsert, WebhookList, WebhookReplace};
use crate::error::Error;
use crate::model::{EntityId, Webhook, WebhookId};

type Webhooks = BTreeMap<(EntityId, WebhookId), Webhook>;

#[derive(Default)]
pub struct MemoryStore {
    webhooks: Mutex<Webhooks>,
}

impl MemoryStore {
    pub fn new() -> Self {
        Self::default()
    }

    fn webhooks(&self) -> Result<MutexGuard<'_, Webhooks>, Error> {
        self.webhooks.lock().map_err(|_| Error::internal("memory store lock poisoned"))
    }
}

fn key_of(webhook: &Webhook) -> (EntityId, WebhookId) {
    (webhook.info.owner_identifier, webhook.info.id)
}

#[async_trait]
impl WebhookGet for MemoryStore {
    async fn get_webhook(&self, owner: EntityId, id: WebhookId) -> Result<Option<Webhook>, Error> {
        Ok(self.webhooks()?.get(&(owner, id)).cloned())
    }
}

#[async_trait]
impl WebhookList for MemoryStore {
    async fn list_webhooks(&self, owner: EntityId, page: PageRequest) -> Result<Page<Webhook>, Error> {
        let webhooks = self.webhooks()?;
        let lower = match page.after {
            Some(after) => Bound::Excluded((owner, WebhookId(after))),
            None => Bound::Included((owner, WebhookId(Uuid::nil()))),
        };
        let items = webhooks
            .range((lower, Bound::Included((owner, WebhookId(Uuid::max())))))
            .take(page.limit + 1)
            .map(|(_, webhook)| webhook.clone())
            .collect();
        Ok(Page::from_overfetch(items, page.limit, |w| w.info.id.0))
    }
}

#[async_trait]
impl WebhookInsert for MemoryStore {
    async fn insert_webhook(&self, webhook: &Webhook) -> Result<(), Error> {
        let mut webhooks = self.webhooks()?;
        if webhooks.contains_key(&key_of(webhook)) {
            return Err(Error::internal(format!("webhook {} already exists", webhook.info.id)));
        }
        webhooks.insert(key_of(webhook), webhook.clone());
        Ok(())
    }
}

#[async_trait]
impl WebhookReplace for MemoryStore {
    async fn replace_webhook(&self, webhook: &Webhook, expected: u64) -> Result<(), Error> {
        let mut webhooks = self.webhooks()?;
        let stored = webhooks.get_mut(&key_of(webhook)).ok_or(Error::NotFound)?;
        if stored.info.version != expected {
            return Err(Error::VersionConflict { current: stored.info.version });
        }
        *stored = webhook.clone();
        Ok(())
    }
}

#[async_trait]
impl WebhookDelete for MemoryStore {
    async fn delete_webhook(&self, owner: EntityId, id: WebhookId, expected: Option<u64>) -> Result<(), Error> {
        let mut webhooks = self.webhooks()?;
        let stored = webhooks.get(&(owner, id)).ok_or(Error::NotFound)?;
        match expected {
            Some(version) if version != stored.info.version => {
                Err(Error::VersionConflict { current: stored.info.version })
            }
            _ => {
                webhooks.remove(&(owner, id));
                Ok(())
            }
        }
    }
}
