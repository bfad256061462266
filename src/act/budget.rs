//! The global cap on outgoing auto-replies and notifications (`[replies] max_per_hour`): a
//! storm of forged mail cannot make the gateway a spam cannon, whatever the recipients.

use crate::locking::lock;
use std::sync::Mutex;

/// A fixed window of one hour: at most `max` messages, then none until the window ends.
#[derive(Default)]
pub struct ReplyBudget {
    window: Mutex<Window>,
}

#[derive(Default)]
struct Window {
    /// Unix seconds at which the current window started.
    started: u64,
    used: u32,
    /// The cap was reached in this window (logged once per window).
    hit: bool,
}

/// What [`ReplyBudget::take`] says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Spend {
    Granted,
    /// Refused; `first` for the first refusal of the window (log it).
    Refused {
        first: bool,
    },
}

const HOUR: u64 = 3600;

impl ReplyBudget {
    /// Takes one message out of this hour's `max`.
    pub fn take(&self, now: u64, max: u32) -> Spend {
        let mut window = lock(&self.window);
        if now >= window.started + HOUR || now < window.started {
            *window = Window {
                started: now,
                used: 0,
                hit: false,
            };
        }
        if window.used < max {
            window.used += 1;
            return Spend::Granted;
        }
        let first = !window.hit;
        window.hit = true;
        Spend::Refused { first }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn at_most_max_per_hour_then_again_next_hour() {
        let budget = ReplyBudget::default();
        assert_eq!(budget.take(1000, 2), Spend::Granted);
        assert_eq!(budget.take(1001, 2), Spend::Granted);
        assert_eq!(budget.take(1002, 2), Spend::Refused { first: true });
        assert_eq!(budget.take(1003, 2), Spend::Refused { first: false });
        assert_eq!(budget.take(1000 + HOUR, 2), Spend::Granted);
    }
}
