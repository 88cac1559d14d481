//! Envelope encryption of stored secrets (docs/security.md): a master key (a KMS key in AWS, a
//! local key for the runner) wraps data keys, and a data key seals each secret with
//! AES-256-GCM, bound to the place it is stored at. A process makes one data key a day and keeps
//! the data keys it has opened, so the master key is called once per data key and process, not
//! once per secret.

mod kms;
mod local;

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use aws_lc_rs::aead::{AES_256_GCM, Aad, Nonce, RandomizedNonceKey};

pub(crate) use kms::KmsKey;
pub use local::LocalKey;

/// How long a process seals with one data key before it makes another.
const DATA_KEY_LIFETIME: Duration = Duration::from_secs(24 * 3600);
/// How many opened data keys a process keeps; past it, the cache starts again.
const OPENED_KEYS: usize = 4096;

/// A secret as stored: the master key that wrapped its data key, the wrapped data key, and the
/// AES-256-GCM nonce and ciphertext (tag appended).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sealed {
    pub key_id: String,
    pub data_key: Vec<u8>,
    pub nonce: Vec<u8>,
    pub ciphertext: Vec<u8>,
}

/// A data key as the master key made it: in the clear, and wrapped by the master key `key_id`.
pub struct DataKey {
    pub plaintext: Vec<u8>,
    pub wrapped: Vec<u8>,
    pub key_id: String,
}

#[derive(Debug, thiserror::Error)]
pub enum SealError {
    /// The key service did not answer or refused: worth trying again later.
    #[error("the key service is unavailable: {0}")]
    Unavailable(String),
    /// The value cannot be opened with the keys at hand, or was changed.
    #[error("cannot open a sealed secret: {0}")]
    Invalid(String),
}

/// What wraps and unwraps data keys.
#[async_trait]
pub trait MasterKey: Send + Sync {
    /// The id new data keys are wrapped under, as `DataKey::key_id` names it.
    fn key_id(&self) -> String;
    async fn new_data_key(&self) -> Result<DataKey, SealError>;
    /// The data key `wrapped` by the master key `key_id` (this one, or one it replaced).
    async fn unwrap(&self, key_id: &str, wrapped: &[u8]) -> Result<Vec<u8>, SealError>;
}

/// Data keys by their master key's id and wrapped form.
type OpenedKeys = HashMap<(String, Vec<u8>), Arc<RandomizedNonceKey>>;

struct Current {
    key: Arc<RandomizedNonceKey>,
    key_id: String,
    wrapped: Vec<u8>,
    made: Instant,
}

/// Seals and opens secrets with data keys of one master key.
pub struct Sealer {
    master: Box<dyn MasterKey>,
    current: tokio::sync::Mutex<Option<Current>>,
    opened: Mutex<OpenedKeys>,
}

impl fmt::Debug for Sealer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Sealer")
    }
}

fn aes_key(bytes: &[u8]) -> Result<RandomizedNonceKey, SealError> {
    RandomizedNonceKey::new(&AES_256_GCM, bytes).map_err(|_| SealError::Invalid("a data key is not 256 bits".into()))
}

impl Sealer {
    pub fn new(master: impl MasterKey + 'static) -> Self {
        Self { master: Box::new(master), current: tokio::sync::Mutex::new(None), opened: Mutex::default() }
    }

    /// A sealer of a new random local key (tests, benchmarks).
    pub fn with_new_local_key() -> Result<Self, SealError> {
        Ok(Self::new(LocalKey::generate()?.0))
    }

    /// The master key this sealer seals under: a value sealed under another needs rewrapping
    /// before that key is retired.
    pub fn key_id(&self) -> String {
        self.master.key_id()
    }

    /// `secret` sealed for the place `context` names: it opens only for the same context, so a
    /// sealed value copied to another item or attribute does not open there.
    pub async fn seal(&self, secret: &str, context: &str) -> Result<Sealed, SealError> {
        let (key, key_id, data_key) = {
            let mut current = self.current.lock().await;
            let fresh = match current.take() {
                Some(kept) if kept.made.elapsed() <= DATA_KEY_LIFETIME => kept,
                _ => {
                    let made = self.master.new_data_key().await?;
                    let key = Arc::new(aes_key(&made.plaintext)?);
                    self.remember(&made.key_id, &made.wrapped, key.clone());
                    Current { key, key_id: made.key_id, wrapped: made.wrapped, made: Instant::now() }
                }
            };
            let used = (fresh.key.clone(), fresh.key_id.clone(), fresh.wrapped.clone());
            *current = Some(fresh);
            used
        };
        let mut ciphertext = secret.as_bytes().to_vec();
        let nonce = key
            .seal_in_place_append_tag(Aad::from(context.as_bytes()), &mut ciphertext)
            .map_err(|_| SealError::Invalid("sealing failed".into()))?;
        Ok(Sealed { key_id, data_key, nonce: nonce.as_ref().to_vec(), ciphertext })
    }

    /// The secret `sealed` holds, sealed for `context`.
    pub async fn open(&self, sealed: &Sealed, context: &str) -> Result<String, SealError> {
        let known = self.opened().get(&(sealed.key_id.clone(), sealed.data_key.clone())).cloned();
        let key = match known {
            Some(key) => key,
            None => {
                let key = Arc::new(aes_key(&self.master.unwrap(&sealed.key_id, &sealed.data_key).await?)?);
                self.remember(&sealed.key_id, &sealed.data_key, key.clone());
                key
            }
        };
        let nonce =
            Nonce::try_assume_unique_for_key(&sealed.nonce).map_err(|_| SealError::Invalid("bad nonce".into()))?;
        let mut text = sealed.ciphertext.clone();
        let opened = key
            .open_in_place(nonce, Aad::from(context.as_bytes()), &mut text)
            .map_err(|_| SealError::Invalid(format!("it does not open for {context}")))?;
        String::from_utf8(opened.to_vec()).map_err(|_| SealError::Invalid("not UTF-8".into()))
    }

    /// The opened data keys; a panic while they were held left them whole (one insert or clear).
    fn opened(&self) -> std::sync::MutexGuard<'_, OpenedKeys> {
        self.opened.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn remember(&self, key_id: &str, wrapped: &[u8], key: Arc<RandomizedNonceKey>) {
        let mut opened = self.opened();
        if opened.len() >= OPENED_KEYS {
            opened.clear();
        }
        opened.insert((key_id.to_string(), wrapped.to_vec()), key);
    }
}

#[cfg(test)]
mod tests;
