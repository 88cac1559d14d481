//! Places in a rate limit's shared counter that this process took ahead of its requests
//! (issue 27). A key asked often takes several places in one write and hands them out here, so
//! that a busy caller costs one write for several requests instead of one each; a key asked
//! once in a while takes exactly what it asks, as before.
//!
//! What it changes in guarantees. Every place is taken in the shared counter before a request
//! uses it, but the counter dates it at its write and the request may come up to a second
//! later, when the counter may have given the place back. A process holds at most a quarter of
//! the burst, so over any span a caller gets at most a quarter of its burst more than a strict
//! limit allows from each instance holding places for it; the places an instance holds unused
//! when its second ends are lost (the caller may be refused that many early); and a response's
//! `RateLimit` is the answering instance's view.
//!
//! A process writes a busy key's counter once at a time: requests that find a write in flight
//! wait for the places it takes ahead instead of writing beside it. Writing beside it, they
//! were refused while places this process held went unused (CI, 2026-12-07: 20 PUTs of one
//! caller on a busy DynamoDB Local, 6 answered 429 with 40 places in the burst). A key that
//! takes nothing ahead (quiet, or refused since) writes beside others as before, so that a
//! caller over its limit builds no line of waiting requests; and no request waits longer than
//! `MAX_WAIT`, so that a store that hangs still answers within its own timeouts.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};

use crate::rate_limit::{Decision, RatePolicy};

/// How long places taken ahead are held (µs); a key not written for that long takes exactly
/// what it asks.
const HOLD_US: i64 = 1_000_000;
/// Keys held before the expired ones are dropped.
const MAX_KEYS: usize = 10_000;
/// The longest a request waits for another's write of its key before writing beside it.
const MAX_WAIT: std::time::Duration = std::time::Duration::from_secs(1);

/// What this process holds of each key's counter, and the lock of each key's writes.
#[derive(Default)]
pub(crate) struct Reservations {
    held: Mutex<HashMap<String, Held>>,
    writing: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

#[derive(Clone, Copy)]
struct Held {
    /// Places taken and not handed out yet.
    left: u32,
    /// Until when (unix µs) they may be handed out.
    until: i64,
    /// How many the last write took beyond the requests it was for; none after a refusal.
    ahead: Option<u32>,
    /// When the last write was (unix µs).
    taken_at: i64,
    /// What the shared counter answered it (its `remaining` without the places held).
    decision: Decision,
}

impl Held {
    /// The places still held at `now_us`. A request that read the clock before another's write
    /// (a quiet key's, or one that waited no longer) is one of them, not the past.
    fn left_at(&self, now_us: i64) -> u32 {
        if now_us < self.until { self.left } else { 0 }
    }

    fn busy(&self, now_us: i64) -> bool {
        now_us - self.taken_at < HOLD_US
    }
}

impl Reservations {
    /// `requests` at once against `key`'s limit: from the places held for it, or by `take`,
    /// which takes `n` places of the shared counter (all or none) in one write at the time it
    /// is given, with the places ahead this process then holds. Answers the decision for the
    /// requests. `now_us` is the clock (unix µs).
    pub(crate) async fn take<C, F, Fut, E>(
        &self,
        key: &str,
        policy: &RatePolicy,
        requests: u32,
        now_us: C,
        take: F,
    ) -> Result<Decision, E>
    where
        C: Fn() -> i64,
        F: Fn(u32, i64) -> Fut,
        Fut: Future<Output = Result<Decision, E>>,
    {
        if let Some(decision) = self.hand_out(key, requests, now_us()) {
            return Ok(decision);
        }
        let writing = (self.ahead(key, policy, requests, now_us()) > 0).then(|| self.writing(key));
        let _writing = match &writing {
            Some(lock) => tokio::time::timeout(MAX_WAIT, lock.lock()).await.ok(),
            None => None,
        };
        if let Some(decision) = self.hand_out(key, requests, now_us()) {
            return Ok(decision);
        }
        let now_us = now_us();
        let ahead = self.ahead(key, policy, requests, now_us);
        let mut taken = (take(requests + ahead, now_us).await?, ahead);
        if !taken.0.allowed && ahead > 0 {
            // No room for the places ahead: only what is asked, as without a hold.
            taken = (take(requests, now_us).await?, 0);
        }
        let (decision, ahead) = taken;
        Ok(if decision.allowed { self.keep(key, ahead, now_us, decision) } else { self.forget(key, decision) })
    }

