//! When the spool's writer thread takes its next turn, and with what.
//!
//! Stores, `sync` and `adopt` come over the channel and wake the writer at once: a session
//! waits for its `250`. `done` and retry-state markers need no fsync and nobody waits for
//! them, so they wait in [`Deferred`] and ride along with the next turn, however it comes
//! about: a store (under load, there is one every millisecond or so), or [`MARKER_DELAY`]
//! after the writer's last turn. Only a marker that finds the writer asleep with nothing to
//! do wakes it. Before, every delivered message woke the writer thread for a write of its
//! own: a thread wake-up and a system call per relayed message.
//!
//! A marker still in memory when the process is killed is lost, as one written but not
//! fsync'd is lost when the machine stops: the message is delivered again (at least once).

use super::writer::Request;
use crate::locking::lock;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::Mutex;
use std::time::Duration;

/// At most this long between a marker and its write while the writer is awake.
pub const MARKER_DELAY: Duration = Duration::from_millis(20);
/// At most this many bytes of messages per turn (a batch waiting behind it goes in the next).
const BATCH_BYTES: usize = 8 * 1024 * 1024;

/// Markers waiting for the writer's next turn.
#[derive(Default)]
pub(super) struct Deferred {
    requests: Mutex<Vec<Request>>,
    /// The writer sleeps until the next request comes over the channel.
    writer_asleep: AtomicBool,
}

impl Deferred {
    /// Queues a marker for the next turn; `wake` is called if the writer sleeps and must be
    /// woken to take it.
    pub(super) fn push(&self, request: Request, wake: impl FnOnce()) {
        lock(&self.requests).push(request);
        if self.writer_asleep.swap(false, Ordering::SeqCst) {
            wake();
        }
    }

    fn take(&self) -> Vec<Request> {
        std::mem::take(&mut *lock(&self.requests))
    }

    fn is_empty(&self) -> bool {
        lock(&self.requests).is_empty()
    }

    /// Waits for the next turn and returns its requests: channel requests in their order,
    /// then the markers deferred so far. `None` once the channel is closed and nothing is
    /// left to write.
    pub(super) fn next_turn(&self, incoming: &mpsc::Receiver<Request>) -> Option<Vec<Request>> {
        let first = match incoming.recv_timeout(MARKER_DELAY) {
            Ok(request) => Some(request),
            Err(RecvTimeoutError::Disconnected) => None,
            Err(RecvTimeoutError::Timeout) if !self.is_empty() => None,
            Err(RecvTimeoutError::Timeout) => self.sleep(incoming),
        };
        let mut batch: Vec<Request> = first.into_iter().collect();
        let mut bytes = 0;
        while bytes < BATCH_BYTES {
            match incoming.try_recv() {
                Ok(request) => {
                    if let Request::Store { bytes: b, .. } = &request {
                        bytes += b.len();
                    }
                    batch.push(request);
                }
                Err(_) => break,
            }
        }
        batch.extend(self.take());
        if batch.is_empty() {
            // Woken for nothing, or the channel closed with nothing left: closed stays closed.
            return match incoming.try_recv() {
                Err(mpsc::TryRecvError::Disconnected) => None,
                Ok(request) => Some(vec![request]),
                Err(mpsc::TryRecvError::Empty) => Some(Vec::new()),
            };
        }
        Some(batch)
    }

    /// Nothing came for [`MARKER_DELAY`] and nothing is deferred: sleeps until a request
    /// comes over the channel (a marker pushed meanwhile sends one).
    fn sleep(&self, incoming: &mpsc::Receiver<Request>) -> Option<Request> {
        self.writer_asleep.store(true, Ordering::SeqCst);
        // A marker pushed between the timeout and the flag did not see it: take it now.
        if !self.is_empty() {
            self.writer_asleep.store(false, Ordering::SeqCst);
            return None;
        }
        let request = incoming.recv().ok();
        self.writer_asleep.store(false, Ordering::SeqCst);
        request
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    fn marker(n: u32) -> Request {
        Request::State(crate::store::spool::RetryState {
            key: crate::store::spool::MessageKey {
                segment: "S".into(),
                id: format!("M{n}"),
            },
            attempts: n,
            next_attempt: 0,
            last_answer: None,
        })
    }

    fn attempts(batch: &[Request]) -> Vec<u32> {
        batch
            .iter()
            .map(|r| match r {
                Request::State(state) => state.attempts,
                _ => 0,
            })
            .collect()
    }

    #[test]
    fn markers_ride_with_the_next_request_and_wake_only_a_sleeping_writer() {
        let deferred = Deferred::default();
        let (tx, rx) = mpsc::channel();
        let mut wakes = 0;
        deferred.push(marker(1), || wakes += 1);
        deferred.push(marker(2), || wakes += 1);
        assert_eq!(wakes, 0, "the writer is not asleep");
        tx.send(Request::Adopt).unwrap();
        let batch = deferred.next_turn(&rx).unwrap();
        assert!(matches!(batch[0], Request::Adopt));
        assert_eq!(attempts(&batch[1..]), [1, 2]);

        // Nothing for a while: the deferred marker is written after MARKER_DELAY at most.
        deferred.push(marker(3), || wakes += 1);
        let started = Instant::now();
        let batch = deferred.next_turn(&rx).unwrap();
        assert_eq!(attempts(&batch), [3]);
        assert!(started.elapsed() < MARKER_DELAY * 10);

        // Idle: the writer sleeps; a marker wakes it, through the channel.
        let shared = &deferred;
        let (sleeper, rx) = std::thread::scope(|scope| {
            let writer = scope.spawn(move || (shared.next_turn(&rx), rx));
            let waiting = Instant::now();
            while !deferred.writer_asleep.load(Ordering::SeqCst) {
                assert!(waiting.elapsed() < Duration::from_secs(10), "never slept");
                std::thread::sleep(Duration::from_millis(1));
            }
            deferred.push(marker(4), || {
                wakes += 1;
                tx.send(Request::Adopt).unwrap();
            });
            writer.join().unwrap()
        });
        assert_eq!(wakes, 1);
        let batch = sleeper.unwrap();
        assert!(matches!(batch[0], Request::Adopt));
        assert_eq!(attempts(&batch[1..]), [4]);

        drop(tx);
        assert!(deferred.next_turn(&rx).is_none(), "closed, nothing left");
    }
}
