//! Failed sign-ins, counted per user name and per client IP: after `max` failures within the
//! window, further attempts for that name or from that address are refused until the oldest
//! failure leaves the window (even with the right password: a guesser learns nothing).

use crate::locking::lock;
use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Names and addresses remembered at once (beyond: the least recently failed are forgotten).
const MAX_KEYS: usize = 10_000;

pub struct FailedSignIns {
    max: usize,
    window: Duration,
    failures: Mutex<HashMap<String, VecDeque<Instant>>>,
}

impl FailedSignIns {
    pub fn new(max: u32, window: Duration) -> FailedSignIns {
        FailedSignIns {
            max: max.max(1) as usize,
            window,
            failures: Mutex::default(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, VecDeque<Instant>>> {
        lock(&self.failures)
    }

    /// True when `key` (`user:NAME`, `ip:ADDRESS`) has used up its failures.
    pub fn is_limited(&self, key: &str, now: Instant) -> bool {
        let mut failures = self.lock();
        let Some(times) = failures.get_mut(key) else {
            return false;
        };
        while times
            .front()
            .is_some_and(|t| now.duration_since(*t) >= self.window)
        {
            times.pop_front();
        }
        times.len() >= self.max
    }

    pub fn record_failure(&self, key: &str, now: Instant) {
        let mut failures = self.lock();
        if failures.len() >= MAX_KEYS && !failures.contains_key(key) {
            let window = self.window;
            failures.retain(|_, times| {
                times
                    .back()
                    .is_some_and(|t| now.duration_since(*t) < window)
            });
            if failures.len() >= MAX_KEYS {
                if let Some(stalest) = failures
                    .iter()
                    .min_by_key(|(_, times)| times.back().copied())
                    .map(|(k, _)| k.clone())
                {
                    failures.remove(&stalest);
                }
            }
        }
        let times = failures.entry(key.to_string()).or_default();
        times.push_back(now);
        while times.len() > self.max {
            times.pop_front();
        }
    }

    pub fn forget(&self, key: &str) {
        self.lock().remove(key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limited_after_max_failures_until_the_window_passes() {
        let limiter = FailedSignIns::new(3, Duration::from_secs(60));
        let t0 = Instant::now();
        for _ in 0..2 {
            limiter.record_failure("user:jdoe", t0);
        }
        assert!(!limiter.is_limited("user:jdoe", t0));
        limiter.record_failure("user:jdoe", t0);
        assert!(limiter.is_limited("user:jdoe", t0));
        assert!(!limiter.is_limited("user:other", t0));
        assert!(limiter.is_limited("user:jdoe", t0 + Duration::from_secs(59)));
        assert!(!limiter.is_limited("user:jdoe", t0 + Duration::from_secs(60)));
        limiter.record_failure("ip:127.0.0.1", t0);
        limiter.forget("ip:127.0.0.1");
        assert!(!limiter.is_limited("ip:127.0.0.1", t0));
    }
}
