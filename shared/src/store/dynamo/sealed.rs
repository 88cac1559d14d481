//! Secrets in items (docs/contract.md 8): sealed as they are written, opened as they are read.
//! A sealed value is a map `{keyId, dataKey, nonce, ciphertext}` where the clear one was a
//! string, so values written before sealing (strings) still read, and are sealed at their next
//! write. Each is sealed for its item's sort key and its attribute's path, which a copy of the
//! item under another partition (a global webhook's `"*"` copy) keeps.

use std::collections::HashMap;

use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::AttributeValue;

use super::{DynamoStore, Item};
use crate::sealing::{SealError, Sealed};
use crate::store::StoreError;

/// Where items hold secrets: a webhook's signing secret, the one a rotation replaced, its
/// receiver's password, token or client secret, and a receiver's kept access token.
pub(super) const SECRET_PATHS: [&[&str]; 4] = [&["secret"], &["previousSecret", "secret"], &["authSecret"], &["token"]];

pub(super) fn slot<'a>(item: &'a mut Item, path: &[&str]) -> Option<&'a mut AttributeValue> {
    let (last, parents) = path.split_last()?;
    let mut map = item;
    for parent in parents {
        map = match map.get_mut(*parent)? {
            AttributeValue::M(inner) => inner,
            _ => return None,
        };
    }
    map.get_mut(*last)
}

pub(super) fn context(item: &Item, path: &[&str]) -> String {
    let sort_key = item.get("SK").and_then(|v| v.as_s().ok()).map_or("", String::as_str);
    format!("{sort_key}/{}", path.join("."))
}

pub(super) fn to_attribute(sealed: Sealed) -> AttributeValue {
    AttributeValue::M(HashMap::from([
        ("keyId".into(), AttributeValue::S(sealed.key_id)),
        ("dataKey".into(), AttributeValue::B(Blob::new(sealed.data_key))),
        ("nonce".into(), AttributeValue::B(Blob::new(sealed.nonce))),
        ("ciphertext".into(), AttributeValue::B(Blob::new(sealed.ciphertext))),
    ]))
}

pub(super) fn from_attribute(map: &HashMap<String, AttributeValue>) -> Result<Sealed, StoreError> {
    let bytes = |name: &str| match map.get(name) {
        Some(AttributeValue::B(blob)) => Ok(blob.as_ref().to_vec()),
        _ => Err(StoreError::internal(format!("a sealed secret has no {name}"))),
    };
    let key_id = map.get("keyId").and_then(|v| v.as_s().ok()).cloned();
    Ok(Sealed {
        key_id: key_id.ok_or_else(|| StoreError::internal("a sealed secret has no keyId"))?,
        data_key: bytes("dataKey")?,
        nonce: bytes("nonce")?,
        ciphertext: bytes("ciphertext")?,
    })
}

pub(super) fn store_error(err: SealError) -> StoreError {
    match err {
        SealError::Unavailable(_) => StoreError::unavailable(err),
        SealError::Invalid(_) => StoreError::internal(err),
    }
}

impl DynamoStore {
    /// Seals the item's secrets in place; its key must be set.
    pub(super) async fn seal_secrets(&self, item: &mut Item) -> Result<(), StoreError> {
        for path in SECRET_PATHS {
            let context = context(item, path);
            if let Some(value) = slot(item, path) {
                if let AttributeValue::S(secret) = value {
                    *value = to_attribute(self.sealer.seal(secret, &context).await.map_err(store_error)?);
                }
            }
        }
        Ok(())
    }

    /// Opens the item's sealed secrets in place.
    async fn open_secrets(&self, item: &mut Item) -> Result<(), StoreError> {
        for path in SECRET_PATHS {
            let context = context(item, path);
            if let Some(value) = slot(item, path) {
                if let AttributeValue::M(sealed) = value {
                    let sealed = from_attribute(sealed)?;
                    *value = AttributeValue::S(self.sealer.open(&sealed, &context).await.map_err(store_error)?);
                }
            }
        }
        Ok(())
    }

    /// The record an item holds, its secrets opened: every read of an item goes through here.
    pub(super) async fn read<T: serde::de::DeserializeOwned>(&self, mut item: Item) -> Result<T, StoreError> {
        self.open_secrets(&mut item).await?;
        serde_dynamo::from_item(item).map_err(StoreError::internal)
    }
}
