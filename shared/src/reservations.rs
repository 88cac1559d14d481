//! Places in a rate limit's shared counter that this process took ahead of its requests
//! (issue 27). A key asked often takes several places in one write and hands them out here, so
//! that a busy caller costs one write for several requests instead of one each; a key asked
//! once in a while takes exactly what it asks, as before.
//!
//! The limit across processes still holds: every place is taken in the shared counter before a
//! request uses it. What a process holds unused when its hold ends is lost, so a caller spread
//! over many processes at its limit may be refused a few places early (a write takes at most a
//! quarter of the burst ahead), and a response's `RateLimit` is this process's view.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Mutex;

use crate::rate_limit::{Decision, RatePolicy};

/// How long places taken ahead are held after the last write for their key (µs): unused ones
/// are lost to the caller after it.
const HOLD_US: i64 = 1_000_000;
/// Keys held before the expired ones are dropped.
const MAX_KEYS: usize = 10_000;

/// What this process holds of each key's counter.
#[derive(Default)]
pub struct Reservations(Mutex<HashMap<String, Held>>);

#[derive(Clone, Copy)]
struct Held {
    /// Places taken and not handed out yet.
    left: u32,
    /// How many the last write took beyond the requests it was for; none after a refusal.
    ahead: Option<u32>,
    /// When the last write was (unix µs): the places are held until a second after it.
    taken_at: i64,
    /// What the shared counter answered it (its `remaining` without the places held).
    decision: Decision,
}

impl Held {
    fn current(&self, now_us: i64) -> bool {
        (0..HOLD_US).contains(&(now_us - self.taken_at))
    }
}

impl Reservations {
    /// `requests` at once against `key`'s limit: from the places held for it, or by `take`,
    /// which takes `n` places of the shared counter (all or none) in one write, with the
    /// places ahead this process then holds. Answers the decision for the requests.
    pub(crate) async fn take<F, Fut, E>(
        &self,
        key: &str,
        policy: &RatePolicy,
        requests: u32,
        now_us: i64,
        take: F,
    ) -> Result<Decision, E>
    where
        F: Fn(u32) -> Fut,
        Fut: Future<Output = Result<Decision, E>>,
    {
        if let Some(decision) = self.hand_out(key, requests, now_us) {
            return Ok(decision);
        }
        let ahead = self.ahead(key, policy, requests, now_us);
        let mut taken = (take(requests + ahead).await?, ahead);
        if !taken.0.allowed && ahead > 0 {
            // No room for the places ahead: only what is asked, as without a hold.
            taken = (take(requests).await?, 0);
        }
        let (decision, ahead) = taken;
        Ok(if decision.allowed { self.keep(key, ahead, now_us, decision) } else { self.forget(key, decision) })
    }

    /// `requests` of the places held for `key`, when as many are held.
    fn hand_out(&self, key: &str, requests: u32, now_us: i64) -> Option<Decision> {
        let mut held = self.0.lock().ok()?;
        let held = held.get_mut(key).filter(|h| h.current(now_us) && h.left >= requests)?;
        held.left -= requests;
        Some(Decision { remaining: held.decision.remaining.saturating_add(held.left), ..held.decision })
    }

    /// How many places beyond `requests` to take for `key` now: none for a key not taken within
    /// the hold or refused since, otherwise one more than twice the last time's, up to a
    /// quarter of the burst.
    fn ahead(&self, key: &str, policy: &RatePolicy, requests: u32, now_us: i64) -> u32 {
        let Ok(held) = self.0.lock() else { return 0 };
        let most = (policy.burst / 4).saturating_sub(requests);
        let last = held.get(key).filter(|h| h.current(now_us)).and_then(|h| h.ahead);
        last.map_or(0, |ahead| ahead.saturating_mul(2).saturating_add(1).min(most))
    }

    /// Holds `ahead` more places, taken for `key` at `now_us`, after which the shared counter
    /// answered `decision`, beside those still held (a concurrent request's); answers the
    /// decision for the requests they were taken with.
    fn keep(&self, key: &str, ahead: u32, now_us: i64, decision: Decision) -> Decision {
        let Ok(mut held) = self.0.lock() else { return decision };
        if held.len() >= MAX_KEYS {
            held.retain(|_, h| h.current(now_us));
        }
        let before = held.get(key).filter(|h| h.current(now_us)).map_or(0, |h| h.left);
        let kept = Held { left: before.saturating_add(ahead), ahead: Some(ahead), taken_at: now_us, decision };
        held.insert(key.to_string(), kept);
        Decision { remaining: decision.remaining.saturating_add(kept.left), ..decision }
    }

    /// After a refusal, a key takes exactly what it asks until a take is allowed again; the
    /// places still held (a concurrent request's) stay.
    fn forget(&self, key: &str, refused: Decision) -> Decision {
        if let Ok(mut held) = self.0.lock()
            && let Some(held) = held.get_mut(key)
        {
            held.ahead = None;
        }
        refused
    }
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;

    use super::*;
    use crate::rate_limit::gcra;

    const POLICY: RatePolicy = RatePolicy::new(20, 40);

    /// `count` requests one at a time, `every_us` apart, through `reservations` against one
    /// shared counter: answers how many were allowed and how many places-taking writes it took.
    async fn run(reservations: &Reservations, count: usize, every_us: i64) -> (usize, usize) {
        let (tat, writes) = (Cell::new(None), Cell::new(0));
        let mut allowed = 0;
        for n in 0..count {
            let now = n as i64 * every_us;
            let take = |places: u32| {
                let (decision, next) = gcra(tat.get(), now, &POLICY, places);
                tat.set(next.or(tat.get()));
                writes.set(writes.get() + usize::from(decision.allowed));
                async move { Ok::<_, ()>(decision) }
            };
            let decision = reservations.take("k", &POLICY, 1, now, take).await.expect("take");
            allowed += usize::from(decision.allowed);
        }
        (allowed, writes.get())
    }

    #[tokio::test]
    async fn a_busy_key_takes_several_places_a_write_and_still_gets_no_more_than_its_limit() {
        // 100 requests at once: the burst of 40 and not one more, in far fewer than 40 writes.
        let (allowed, writes) = run(&Reservations::default(), 100, 0).await;
        assert_eq!(allowed, 40);
        assert!(writes < 15, "{writes} writes");
    }

    #[tokio::test]
    async fn a_quiet_key_takes_exactly_what_it_asks() {
        // One request every 2 s: each its own write, nothing held between them.
        assert_eq!(run(&Reservations::default(), 5, 2_000_000).await, (5, 5));
    }

    #[test]
    fn places_held_past_the_hold_are_not_handed_out() {
        let reservations = Reservations::default();
        let decision = Decision { allowed: true, remaining: 30, reset_seconds: 1, retry_after_seconds: 0, wait_us: 0 };
        let kept = reservations.keep("k", 5, 0, decision);
        assert_eq!(kept.remaining, 35, "the places held are still the caller's");
        let beside = reservations.keep("k", 0, 1, decision);
        assert_eq!(beside.remaining, 35, "a concurrent write's places are held beside them");
        assert_eq!(reservations.hand_out("k", 1, 999_999).map(|d| d.remaining), Some(34));
        assert_eq!(reservations.hand_out("k", 5, 999_999), None, "four are left, not five");
        assert_eq!(
            reservations.hand_out("k", 1, 1 + HOLD_US),
            None,
            "a second after the last write, the hold has ended"
        );
    }
}
