//! The DATA deadline with a minimum data rate (Postfix `smtpd_min_data_rate`), as a pure
//! calculation: the session passes `now` in, so the rule is tested without a clock.
//!
//! The rule (also in [`super::Timeouts::data_block`]): the deadline starts at `354` +
//! `data_block`; each chunk of N bytes pushes it back by N / `min_data_rate` seconds, never
//! beyond `now + data_block`, and only the first `max_counted` bytes (the message size limit)
//! earn time.

use std::time::Duration;

use tokio::time::Instant;

#[derive(Debug, Clone)]
pub(crate) struct DataDeadline {
    deadline: Instant,
    block: Duration,
    min_rate: u64,
    /// Bytes that may still earn time.
    uncounted: u64,
}

impl DataDeadline {
    pub(crate) fn new(start: Instant, block: Duration, min_rate: u64, max_counted: u64) -> Self {
        Self {
            deadline: later(start, block),
            block,
            min_rate: min_rate.max(1),
            uncounted: max_counted,
        }
    }

    pub(crate) fn deadline(&self) -> Instant {
        self.deadline
    }

    /// `bytes` arrived at `now`.
    pub(crate) fn received(&mut self, bytes: usize, now: Instant) {
        let counted = self.uncounted.min(bytes as u64);
        self.uncounted -= counted;
        let nanos = u128::from(counted) * 1_000_000_000 / u128::from(self.min_rate);
        let earned = Duration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX));
        let cap = later(now, self.block);
        self.deadline = self.deadline.checked_add(earned).unwrap_or(cap).min(cap);
    }
}

/// `at + by`, or as far as the clock goes (a configured timeout may be absurdly long).
pub(crate) fn later(at: Instant, by: Duration) -> Instant {
    at.checked_add(by)
        .unwrap_or_else(|| at + Duration::from_secs(100 * 365 * 24 * 3600))
}

#[cfg(test)]
mod tests {
    use super::*;

    const BLOCK: Duration = Duration::from_secs(180);

    #[test]
    fn a_trickle_earns_almost_nothing() {
        let start = Instant::now();
        let mut d = DataDeadline::new(start, BLOCK, 500, 10_000_000);
        // One byte every 3 s for 3 minutes: 60 bytes, 120 ms earned.
        for i in 1..=60 {
            d.received(1, start + Duration::from_secs(3 * i));
        }
        assert_eq!(d.deadline(), start + BLOCK + Duration::from_millis(120));
    }

    #[test]
    fn a_client_above_the_rate_never_runs_out() {
        let start = Instant::now();
        let mut d = DataDeadline::new(start, BLOCK, 500, 10_000_000);
        // 1000 bytes/s for an hour: the deadline stays one block ahead.
        for i in 1..=3600 {
            let now = start + Duration::from_secs(i);
            d.received(1000, now);
            assert!(
                d.deadline() > now + BLOCK - Duration::from_secs(1),
                "at {i} s"
            );
        }
    }

    #[test]
    fn the_deadline_is_never_more_than_one_block_ahead() {
        let start = Instant::now();
        let mut d = DataDeadline::new(start, BLOCK, 500, 10_000_000);
        d.received(5_000_000, start);
        assert_eq!(d.deadline(), start + BLOCK);
    }

    #[test]
    fn bytes_past_the_size_limit_earn_nothing() {
        let start = Instant::now();
        let mut d = DataDeadline::new(start, BLOCK, 1, 10);
        let now = start + Duration::from_secs(100);
        d.received(1000, now);
        assert_eq!(d.deadline(), start + BLOCK + Duration::from_secs(10));
        d.received(1000, now);
        assert_eq!(d.deadline(), start + BLOCK + Duration::from_secs(10));
    }
}
