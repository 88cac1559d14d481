//! The master key in AWS: a KMS key, which wraps data keys without ever leaving KMS.

use async_trait::async_trait;
use aws_sdk_kms::error::{DisplayErrorContext, SdkError};
use aws_sdk_kms::operation::decrypt::DecryptError;
use aws_sdk_kms::primitives::Blob;
use aws_sdk_kms::types::DataKeySpec;

use super::{DataKey, MasterKey, SealError};

pub(crate) struct KmsKey {
    client: aws_sdk_kms::Client,
    /// The key new data keys are made under: its ARN (the template's parameter pattern), which
    /// GenerateDataKey answers as the id of what it wrapped.
    key_id: String,
}

impl KmsKey {
    pub fn new(client: aws_sdk_kms::Client, key_id: impl Into<String>) -> Self {
        Self { client, key_id: key_id.into() }
    }
}

fn unavailable<E: std::error::Error + Send + Sync + 'static, R: std::fmt::Debug>(err: SdkError<E, R>) -> SealError {
    SealError::Unavailable(DisplayErrorContext(&err).to_string())
}

#[async_trait]
impl MasterKey for KmsKey {
    fn key_id(&self) -> String {
        self.key_id.clone()
    }

    async fn new_data_key(&self) -> Result<DataKey, SealError> {
        let made = self
            .client
            .generate_data_key()
            .key_id(&self.key_id)
            .key_spec(DataKeySpec::Aes256)
            .send()
            .await
            .map_err(unavailable)?;
        let missing = || SealError::Unavailable("GenerateDataKey answered without a key".into());
        Ok(DataKey {
            plaintext: made.plaintext.ok_or_else(missing)?.into_inner(),
            wrapped: made.ciphertext_blob.ok_or_else(missing)?.into_inner(),
            // The key's ARN, whatever `key_id` named: what decrypts it after the key is replaced.
            key_id: made.key_id.unwrap_or_else(|| self.key_id.clone()),
        })
    }

    async fn unwrap(&self, key_id: &str, wrapped: &[u8]) -> Result<Vec<u8>, SealError> {
        if key_id.starts_with(super::local::ID_PREFIX) {
            return Err(SealError::Invalid(format!("sealed with the local key {key_id}, not a KMS key")));
        }
        let opened = self.client.decrypt().key_id(key_id).ciphertext_blob(Blob::new(wrapped)).send().await;
        match opened {
            Ok(opened) => opened
                .plaintext
                .map(Blob::into_inner)
                .ok_or_else(|| SealError::Unavailable("Decrypt answered without a key".into())),
            Err(err) if err.as_service_error().is_some_and(is_not_this_key) => {
                Err(SealError::Invalid(DisplayErrorContext(&err).to_string()))
            }
            Err(err) => Err(unavailable(err)),
        }
    }
}

fn is_not_this_key(err: &DecryptError) -> bool {
    err.is_invalid_ciphertext_exception() || err.is_incorrect_key_exception()
}
