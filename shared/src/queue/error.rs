//! What can go wrong in a queue, apart from HTTP: `crate::error::Error` turns it into a
//! problem (`From`), in the one place that makes responses.

use crate::error::{BoxError, Error};

#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    /// A message over the queue's limit (`MAX_MESSAGE_BYTES`).
    #[error("a message is larger than {limit} bytes")]
    TooLarge { limit: usize },
    /// SQS failed or could not be reached; the caller may retry.
    #[error("the queue is unavailable")]
    Unavailable(#[source] BoxError),
    #[error("queue failure")]
    Internal(#[source] BoxError),
}

impl QueueError {
    pub fn unavailable(source: impl Into<BoxError>) -> Self {
        Self::Unavailable(source.into())
    }

    pub fn internal(source: impl Into<BoxError>) -> Self {
        Self::Internal(source.into())
    }

    /// A failed AWS SDK call (SQS's or Scheduler's: one error type), with its chain of causes.
    pub(crate) fn from_sdk<E, R>(err: aws_sdk_sqs::error::SdkError<E, R>) -> Self
    where
        E: std::error::Error + Send + Sync + 'static,
        R: std::fmt::Debug + Send + Sync + 'static,
    {
        Self::unavailable(aws_sdk_sqs::error::DisplayErrorContext(err).to_string())
    }
}

impl From<QueueError> for Error {
    fn from(err: QueueError) -> Self {
        match err {
            QueueError::TooLarge { limit } => Self::PayloadTooLarge { limit },
            QueueError::Unavailable(source) => Self::Unavailable(source),
            QueueError::Internal(source) => Self::Internal(source),
        }
    }
}
