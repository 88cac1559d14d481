//! Whose webhook it is: one managing entity's, or global, covering many (docs/contract.md 11).

use std::collections::BTreeSet;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

use super::EntityId;

/// Most entities a global webhook may list; more should be `"*"` or several webhooks.
pub(crate) const MAX_COVERED_ENTITIES: usize = 1000;

/// Where a webhook is kept and who may reach it: under one entity, or among the global ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Owner {
    Entity(EntityId),
    Global,
}

impl Owner {
    /// The entity, for an entity's own.
    pub fn entity(self) -> Option<EntityId> {
        match self {
            Self::Entity(entity) => Some(entity),
            Self::Global => None,
        }
    }
}

/// The entities a global webhook receives the events of: `"*"` or 1 to 1,000 ids.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Coverage {
    All,
    Only(BTreeSet<EntityId>),
}

impl Coverage {
    pub fn parse(value: &Value) -> Result<Self, String> {
        const SHAPE: &str = "must be \"*\" or an array of managing entity ids";
        match value {
            Value::String(star) if star == "*" => Ok(Self::All),
            Value::Array(items) => {
                let ids = items
                    .iter()
                    .map(|item| item.as_str().ok_or(SHAPE.to_string()).and_then(EntityId::parse))
                    .collect::<Result<BTreeSet<_>, _>>()?;
                match ids.len() {
                    0 => Err("must list at least one managing entity id, or be \"*\"".into()),
                    n if n > MAX_COVERED_ENTITIES => {
                        Err(format!("lists {n} entities; at most {MAX_COVERED_ENTITIES}, or \"*\" for every one"))
                    }
                    _ => Ok(Self::Only(ids)),
                }
            }
            _ => Err(SHAPE.into()),
        }
    }

    pub fn covers(&self, entity: EntityId) -> bool {
        match self {
            Self::All => true,
            Self::Only(ids) => ids.contains(&entity),
        }
    }

    /// The listed entities; none for `"*"`.
    pub fn listed(&self) -> impl Iterator<Item = EntityId> + '_ {
        let ids = match self {
            Self::All => None,
            Self::Only(ids) => Some(ids.iter().copied()),
        };
        ids.into_iter().flatten()
    }
}

impl Serialize for Coverage {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::All => serializer.serialize_str("*"),
            Self::Only(ids) => ids.serialize(serializer),
        }
    }
}

impl<'de> Deserialize<'de> for Coverage {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Self::parse(&Value::deserialize(deserializer)?).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    const A: &str = "d5b8a3c2-9e6f-4a1b-8d34-7c2e1f0a5b69";
    const B: &str = "0d9e8f7a-6b5c-4d3e-8f2a-1b0c9d8e7f6a";

    fn id(text: &str) -> EntityId {
        EntityId::parse(text).expect("uuid")
    }

    #[test]
    fn star_or_a_list_of_one_to_a_thousand_ids() {
        assert_eq!(Coverage::parse(&json!("*")), Ok(Coverage::All));
        let listed = Coverage::parse(&json!([A, B, A])).expect("valid");
        assert_eq!(listed, Coverage::Only([id(A), id(B)].into()));
        assert!(listed.covers(id(A)) && !Coverage::parse(&json!([B])).expect("valid").covers(id(A)));
        assert!(Coverage::All.covers(id(A)));
        let many: Vec<String> = (0..=MAX_COVERED_ENTITIES).map(|_| uuid::Uuid::new_v4().to_string()).collect();
        for bad in [json!([]), json!("all"), json!([A, "nope"]), json!([1]), json!(many), json!(null)] {
            assert!(Coverage::parse(&bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn stored_and_shown_as_written() {
        for text in [json!("*"), json!([B, A])] {
            let coverage: Coverage = serde_json::from_value(text.clone()).expect("reads");
            let mut expected = text.clone();
            if let Some(ids) = expected.as_array_mut() {
                ids.sort_by_key(|v| v.as_str().map(str::to_string));
            }
            assert_eq!(serde_json::to_value(&coverage).expect("writes"), expected);
        }
    }
}
