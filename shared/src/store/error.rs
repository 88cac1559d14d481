//! What can go wrong in a store, apart from HTTP: `crate::error::Error` turns it into a
//! problem (`From`), in the one place that makes responses.

use crate::error::{BoxError, Error};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("no such item")]
    NotFound,
    /// A conditional write found another version stored.
    #[error("the stored version is {current}")]
    VersionConflict { current: u64 },
    /// DynamoDB failed or could not be reached; the caller may retry.
    #[error("the store is unavailable")]
    Unavailable(#[source] BoxError),
    /// An item that could not be written or read back, or a broken invariant.
    #[error("store failure")]
    Internal(#[source] BoxError),
}

impl StoreError {
    pub fn unavailable(source: impl Into<BoxError>) -> Self {
        Self::Unavailable(source.into())
    }

    pub fn internal(source: impl Into<BoxError>) -> Self {
        Self::Internal(source.into())
    }
}

impl From<StoreError> for Error {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::NotFound => Self::NotFound,
            StoreError::VersionConflict { current } => Self::VersionConflict { current },
            StoreError::Unavailable(source) => Self::Unavailable(source),
            StoreError::Internal(source) => Self::Internal(source),
        }
    }
}
