//! Rate limits (docs/contract.md 5.5): a rate and a burst per key (a caller, an entity's publishes),
//! kept as one number, the GCRA's theoretical arrival time, so that a shared counter is one
//! conditional write per request.

use std::fmt;

use crate::error::Error;
use crate::model::EntityId;
use crate::runtime::ApiContext;
use crate::store::RateLimitStore;

/// The fastest rate a policy may set (a webhook's `rateLimit` at most): the shared counter
/// counts in microseconds.
const MAX_PER_SECOND: u32 = 10_000;

/// `20/s,40`: on average one request every `interval_us` (20 a second), up to `burst` at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RatePolicy {
    interval_us: i64,
    pub burst: u32,
}

impl RatePolicy {
    /// `per_second` (at least 1) requests a second, up to `burst` at once.
    pub const fn new(per_second: u32, burst: u32) -> Self {
        Self { interval_us: 1_000_000 / per_second as i64, burst }
    }

    /// One request every `interval` (at least a microsecond), up to `burst` at once: rates
    /// slower than one a second.
    pub fn every(interval: std::time::Duration, burst: u32) -> Self {
        Self { interval_us: i64::try_from(interval.as_micros()).unwrap_or(i64::MAX).max(1), burst }
    }

    /// Whole requests a second, at least 1 (for the headers and the configuration's form).
    fn per_second(&self) -> u32 {
        u32::try_from(1_000_000 / self.interval_us).unwrap_or(u32::MAX).max(1)
    }

    /// Parses `N/s,B` or `N/m,B` (N a second or a minute, bursts of B).
    pub fn parse(text: &str) -> Result<Self, String> {
        let usage = || format!("{text:?} is not a rate such as 20/s,40 (requests per second or /m per minute, burst)");
        let (rate, burst) = text.trim().split_once(',').ok_or_else(usage)?;
        let (count, unit) = rate.trim().split_once('/').ok_or_else(usage)?;
        let count: u32 = count.trim().parse().map_err(|_| usage())?;
        let burst: u32 = burst.trim().parse().map_err(|_| usage())?;
        let per_second = match unit.trim() {
            "s" => count,
            // At least one a second, for a whole number of them.
            "m" => count.div_ceil(60),
            _ => return Err(usage()),
        };
        if per_second == 0 || burst == 0 {
            return Err(format!("{text:?}: the rate and the burst must be at least 1"));
        }
        if per_second > MAX_PER_SECOND {
            return Err(format!("{text:?}: the rate may be at most {MAX_PER_SECOND}/s"));
        }
        Ok(Self::new(per_second, burst))
    }

    /// Microseconds between requests at the steady rate (the GCRA's emission interval).
    pub fn interval_us(&self) -> i64 {
        self.interval_us
    }

    /// How far ahead of now the arrival time may run: a full burst's worth, less one.
    pub fn tolerance_us(&self) -> i64 {
        self.interval_us() * (i64::from(self.burst) - 1)
    }
}

impl fmt::Display for RatePolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/s,{}", self.per_second(), self.burst)
    }
}

/// What one request was told.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision {
    pub allowed: bool,
    /// Requests left in the burst after this one.
    pub remaining: u32,
    /// Seconds until the burst is whole again.
    pub reset_seconds: u64,
    /// Seconds to wait before a refused request may succeed (0 when allowed).
    pub retry_after_seconds: u64,
    /// Microseconds from now to an allowed request's place in the steady rate: 0 within the
    /// burst; a caller that waits this long before acting never goes faster than the rate.
    pub wait_us: i64,
}

/// A decision against one named limit, and how the IETF rate-limit headers draft
/// (draft-ietf-httpapi-ratelimit-headers) says it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verdict {
    /// The policy's name in the headers: `caller` or `publish`.
    pub name: &'static str,
    pub policy: RatePolicy,
    pub decision: Decision,
}

impl Verdict {
    /// `RateLimit-Policy: "caller";q=40;w=2`: a quota of a burst over the window that refills it.
    pub(crate) fn policy_header(&self) -> String {
        let window = self.policy.burst.div_ceil(self.policy.per_second());
        format!("\"{}\";q={};w={window}", self.name, self.policy.burst)
    }

    /// `RateLimit: "caller";r=39;t=1`: what is left, and the seconds until the burst is whole.
    pub fn limit_header(&self) -> String {
        format!("\"{}\";r={};t={}", self.name, self.decision.remaining, self.decision.reset_seconds)
    }
}

/// The GCRA step for `requests` at once (all or none): `tat` is the stored arrival time (unix
/// µs, none for a new key), `now` the time of the request. Answers the decision and, when
/// allowed, the arrival time to store. More requests than the burst are never allowed.
pub(crate) fn gcra(tat: Option<i64>, now: i64, policy: &RatePolicy, requests: u32) -> (Decision, Option<i64>) {
    let (interval, tolerance) = (policy.interval_us(), policy.tolerance_us());
    let start = tat.unwrap_or(now).max(now);
    let beyond_first = interval * (i64::from(requests.max(1)) - 1);
    if start + beyond_first - now > tolerance {
        let decision = Decision {
            allowed: false,
            remaining: 0,
            reset_seconds: seconds(start - now),
            retry_after_seconds: seconds(start + beyond_first - now - tolerance).max(1),
            wait_us: 0,
        };
        return (decision, None);
    }
    let next = start + beyond_first + interval;
    (decision_after(next, now, policy), Some(next))
}

/// The decision of an allowed request that left the arrival time at `next`.
pub(crate) fn decision_after(next: i64, now: i64, policy: &RatePolicy) -> Decision {
    let left = (policy.tolerance_us() - (next - now)).div_euclid(policy.interval_us()) + 1;
    Decision {
        allowed: true,
        remaining: u32::try_from(left.max(0)).unwrap_or(0),
        reset_seconds: seconds(next - now),
        retry_after_seconds: 0,
        wait_us: (next - policy.interval_us() - now).max(0),
    }
}