    /// The lock of `key`'s writes; the locks no request holds are dropped once there are many.
    fn writing(&self, key: &str) -> Arc<tokio::sync::Mutex<()>> {
        let mut writing = self.writing.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(lock) = writing.get(key) {
            return lock.clone();
        }
        if writing.len() >= MAX_KEYS {
            writing.retain(|_, lock| Arc::strong_count(lock) > 1);
        }
        writing.entry(key.to_string()).or_default().clone()
    }

    /// `requests` of the places held for `key`, when as many are held.
    fn hand_out(&self, key: &str, requests: u32, now_us: i64) -> Option<Decision> {
        let mut held = self.held.lock().ok()?;
        let held = held.get_mut(key).filter(|h| h.left_at(now_us) >= requests)?;
        held.left -= requests;
        Some(Decision { remaining: held.decision.remaining.saturating_add(held.left), ..held.decision })
    }

    /// How many places beyond `requests` to take for `key` now: none for a key not taken within
    /// the hold or refused since, otherwise one more than twice the last time's, up to a
    /// quarter of the burst.
    fn ahead(&self, key: &str, policy: &RatePolicy, requests: u32, now_us: i64) -> u32 {
        let Ok(held) = self.held.lock() else { return 0 };
        let most = (policy.burst / 4).saturating_sub(requests);
        let last = held.get(key).filter(|h| h.busy(now_us)).and_then(|h| h.ahead);
        last.map_or(0, |ahead| ahead.saturating_mul(2).saturating_add(1).min(most))
    }

    /// Holds `ahead` more places, taken for `key` at `now_us`, after which the shared counter
    /// answered `decision`, beside those still held (an earlier write's, whose hold then
    /// ends first: no place is held longer than its own); answers the decision for the
    /// requests they were taken with.
    fn keep(&self, key: &str, ahead: u32, now_us: i64, decision: Decision) -> Decision {
        let Ok(mut held) = self.held.lock() else { return decision };
        if held.len() >= MAX_KEYS {
            held.retain(|_, h| h.busy(now_us));
        }
        let fresh = now_us.saturating_add(HOLD_US);
        let (left, until) = match held.get(key).filter(|h| h.left_at(now_us) > 0) {
            None => (ahead, fresh),
            Some(before) if ahead == 0 => (before.left, before.until),
            Some(before) => (before.left.saturating_add(ahead), before.until.min(fresh)),
        };
        let kept = Held {
            left,
            until,
            ahead: Some(ahead),
            taken_at: now_us.max(held.get(key).map_or(now_us, |h| h.taken_at)),
            decision,
        };
        held.insert(key.to_string(), kept);
        Decision { remaining: decision.remaining.saturating_add(kept.left), ..decision }
    }

