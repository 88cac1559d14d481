//! Who is asking, for what: the authorised caller and the owner of the path.

use crate::auth::Caller;
use crate::error::Error;
use crate::model::{EntityId, Owner, WebhookId, WebhookRecord};
use crate::store::WebhookGet;

/// A caller and the owner of the path: an entity it manages, or (no entity in the path) the
/// global webhooks, each of which it may reach only if it manages all that webhook covers.
pub(crate) struct Scoped {
    pub caller: Caller,
    pub owner: Owner,
}

impl Scoped {
    /// The path's entity, on the routes that have one.
    pub fn entity(&self) -> Result<EntityId, Error> {
        match self.owner {
            Owner::Entity(entity) => Ok(entity),
            Owner::Global => Err(Error::BadRequest("missing path parameter entityId".into())),
        }
    }

    /// The webhook `id`, if the caller may reach it; 404 otherwise, the same as for one that
    /// does not exist.
    pub async fn webhook<S: WebhookGet + ?Sized>(&self, store: &S, id: WebhookId) -> Result<WebhookRecord, Error> {
        let found = store.get_webhook(self.owner, id).await?;
        found.filter(|w| self.caller.may_reach(w)).ok_or(Error::NotFound)
    }
}