/// Whole seconds, rounded up.
fn seconds(us: i64) -> u64 {
    u64::try_from(us.max(0)).unwrap_or(0).div_ceil(1_000_000)
}

/// `events` publishes against `entity`'s limit, all or none, in one write: their verdict, or
/// 429 (400 when they are more than its burst, which they could never fit).
pub(crate) async fn take_publish<S: RateLimitStore + ?Sized>(
    ctx: &ApiContext,
    store: &S,
    entity: EntityId,
    events: usize,
) -> Result<Verdict, Error> {
    let policy = ctx.settings.publish_rate;
    // More than a burst never fits (and more than u32::MAX is more than any burst).
    let Some(events) = u32::try_from(events).ok().filter(|events| *events <= policy.burst) else {
        return Err(Error::BadRequest(format!(
            "{events} events are more than the publish limit's burst of {}; send them in smaller batches",
            policy.burst
        )));
    };
    take_many(ctx, store, "publish", &format!("publish#{entity}"), policy, events).await
}

pub(crate) async fn take<S: RateLimitStore + ?Sized>(
    ctx: &ApiContext,
    store: &S,
    name: &'static str,
    key: &str,
    policy: RatePolicy,
) -> Result<Verdict, Error> {
    take_many(ctx, store, name, key, policy, 1).await
}

async fn take_many<S: RateLimitStore + ?Sized>(
    ctx: &ApiContext,
    store: &S,
    name: &'static str,
    key: &str,
    policy: RatePolicy,
    requests: u32,
) -> Result<Verdict, Error> {
    let now = || ctx.clock.now().timestamp_micros();
    let take = |places, now| store.take_many(key, &policy, places, now);
    let decision = ctx.reservations.take(key, &policy, requests, now, take).await?;
    let verdict = Verdict { name, policy, decision };
    if decision.allowed { Ok(verdict) } else { Err(Error::RateLimited(verdict)) }
}

#[cfg(test)]
mod tests {
    use super::*;

    const API: RatePolicy = RatePolicy::new(20, 40);

    #[test]
    fn policies_parse_and_bad_ones_say_why() {
        assert_eq!(RatePolicy::parse("20/s,40"), Ok(API));
        assert_eq!(RatePolicy::parse(" 200/s , 400 "), Ok(RatePolicy::new(200, 400)));
        assert_eq!(RatePolicy::parse("90/m,10"), Ok(RatePolicy::new(2, 10)));
        for bad in ["20", "20/h,4", "0/s,1", "20/s,0", "x/s,4", "10001/s,5"] {
            assert!(RatePolicy::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_burst_from_idle_then_the_steady_rate() {
        let mut tat = None;
        let mut allowed = 0;
        for _ in 0..100 {
            let (decision, next) = gcra(tat, 0, &API, 1);
            tat = next.or(tat);
            allowed += u32::from(decision.allowed);
            if allowed == 1 {
                assert_eq!((decision.remaining, decision.reset_seconds), (39, 1));
            }
        }
        assert_eq!(allowed, 40, "the burst, all at one instant");
        let (refused, _) = gcra(tat, 0, &API, 1);
        assert_eq!(
            (refused.allowed, refused.remaining, refused.retry_after_seconds, refused.reset_seconds),
            (false, 0, 1, 2)
        );
        // 50 ms later (one interval), one more fits, and only one.
        let (decision, next) = gcra(tat, 50_000, &API, 1);
        assert!(decision.allowed && decision.remaining == 0);
        assert!(!gcra(next, 50_000, &API, 1).0.allowed);
    }

    #[test]
    fn several_requests_at_once_take_all_their_places_or_none() {
        let (thirty, tat) = gcra(None, 0, &API, 30);
        assert_eq!((thirty.allowed, thirty.remaining), (true, 10));
        assert!(!gcra(tat, 0, &API, 11).0.allowed, "11 more do not fit the 10 left");
        let (ten, _) = gcra(tat, 0, &API, 10);
        assert_eq!((ten.allowed, ten.remaining), (true, 0));
        let (wider, _) = gcra(None, 0, &API, 41);
        assert!(!wider.allowed, "more than the burst never fits");
    }

    #[test]
    fn verdicts_say_the_ietf_headers() {
        let (decision, _) = gcra(None, 0, &API, 1);
        let verdict = Verdict { name: "caller", policy: API, decision };
        assert_eq!(verdict.policy_header(), "\"caller\";q=40;w=2");
        assert_eq!(verdict.limit_header(), "\"caller\";r=39;t=1");
    }

    #[test]
    fn an_arrival_time_in_the_past_counts_as_idle() {
        let (decision, next) = gcra(Some(1_000_000), 60_000_000, &API, 1);
        assert_eq!((decision.allowed, decision.remaining, next), (true, 39, Some(60_050_000)));
    }

    #[test]
    fn a_burst_wide_enough_to_reserve_ahead_spaces_each_request_at_the_rate() {
        // 5 a second, reserving up to 2 s ahead: each request is told when its turn comes.
        let policy = RatePolicy::new(5, 10);
        let mut tat = None;
        let waits: Vec<i64> = (0..11)
            .map(|_| {
                let (decision, next) = gcra(tat, 0, &policy, 1);
                tat = next.or(tat);
                if decision.allowed { decision.wait_us } else { -1 }
            })
            .collect();
        assert_eq!(
            waits,
            [0, 200_000, 400_000, 600_000, 800_000, 1_000_000, 1_200_000, 1_400_000, 1_600_000, 1_800_000, -1]
        );
    }
}
