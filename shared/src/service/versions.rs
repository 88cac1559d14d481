//! Optimistic concurrency: a write of a webhook names the version its writer read, by `If-Match`
//! or by the body's `version` (docs/contract.md 5.3), and is refused if another was stored since.

use crate::error::Error;
use crate::store::StoreError;

/// `If-Match`: `"3"` (our ETags), `W/"3"`, or `*` (any current version).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum IfMatch {
    Any,
    Version(u64),
}

/// 412 when `If-Match` names another version than the `stored` one.
pub(super) fn check_if_match(condition: Option<IfMatch>, stored: u64) -> Result<(), Error> {
    match condition {
        Some(IfMatch::Version(version)) if version != stored => Err(Error::PreconditionFailed { current: stored }),
        _ => Ok(()),
    }
}

/// An update's: `If-Match` (412), or else the body's `version` (409); one of them is required.
pub(super) fn check_update(condition: Option<IfMatch>, body_version: Option<u64>, stored: u64) -> Result<(), Error> {
    check_if_match(condition, stored)?;
    match (condition, body_version) {
        (_, Some(version)) if version != stored => Err(Error::VersionConflict { current: stored }),
        (None, None) => Err(Error::validation("version", "is required: send the version you read, or If-Match")),
        _ => Ok(()),
    }
}

/// A store's version conflict as the writer's error: 412 when it stated the version it read
/// with `If-Match`, 409 otherwise.
pub(super) fn stale(condition: Option<IfMatch>) -> impl Fn(StoreError) -> Error {
    move |err| match (err, condition) {
        (StoreError::VersionConflict { current }, Some(_)) => Error::PreconditionFailed { current },
        (StoreError::VersionConflict { current }, None) => Error::VersionConflict { current },
        (other, _) => other.into(),
    }
}
