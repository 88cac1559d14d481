//! `webhooks-local seal-secrets` (README): seals what a table holds in the clear from before
//! sealing, and rewraps what another master key sealed, so that key can be retired. A Scan of
//! the whole table: an operator's one-off, not a request path.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;

use super::sealed::{SECRET_PATHS, context, from_attribute, slot, store_error, to_attribute};
use super::{DynamoStore, Item, unavailable};
use crate::signing::sha256_hex;
use crate::store::StoreError;

/// The expression name of part `i` of secret path `n`: attribute names such as `token` are
/// words DynamoDB reserves.
fn part_name(n: usize, i: usize) -> String {
    format!("#s{n}{}", char::from(b'a' + u8::try_from(i).unwrap_or(0)))
}

/// The expression name of secret path `n` (`#s0a`, `#s1a.#s1b`, ...), and what its parts stand for.
fn path_expression(n: usize) -> (String, Vec<(String, String)>) {
    let parts: Vec<(String, String)> =
        SECRET_PATHS[n].iter().enumerate().map(|(i, part)| (part_name(n, i), (*part).to_string())).collect();
    (parts.iter().map(|(name, _)| name.as_str()).collect::<Vec<_>>().join("."), parts)
}

/// A secret of an item that needs this pass: in the clear, or sealed under another master key.
struct Stale {
    n: usize,
    was: AttributeValue,
    clear: String,
}

impl DynamoStore {
    /// Seals every secret still in the clear and rewraps every one sealed under another master
    /// key, each item updated on condition that those secrets did not change meanwhile (a write
    /// meanwhile sealed them itself). Answers how many items it updated.
    pub async fn seal_stored_secrets(&self) -> Result<usize, StoreError> {
        let mut names = HashMap::new();
        let mut stale = Vec::new();
        for n in 0..SECRET_PATHS.len() {
            let (path, parts) = path_expression(n);
            names.extend(parts);
            stale.push(format!(
                "attribute_type({path}, :string) OR (attribute_type({path}, :map) AND {path}.keyId <> :current)"
            ));
        }
        let scan = self
            .client
            .scan()
            .table_name(&self.table)
            .filter_expression(stale.join(" OR "))
            .set_expression_attribute_names(Some(names))
            .expression_attribute_values(":string", AttributeValue::S("S".into()))
            .expression_attribute_values(":map", AttributeValue::S("M".into()))
            .expression_attribute_values(":current", AttributeValue::S(self.sealer.key_id()));
        self.scan_changing(scan, |item| self.reseal(item)).await
    }

    /// The item's secrets that need this pass, opened.
    async fn stale_secrets(&self, item: &mut Item) -> Result<Vec<Stale>, StoreError> {
        let current = self.sealer.key_id();
        let mut stale = Vec::new();
        for (n, path) in SECRET_PATHS.iter().enumerate() {
            let context = context(item, path);
            let clear = match slot(item, path) {
                Some(AttributeValue::S(clear)) => clear.clone(),
                Some(AttributeValue::M(sealed))
                    if sealed.get("keyId").and_then(|k| k.as_s().ok()) != Some(&current) =>
                {
                    self.sealer.open(&from_attribute(sealed)?, &context).await.map_err(store_error)?
                }
                _ => continue,
            };
            stale.push(Stale { n, was: slot(item, path).cloned().unwrap_or(AttributeValue::Null(true)), clear });
        }
        Ok(stale)
    }

    /// Seals the item's stale secrets under the current master key, if they are still as read.
    async fn reseal(&self, mut item: Item) -> Result<bool, StoreError> {
        let stale = self.stale_secrets(&mut item).await?;
        let key: Item = ["PK", "SK"].iter().filter_map(|k| Some(((*k).to_string(), item.get(*k)?.clone()))).collect();
        let mut update = self.client.update_item().table_name(&self.table).set_key(Some(key));
        let (mut set, mut unchanged) = (Vec::new(), Vec::new());
        for Stale { n, was, clear } in stale {
            let (path, parts) = path_expression(n);
            for (name, part) in parts {
                update = update.expression_attribute_names(name, part);
            }
            let sealed = self.sealer.seal(&clear, &context(&item, SECRET_PATHS[n])).await.map_err(store_error)?;
            set.push(format!("{path} = :sealed{n}"));
            update = update.expression_attribute_values(format!(":sealed{n}"), to_attribute(sealed));
            // A string compares whole; a sealed map by its ciphertext, unique to each seal.
            match was {
                AttributeValue::M(map) => {
                    unchanged.push(format!("{path}.ciphertext = :was{n}"));
                    let ciphertext = map.get("ciphertext").cloned().unwrap_or(AttributeValue::Null(true));
                    update = update.expression_attribute_values(format!(":was{n}"), ciphertext);
                }
                was => {
                    unchanged.push(format!("{path} = :was{n}"));
                    update = update.expression_attribute_values(format!(":was{n}"), was);
                }
            }
            // A kept access token's digest, which its drop compares.
            if SECRET_PATHS[n] == ["token"] {
                set.push("#digest = :digest".into());
                update = update
                    .expression_attribute_names("#digest", "tokenDigest")
                    .expression_attribute_values(":digest", AttributeValue::S(sha256_hex(&clear)));
            }
        }
        if set.is_empty() {
            return Ok(false);
        }
        let update =
            update.update_expression(format!("SET {}", set.join(", "))).condition_expression(unchanged.join(" AND "));
        match update.send().await {
            Ok(_) => Ok(true),
            Err(err) if err.as_service_error().is_some_and(|e| e.is_conditional_check_failed_exception()) => Ok(false),
            Err(err) => Err(unavailable(err)),
        }
    }
}
