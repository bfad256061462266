//! The spool delivery's clock, started by `serve`: the spool is read once at start; from then
//! on the writer tells it of every new message ([`crate::store::spool::Arrival`]) and each
//! attempt that fails says when the next one is due. Due times wait in a timer heap: no scan
//! of the spool, and nothing runs while nothing is due, however many messages wait.
//!
//! At start everything waiting is attempted at once (recovery after a crash), as after
//! `queue flush` (SIGUSR1). Segments written by the command line (`quarantine release`,
//! `queue delete`) are adopted at SIGUSR1 and every [`ADOPT_EVERY`].

use super::Actor;
use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinSet;

/// Deliveries in flight at once.
pub const CONCURRENCY: usize = 8;
/// How often segments written by the command line are looked for (a listing of
/// `segments/`, a few names: its cost does not grow with the backlog).
pub const ADOPT_EVERY: Duration = Duration::from_secs(5);

/// At most this many bytes of new messages are kept for their first attempt
/// ([`FreshBytes`]); beyond it (a backlog forming), attempts read the segment.
pub const FRESH_BYTES_MAX: usize = 16 * 1024 * 1024;

/// The bytes of new messages, handed over by the spool writer once durable, until their
/// first attempt: a message relayed as it arrives is never read back from its segment (a
/// read on the blocking pool: two thread wake-ups, an open, a read and a close). Bounded by
/// [`FRESH_BYTES_MAX`]; what does not fit is read from the segment when its turn comes.
#[derive(Debug, Default)]
pub struct FreshBytes {
    by_id: HashMap<String, Vec<u8>>,
    total: usize,
}

impl FreshBytes {
    /// Keeps `bytes` for `id` if they fit.
    pub fn keep(&mut self, id: &str, bytes: Vec<u8>) {
        if self.total + bytes.len() > FRESH_BYTES_MAX || self.by_id.contains_key(id) {
            return;
        }
        self.total += bytes.len();
        self.by_id.insert(id.to_string(), bytes);
    }

    /// The bytes kept for `id`, no longer kept.
    pub fn take(&mut self, id: &str) -> Option<Vec<u8>> {
        let bytes = self.by_id.remove(id)?;
        self.total -= bytes.len();
        Some(bytes)
    }
}

/// Message ids by due time (Unix seconds), soonest first.
#[derive(Debug, Default)]
pub struct DueTimes {
    heap: BinaryHeap<Reverse<(u64, String)>>,
}

impl DueTimes {
    pub fn push(&mut self, due: u64, id: String) {
        self.heap.push(Reverse((due, id)));
    }

    /// The soonest id due at `now`.
    pub fn pop_due(&mut self, now: u64) -> Option<String> {
        match self.heap.peek() {
            Some(Reverse((due, _))) if *due <= now => self.heap.pop().map(|Reverse((_, id))| id),
            _ => None,
        }
    }

    pub fn next_due(&self) -> Option<u64> {
        self.heap.peek().map(|Reverse((due, _))| *due)
    }

    /// Everything waiting, due now.
    fn all_now(ids: impl Iterator<Item = String>) -> DueTimes {
        DueTimes {
            heap: ids.map(|id| Reverse((0, id))).collect(),
        }
    }
}

/// Runs until the process stops.
pub async fn run(actor: Arc<Actor>) {
    let live = loop {
        match actor.live_spool().await {
            Ok(live) => break live,
            Err(e) => {
                tracing::error!(error = %e, "spool not readable; trying again");
                tokio::time::sleep(ADOPT_EVERY).await;
            }
        }
    };
    let Some(mut arrivals) = live.take_arrivals() else {
        tracing::error!("spool delivery started twice");
        return;
    };
    let waiting = || live.waiting_entries().into_iter().map(|e| e.id);
    let mut due = DueTimes::all_now(waiting());
    let mut running: JoinSet<(String, Option<u64>)> = JoinSet::new();
    let mut in_flight: HashSet<String> = HashSet::new();
    let mut fresh = FreshBytes::default();
    let mut adopt = tokio::time::interval(ADOPT_EVERY);
    loop {
        let now = super::unix_now();
        while running.len() < CONCURRENCY {
            let Some(id) = due.pop_due(now) else { break };
            let bytes = fresh.take(&id);
            // Already on its way (a flush, or the arrival of a message adopted twice).
            if !in_flight.insert(id.clone()) {
                continue;
            }
            let actor = Arc::clone(&actor);
            running.spawn(async move {
                let next = actor.deliver_id(&id, bytes).await;
                (id, next)
            });
        }
        let sleep = due
            .next_due()
            .filter(|_| running.len() < CONCURRENCY)
            .map(|at| Duration::from_secs(at.saturating_sub(now)));
        tokio::select! {
            Some(arrival) = arrivals.recv() => {
                if let Some(bytes) = arrival.bytes {
                    fresh.keep(&arrival.id, bytes);
                }
                due.push(arrival.due, arrival.id);
            }
            Some(joined) = running.join_next(), if !running.is_empty() => match joined {
                Ok((id, next)) => {
                    in_flight.remove(&id);
                    if let Some(at) = next {
                        due.push(at, id);
                    }
                }
                Err(e) => tracing::error!(error = %e, "spool delivery task failed"),
            },
            _ = tokio::time::sleep(sleep.unwrap_or(ADOPT_EVERY)), if sleep.is_some() => {}
            _ = actor.spool.flush.notified() => {
                live.adopt();
                due = DueTimes::all_now(waiting());
            }
            _ = adopt.tick() => live.adopt(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn due_times_come_out_soonest_first_and_only_when_due() {
        let mut due = DueTimes::default();
        due.push(30, "C".into());
        due.push(10, "A".into());
        due.push(20, "B".into());
        assert_eq!(due.pop_due(5), None);
        assert_eq!(due.next_due(), Some(10));
        assert_eq!(due.pop_due(25).as_deref(), Some("A"));
        assert_eq!(due.pop_due(25).as_deref(), Some("B"));
        assert_eq!(due.pop_due(25), None);
        let all = DueTimes::all_now(["X".to_string()].into_iter());
        assert_eq!(all.next_due(), Some(0));
    }

    #[test]
    fn fresh_bytes_are_handed_out_once_and_bounded() {
        let mut fresh = FreshBytes::default();
        fresh.keep("A", b"message A".to_vec());
        assert_eq!(fresh.take("A").as_deref(), Some(&b"message A"[..]));
        assert_eq!(fresh.take("A"), None, "once");
        let half = FRESH_BYTES_MAX / 2;
        fresh.keep("B", vec![b'b'; half]);
        fresh.keep("C", vec![b'c'; half]);
        fresh.keep("D", vec![b'd'; 1]);
        assert_eq!(
            fresh.take("D"),
            None,
            "over the bound: read from the segment"
        );
        assert_eq!(fresh.take("B").map(|b| b.len()), Some(half));
        fresh.keep("E", vec![b'e'; 1]);
        assert_eq!(fresh.take("E").as_deref(), Some(&b"e"[..]), "room again");
        assert_eq!(fresh.take("C").map(|b| b.len()), Some(half));
        assert_eq!(fresh.total, 0);
    }
}
