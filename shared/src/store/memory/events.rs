//! The memory store's event types, fan-out plans (a plan replaced once its event id is
//! published again after the dedupe window is kept apart under its id, as in DynamoDB) and
//! FIFO gates.

use std::time::Duration;

use async_trait::async_trait;
use uuid::Uuid;

use super::{Gate, MemoryStore};
use crate::model::{DeliveryMessage, EntityId, EventType, FanOutPlan, Timestamp, WebhookId};
use crate::store::{EventGet, EventInsert, EventTypeGet, EventTypePut, FifoGate, FifoHead, StoreError};

#[async_trait]
impl EventTypeGet for MemoryStore {
    async fn stored_event_type(&self, name: &str) -> Result<Option<EventType>, StoreError> {
        Ok(self.tables()?.event_types.get(name).cloned())
    }

    async fn stored_event_types(&self) -> Result<Vec<EventType>, StoreError> {
        Ok(self.tables()?.event_types.values().cloned().collect())
    }
}

#[async_trait]
impl EventTypePut for MemoryStore {
    async fn put_event_type(&self, event_type: &EventType) -> Result<(), StoreError> {
        self.tables()?.event_types.insert(event_type.name.clone(), event_type.clone());
        Ok(())
    }
}

#[async_trait]
impl EventInsert for MemoryStore {
    async fn open_fan_out(
        &self,
        owner: EntityId,
        plan: &FanOutPlan,
        now: Timestamp,
        ttl: Duration,
    ) -> Result<(FanOutPlan, bool), StoreError> {
        let mut tables = self.writing()?;
        let key = (owner, plan.event_id.clone());
        if let Some((stored, dedupe_until, kept_until)) = tables.events.get(&key).cloned() {
            if dedupe_until > now {
                return Ok((stored, false));
            }
            if let Some(id) = stored.plan {
                tables.archived.insert((owner, id), (stored, kept_until));
            }
        }
        let dedupe_until = Timestamp::new(now.get() + chrono::Duration::from_std(ttl).map_err(StoreError::internal)?);
        let kept_until = Timestamp::new(now.get() + self.retention);
        tables.events.insert(key, (plan.clone(), dedupe_until, kept_until));
        Ok((plan.clone(), true))
    }
}

#[async_trait]
impl EventGet for MemoryStore {
    async fn get_plan(
        &self,
        owner: EntityId,
        event_id: &str,
        plan: Option<Uuid>,
    ) -> Result<Option<FanOutPlan>, StoreError> {
        let tables = self.tables()?;
        let current = tables.events.get(&(owner, event_id.to_string())).map(|(stored, _, _)| stored);
        match plan {
            Some(id) if current.is_none_or(|stored| stored.plan != Some(id)) => {
                Ok(tables.archived.get(&(owner, id)).map(|(stored, _)| stored.clone()))
            }
            _ => Ok(current.cloned()),
        }
    }
}

#[async_trait]
impl FifoGate for MemoryStore {
    async fn fifo_head(&self, webhook: WebhookId) -> Result<Option<FifoHead>, StoreError> {
        Ok(self.tables()?.gates.get(&webhook).map(|gate| gate.head.clone()))
    }

    async fn hold_fifo(&self, webhook: WebhookId, head: Uuid) -> Result<(), StoreError> {
        let mut tables = self.tables()?;
        let head = FifoHead { delivery: head, message: None };
        match tables.gates.get_mut(&webhook) {
            Some(gate) => gate.head = head,
            None => {
                tables.gates.insert(webhook, Gate { head, parked: 0, released: 0 });
            }
        }
        Ok(())
    }

    async fn park(&self, webhook: WebhookId, message: &DeliveryMessage) -> Result<bool, StoreError> {
        let mut tables = self.tables()?;
        let Some(gate) = tables.gates.get_mut(&webhook) else { return Ok(false) };
        gate.parked += 1;
        let place = format!("{:020}", gate.parked);
        tables.parked.insert((webhook, place), message.clone());
        Ok(true)
    }

    async fn first_parked(&self, webhook: WebhookId) -> Result<Option<(String, DeliveryMessage)>, StoreError> {
        let tables = self.tables()?;
        let first = tables.parked.range((webhook, String::new())..).next();
        Ok(first.filter(|((parked, _), _)| *parked == webhook).map(|((_, place), m)| (place.clone(), m.clone())))
    }

    async fn release_parked(
        &self,
        webhook: WebhookId,
        head: Uuid,
        place: &str,
        next: &DeliveryMessage,
    ) -> Result<bool, StoreError> {
        let mut tables = self.tables()?;
        let key = (webhook, place.to_string());
        let holds = tables.gates.get(&webhook).is_some_and(|gate| gate.head.delivery == head);
        if !holds || !tables.parked.contains_key(&key) {
            return Ok(false);
        }
        tables.parked.remove(&key);
        if let Some(gate) = tables.gates.get_mut(&webhook) {
            gate.head = FifoHead { delivery: next.delivery_id, message: Some(next.clone()) };
            gate.released += 1;
        }
        Ok(true)
    }

    async fn open_fifo(&self, webhook: WebhookId, head: Uuid) -> Result<bool, StoreError> {
        let mut tables = self.tables()?;
        match tables.gates.get(&webhook) {
            Some(gate) if gate.head.delivery != head => Ok(true),
            Some(gate) if gate.parked != gate.released => Ok(false),
            _ => {
                tables.gates.remove(&webhook);
                Ok(true)
            }
        }
    }
}
