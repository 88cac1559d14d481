//! Smoke runs (`WEBHOOKS_SMOKE=1`, part of `make test`): `make bench` and `make load` on a few
//! items each, in seconds, so that neither breaks unseen; their figures mean nothing.

/// Whether this is a smoke run: `WEBHOOKS_SMOKE` set to anything but empty or `0`.
pub(crate) fn smoke() -> bool {
    std::env::var("WEBHOOKS_SMOKE").is_ok_and(|value| !value.is_empty() && value != "0")
}

/// `full` items, or `few` in a smoke run.
pub(crate) fn sized(full: usize, few: usize) -> usize {
    if smoke() { few } else { full }
}
