//! The retry schedule: delays before attempts 2, 3, ...; each wait is a delayed message, or the
//! timer's for one past SQS's longest delay (`crate::delivery`).

use std::time::Duration;

use crate::config::parse_duration;

/// The longest delay the schedule takes: a day.
pub(crate) const MAX_DELAY: Duration = Duration::from_secs(24 * 3600);
const JITTER: f64 = 0.2;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetrySchedule {
    delays: Vec<Duration>,
}

impl RetrySchedule {
    /// `5s,5m,30m,2h,5h,10h,10h`: the delays before attempts 2, 3, ...
    pub fn parse(text: &str) -> Result<Self, String> {
        let delays = text.split(',').map(parse_duration).collect::<Result<Vec<_>, _>>()?;
        if delays.iter().any(|d| *d > MAX_DELAY) {
            return Err("a delay is longer than 24h, the longest a retry waits".into());
        }
        Ok(Self { delays })
    }

    pub fn max_attempts(&self) -> u32 {
        u32::try_from(self.delays.len()).map_or(u32::MAX, |n| n.saturating_add(1))
    }

    /// The delay before the attempt after `attempt` (1-based), or `None` after the last one.
    pub fn delay_after(&self, attempt: u32) -> Option<Duration> {
        let index = usize::try_from(attempt).ok()?.checked_sub(1)?;
        self.delays.get(index).copied()
    }

    /// The scheduled delay, raised to the receiver's `Retry-After` but never past the
    /// schedule's longest delay, then spread by `jitter` (from -1 to 1) of ±20%.
    pub fn next_delay(&self, attempt: u32, retry_after: Option<Duration>, jitter: f64) -> Option<Duration> {
        let scheduled = self.delay_after(attempt)?;
        let longest = self.delays.iter().max().copied().unwrap_or(scheduled);
        let wanted = retry_after.map_or(scheduled, |asked| asked.clamp(scheduled, longest.max(scheduled)));
        let factor = 1.0 + JITTER * jitter.clamp(-1.0, 1.0);
        Some(wanted.mul_f64(factor).min(MAX_DELAY))
    }
}

impl Default for RetrySchedule {
    fn default() -> Self {
        let hours = |h: u64| Duration::from_secs(h * 3600);
        let delays = vec![
            Duration::from_secs(5),
            Duration::from_secs(300),
            Duration::from_secs(1800),
            hours(2),
            hours(5),
            hours(10),
            hours(10),
        ];
        Self { delays }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_schedule_is_the_documented_one() {
        assert_eq!(RetrySchedule::parse("5s,5m,30m,2h,5h,10h,10h"), Ok(RetrySchedule::default()));
        let schedule = RetrySchedule::default();
        assert_eq!(schedule.max_attempts(), 8);
        assert_eq!(schedule.delay_after(1), Some(Duration::from_secs(5)));
        assert_eq!(schedule.delay_after(7), Some(Duration::from_secs(36_000)));
        assert_eq!(schedule.delay_after(8), None, "no attempt after the eighth");
        assert_eq!(schedule.delay_after(0), None);
    }

    #[test]
    fn jitter_is_twenty_percent_at_most() {
        let schedule = RetrySchedule::default();
        assert_eq!(schedule.next_delay(2, None, -1.0), Some(Duration::from_secs(240)));
        assert_eq!(schedule.next_delay(2, None, 1.0), Some(Duration::from_secs(360)));
        assert_eq!(schedule.next_delay(2, None, 7.0), Some(Duration::from_secs(360)), "jitter is clamped");
        assert_eq!(schedule.next_delay(6, None, 1.0), Some(Duration::from_secs(43_200)), "10 h + 20%, not cut to 12 h");
        let long = RetrySchedule::parse("23h").expect("schedule");
        assert_eq!(long.next_delay(1, None, 1.0), Some(MAX_DELAY), "never past a day");
    }

    #[test]
    fn retry_after_is_honoured_within_the_schedule() {
        let schedule = RetrySchedule::parse("1s,10s").expect("schedule");
        assert_eq!(schedule.next_delay(1, Some(Duration::from_secs(4)), 0.0), Some(Duration::from_secs(4)));
        assert_eq!(schedule.next_delay(1, Some(Duration::from_secs(3600)), 0.0), Some(Duration::from_secs(10)));
        assert_eq!(
            schedule.next_delay(2, Some(Duration::from_secs(1)), 0.0),
            Some(Duration::from_secs(10)),
            "never sooner"
        );
    }

    #[test]
    fn bad_schedules_are_refused() {
        assert!(RetrySchedule::parse("5s,soon").is_err());
        assert!(RetrySchedule::parse("25h").is_err());
        assert!(RetrySchedule::parse("13h").is_ok(), "past SQS's 12 h of visibility: the timer waits it");
    }
}
