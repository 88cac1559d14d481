//! The runner's master key: 32 bytes kept on the machine (`WEBHOOKS_SECRETS_KEY`), wrapping data
//! keys with AES-256-GCM as KMS would.

use async_trait::async_trait;
use aws_lc_rs::aead::{AES_256_GCM, Aad, NONCE_LEN, Nonce, RandomizedNonceKey};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use sha2::{Digest, Sha256};

use super::{DataKey, MasterKey, SealError};

/// How a local key's id starts.
pub(super) const ID_PREFIX: &str = "local:";
/// What a wrapped data key is bound to, so that a sealed secret cannot pass for one.
const DATA_KEY_CONTEXT: &[u8] = b"webhooks data key";

pub struct LocalKey {
    key: RandomizedNonceKey,
    /// `local:` and the start of the key's SHA-256: names the key without showing it.
    id: String,
}

impl LocalKey {
    /// The key `text` holds: the base64 of 32 bytes.
    pub fn from_base64(text: &str) -> Result<Self, String> {
        let bytes = STANDARD.decode(text.trim()).map_err(|_| "not base64".to_string())?;
        Self::from_bytes(&bytes)
    }

    /// A new random key, and its base64 to keep.
    pub fn generate() -> Result<(Self, String), SealError> {
        let mut bytes = [0u8; 32];
        aws_lc_rs::rand::fill(&mut bytes).map_err(|_| SealError::Unavailable("no random source".into()))?;
        let key = Self::from_bytes(&bytes).map_err(SealError::Invalid)?;
        Ok((key, STANDARD.encode(bytes)))
    }

    fn from_bytes(bytes: &[u8]) -> Result<Self, String> {
        let key = RandomizedNonceKey::new(&AES_256_GCM, bytes).map_err(|_| "not 32 bytes".to_string())?;
        let digest = Sha256::digest(bytes);
        let id = format!("{ID_PREFIX}{}", digest[..8].iter().map(|b| format!("{b:02x}")).collect::<String>());
        Ok(Self { key, id })
    }
}

#[async_trait]
impl MasterKey for LocalKey {
    fn key_id(&self) -> String {
        self.id.clone()
    }

    async fn new_data_key(&self) -> Result<DataKey, SealError> {
        let mut plaintext = vec![0u8; 32];
        aws_lc_rs::rand::fill(&mut plaintext).map_err(|_| SealError::Unavailable("no random source".into()))?;
        let mut sealed = plaintext.clone();
        let nonce = self
            .key
            .seal_in_place_append_tag(Aad::from(DATA_KEY_CONTEXT), &mut sealed)
            .map_err(|_| SealError::Invalid("wrapping failed".into()))?;
        let wrapped = [nonce.as_ref().as_slice(), &sealed].concat();
        Ok(DataKey { plaintext, wrapped, key_id: self.id.clone() })
    }

    async fn unwrap(&self, key_id: &str, wrapped: &[u8]) -> Result<Vec<u8>, SealError> {
        if key_id != self.id {
            return Err(SealError::Invalid(format!("sealed with the local key {key_id}, not {}", self.id)));
        }
        let too_short = || SealError::Invalid("a wrapped data key is too short".into());
        let (nonce, sealed) = wrapped.split_at_checked(NONCE_LEN).ok_or_else(too_short)?;
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| too_short())?;
        let mut sealed = sealed.to_vec();
        let opened = self
            .key
            .open_in_place(nonce, Aad::from(DATA_KEY_CONTEXT), &mut sealed)
            .map_err(|_| SealError::Invalid("a data key does not open with this local key".into()))?;
        Ok(opened.to_vec())
    }
}
