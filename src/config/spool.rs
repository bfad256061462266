//! `[spool]`: where accepted mail for an `smtp://` or `pipe:` ticket queue waits, fsync'd,
//! until the background delivery hands it over (see `store::spool`).

use super::{file, Checker, QueueTarget};
use std::path::PathBuf;
use std::time::Duration;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpoolSettings {
    /// False: relay before the final reply, `451 4.4.1` when the upstream cannot take it.
    pub enabled: bool,
    pub path: PathBuf,
    /// Delay before the retry after the n-th failed attempt; the last one repeats.
    pub retry_schedule: Vec<Duration>,
    /// A message still undelivered after this long goes to the quarantine.
    pub max_age: Duration,
}

impl SpoolSettings {
    /// How long to wait after `attempts` failed attempts (1 for the first failure).
    pub fn retry_delay(&self, attempts: u32) -> Duration {
        let index = (attempts.max(1) as usize - 1).min(self.retry_schedule.len().saturating_sub(1));
        self.retry_schedule
            .get(index)
            .copied()
            .unwrap_or(Duration::from_secs(60))
    }
}

impl Checker {
    pub(super) fn spool(&mut self, raw: &file::SpoolFile, queue: &QueueTarget) -> SpoolSettings {
        // A Maildir is durable by itself: the synchronous delivery already fsyncs it.
        let enabled = raw
            .enabled
            .unwrap_or(!matches!(queue, QueueTarget::Maildir(_)));
        if raw.path.is_empty() {
            self.problem("spool.path", "must not be empty");
        }
        if raw.retry_schedule.is_empty() {
            self.problem("spool.retry_schedule", "at least one delay is needed");
        }
        let retry_schedule: Vec<Duration> = raw
            .retry_schedule
            .iter()
            .map(|value| self.duration("spool.retry_schedule", value))
            .collect();
        if retry_schedule.iter().any(Duration::is_zero) {
            self.problem("spool.retry_schedule", "every delay must be greater than 0");
        }
        let max_age = self.duration("spool.max_age", &raw.max_age);
        if max_age.is_zero() {
            self.problem("spool.max_age", "must be greater than 0");
        }
        SpoolSettings {
            enabled,
            path: self.path(&raw.path),
            retry_schedule,
            max_age,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(schedule: &[u64]) -> SpoolSettings {
        SpoolSettings {
            enabled: true,
            path: PathBuf::new(),
            retry_schedule: schedule.iter().map(|s| Duration::from_secs(*s)).collect(),
            max_age: Duration::from_secs(5 * 86400),
        }
    }

    #[test]
    fn retry_delay_follows_the_schedule_then_repeats_the_last() {
        let s = settings(&[60, 300, 14400]);
        let delays: Vec<u64> = (0..6).map(|n| s.retry_delay(n).as_secs()).collect();
        assert_eq!(delays, [60, 60, 300, 14400, 14400, 14400]);
    }
}
