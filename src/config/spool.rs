//! `[spool]`: where accepted mail for an `smtp://` or `pipe:` ticket queue waits, fsync'd,
//! until the background delivery hands it over (see `store::spool`).

use super::checker::Checker;
use super::duration::parse_duration;
use super::file;
use super::targets::QueueTarget;
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
        let mut retry_schedule = Vec::with_capacity(raw.retry_schedule.len());
        for value in &raw.retry_schedule {
            match parse_duration(value) {
                // Attempt times are kept in whole seconds.
                Ok(delay) if delay < Duration::from_secs(1) => {
                    self.problem("spool.retry_schedule", format!("{value:?}: at least 1s"))
                }
                Ok(delay) => retry_schedule.push(delay),
                Err(e) => self.problem("spool.retry_schedule", format!("bad duration: {e}")),
            }
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

    fn checked(raw: &file::SpoolFile, queue: &QueueTarget) -> (SpoolSettings, Vec<String>) {
        let mut checker = Checker {
            file: "supportgate.toml".into(),
            base: PathBuf::from("/etc/supportgate"),
            problems: Vec::new(),
        };
        let settings = checker.spool(raw, queue);
        let problems = checker.problems.iter().map(|p| p.key.clone()).collect();
        (settings, problems)
    }

    #[test]
    fn on_by_default_for_smtp_and_pipe_off_for_maildir() {
        let raw = file::SpoolFile::default();
        let smtp = QueueTarget::Smtp {
            host: "127.0.0.1".into(),
            port: 25,
        };
        let (settings, problems) = checked(&raw, &smtp);
        assert!(settings.enabled && problems.is_empty(), "{problems:?}");
        assert_eq!(
            settings.path,
            PathBuf::from("/etc/supportgate/../var/spool")
        );
        assert_eq!(settings.max_age, Duration::from_secs(5 * 86400));
        assert_eq!(settings.retry_schedule.len(), 7);
        let maildir = QueueTarget::Maildir(PathBuf::from("/var/tickets"));
        assert!(!checked(&raw, &maildir).0.enabled);
        let forced = file::SpoolFile {
            enabled: Some(false),
            ..file::SpoolFile::default()
        };
        assert!(!checked(&forced, &smtp).0.enabled);
    }

    #[test]
    fn bad_values_are_reported_by_key() {
        let raw = file::SpoolFile {
            enabled: None,
            path: String::new(),
            retry_schedule: vec!["soon".into()],
            max_age: "0s".into(),
        };
        let maildir = QueueTarget::Maildir(PathBuf::new());
        let (_, problems) = checked(&raw, &maildir);
        assert_eq!(
            problems,
            ["spool.path", "spool.retry_schedule", "spool.max_age"]
        );
    }

    #[test]
    fn retry_delay_follows_the_schedule_then_repeats_the_last() {
        let s = settings(&[60, 300, 14400]);
        let delays: Vec<u64> = (0..6).map(|n| s.retry_delay(n).as_secs()).collect();
        assert_eq!(delays, [60, 60, 300, 14400, 14400, 14400]);
    }
}