    /// After a refusal, a key takes exactly what it asks until a take is allowed again; the
    /// places still held (an earlier write's) stay.
    fn forget(&self, key: &str, refused: Decision) -> Decision {
        if let Ok(mut held) = self.held.lock()
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
    use std::sync::atomic::AtomicUsize;
    use std::sync::atomic::Ordering::SeqCst;

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
            let take = |places: u32, now: i64| {
                let (decision, next) = gcra(tat.get(), now, &POLICY, places);
                tat.set(next.or(tat.get()));
                writes.set(writes.get() + usize::from(decision.allowed));
                async move { Ok::<_, ()>(decision) }
            };
            let decision = reservations.take("k", &POLICY, 1, || now, take).await.expect("take");
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

    /// A shared counter whose every write answers 5 ms late, as a busy DynamoDB's: counts the
    /// most writes in flight at once.
    #[derive(Default)]
    struct SlowCounter {
        tat: std::sync::Mutex<Option<i64>>,
        in_flight: AtomicUsize,
        most_at_once: AtomicUsize,
    }

    impl SlowCounter {
        fn take(&self, places: u32, now: i64) -> impl Future<Output = Result<Decision, ()>> + '_ {
            let mut tat = self.tat.lock().expect("lock");
            let (decision, next) = gcra(*tat, now, &POLICY, places);
            *tat = next.or(*tat);
            let at_once = self.in_flight.fetch_add(1, SeqCst) + 1;
            self.most_at_once.fetch_max(at_once, SeqCst);
            async move {
                tokio::time::sleep(std::time::Duration::from_millis(5)).await;
                self.in_flight.fetch_sub(1, SeqCst);
                Ok(decision)
            }
        }
    }

    #[tokio::test]
    async fn requests_at_once_are_refused_only_when_the_limit_is_spent_not_while_places_sit_held() {
        // 20 requests in flight at once on a busy key. Before, each took places ahead beside
        // the others, the later ones were refused, and the places the first ones held went unused.
        let (reservations, counter) = (Reservations::default(), SlowCounter::default());
        let request = || reservations.take("k", &POLICY, 1, || 0, |places, now| counter.take(places, now));
        for _ in 0..3 {
            assert!(request().await.expect("take").allowed, "a key made busy");
        }
        let at_once = futures::future::join_all((0..20).map(|_| request())).await;
        let allowed = at_once.iter().filter(|d| d.as_ref().is_ok_and(|d| d.allowed)).count();
        assert_eq!(allowed, 20, "23 requests of a burst of 40");
    }

    #[tokio::test]
    async fn requests_of_a_key_over_its_limit_are_refused_side_by_side_not_one_after_another() {
        let (reservations, counter) = (Reservations::default(), SlowCounter::default());
        let request = |n| reservations.take("k", &POLICY, n, || 0, |places, now| counter.take(places, now));
        assert!(request(40).await.expect("take").allowed, "the whole burst");
        assert!(!request(1).await.expect("take").allowed, "then nothing");
        counter.most_at_once.store(0, SeqCst);
        let at_once = futures::future::join_all((0..20).map(|_| request(1))).await;
        assert!(at_once.iter().all(|d| d.as_ref().is_ok_and(|d| !d.allowed)));
        assert_eq!(counter.most_at_once.load(SeqCst), 20, "no line of refused requests");
    }

    #[tokio::test]
    async fn a_quiet_key_takes_exactly_what_it_asks() {
        // One request every 2 s: each its own write, nothing held between them.
        assert_eq!(run(&Reservations::default(), 5, 2_000_000).await, (5, 5));
    }

    #[test]
    fn places_are_held_a_second_and_no_place_longer_than_its_own_hold() {
        let reservations = Reservations::default();
        let decision = Decision { allowed: true, remaining: 30, reset_seconds: 1, retry_after_seconds: 0, wait_us: 0 };
        let kept = reservations.keep("k", 5, 0, decision);
        assert_eq!(kept.remaining, 35, "the places held are still the caller's");
        let beside = reservations.keep("k", 2, 500_000, decision);
        assert_eq!(beside.remaining, 37, "a concurrent write's places are held beside them");
        let earlier = reservations.hand_out("k", 1, 400_000).map(|d| d.remaining);
        assert_eq!(earlier, Some(36), "a concurrent request that read the clock before the write");
        assert_eq!(reservations.hand_out("k", 1, 999_999).map(|d| d.remaining), Some(35));
        assert_eq!(reservations.hand_out("k", 6, 999_999), None, "five are left, not six");
        assert_eq!(reservations.hand_out("k", 1, HOLD_US), None, "the first write's second has ended");
    }
}
