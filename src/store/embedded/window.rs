//! The sender history of SPEC §10 `mail-loop` kept in memory, written behind to its redb file.
//!
//! Recording a message is on every authenticated sender's path, before the decision: in redb
//! it was one write transaction per message (about 300 µs, serialised by redb's single
//! writer, a tenth of the gateway's CPU in `bench/relay.sh`). Here it is a lookup in a map
//! under a lock (about a microsecond), and the change is queued. [`flush`] writes the queued
//! changes to the file in one durable transaction: `serve`'s sweep does it every second,
//! dropping the store does it at the end. Blocks and their ends are written at once. At
//! start the file is read back into memory, so a restart keeps every count and a crash loses
//! at most the last second of them, as before.
//!
//! The window is the process's own: a fleet shares its counts through `[state] backend =
//! "postgres"` instead.
//!
//! [`flush`]: SenderHistoryStore::flush

use super::history_file::{HistoryChange, HistorySnapshot};
use super::sender_history::{err, RedbSenderHistory};
use crate::locking::lock;
use crate::policy::SenderHistory;
use crate::store::sender_history::{message_id_key, Arrival, Recorded, SenderHistoryStore};
use crate::store::state_error::StateError;
use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};

/// What is known of one sender.
#[derive(Debug, Default)]
struct SenderWindow {
    /// Unix second → messages that arrived in it.
    arrivals: BTreeMap<u64, u32>,
    /// Message-ID (see [`message_id_key`]) → when it first arrived.
    message_ids: HashMap<String, u64>,
    /// The end of its block, until the sweep removes it.
    blocked_until: Option<u64>,
}

impl SenderWindow {
    fn is_empty(&self) -> bool {
        self.arrivals.is_empty() && self.message_ids.is_empty() && self.blocked_until.is_none()
    }
}

#[derive(Default)]
struct Window {
    senders: HashMap<String, SenderWindow>,
    /// Changes not written to the file yet, in order.
    pending: Vec<HistoryChange>,
}

/// A cheap handle: clones share one window.
#[derive(Clone)]
pub struct WindowedSenderHistory {
    shared: Arc<Shared>,
}

struct Shared {
    window: Mutex<Window>,
    file: RedbSenderHistory,
    /// Held while queued changes are written, so that batches reach the file in order.
    writing: Mutex<()>,
}

impl WindowedSenderHistory {
    /// Opens (or creates) the redb file at `path` and reads what it holds into memory.
    pub fn open(path: &Path) -> Result<WindowedSenderHistory, StateError> {
        WindowedSenderHistory::over(RedbSenderHistory::open(path)?)
    }

    /// The window over `file`, filled with what the file holds.
    pub fn over(file: RedbSenderHistory) -> Result<WindowedSenderHistory, StateError> {
        let mut window = Window::default();
        let HistorySnapshot {
            arrivals,
            message_ids,
            blocks,
        } = file.snapshot()?;
        for (sender, at, count) in arrivals {
            let entry = window.senders.entry(sender).or_default();
            entry.arrivals.insert(at, count);
        }
        for (sender, id, at) in message_ids {
            let entry = window.senders.entry(sender).or_default();
            entry.message_ids.insert(id, at);
        }
        for (sender, until) in blocks {
            window.senders.entry(sender).or_default().blocked_until = Some(until);
        }
        Ok(WindowedSenderHistory {
            shared: Arc::new(Shared {
                window: Mutex::new(window),
                file,
                writing: Mutex::new(()),
            }),
        })
    }

    fn window(&self) -> MutexGuard<'_, Window> {
        lock(&self.shared.window)
    }

    /// Writes the queued changes on tokio's blocking pool (an fsync'd transaction).
    async fn write_behind(&self) -> Result<(), StateError> {
        let shared = Arc::clone(&self.shared);
        tokio::task::spawn_blocking(move || shared.write_pending())
            .await
            .map_err(err)?
    }
}

impl Shared {
    /// Writes the queued changes; on failure they stay queued, in order, for the next time.
    fn write_pending(&self) -> Result<(), StateError> {
        let _in_order = lock(&self.writing);
        let changes = std::mem::take(&mut lock(&self.window).pending);
        if changes.is_empty() {
            return Ok(());
        }
        self.file.apply(&changes).inspect_err(|_| {
            let mut window = lock(&self.window);
            let newer = std::mem::replace(&mut window.pending, changes);
            window.pending.extend(newer);
        })
    }
}

impl Drop for Shared {
    fn drop(&mut self) {
        if let Err(e) = self.write_pending() {
            tracing::error!(error = %e, "sender history: last counts not made durable");
        }
    }
}

#[async_trait::async_trait]
impl SenderHistoryStore for WindowedSenderHistory {
    async fn record(&self, arrival: &Arrival, window_secs: u64) -> Result<Recorded, StateError> {
        let since = arrival.at.saturating_sub(window_secs);
        let mut window = self.window();
        let sender = window.senders.entry(arrival.sender.clone()).or_default();
        let blocked_until = sender.blocked_until;
        if blocked_until.is_some_and(|until| until > arrival.at) {
            return Ok(Recorded {
                history: SenderHistory {
                    blocked_until,
                    ..SenderHistory::default()
                },
                ..Recorded::default()
            });
        }
        let recent = sender
            .arrivals
            .range(since.saturating_add(1)..)
            .fold(0u32, |sum, (_, count)| sum.saturating_add(*count));
        let now_count = sender.arrivals.entry(arrival.at).or_insert(0);
        *now_count = now_count.saturating_add(1);
        let (repeated, new_message_id) = match arrival.message_id.as_deref() {
            Some(id) if !id.trim().is_empty() => {
                let key = message_id_key(id);
                let repeated = sender
                    .message_ids
                    .get(key)
                    .is_some_and(|first| *first > since);
                if !repeated {
                    sender.message_ids.insert(key.to_string(), arrival.at);
                }
                (repeated, !repeated)
            }
            _ => (false, false),
        };
        window.pending.push(HistoryChange::Counted {
            sender: arrival.sender.clone(),
            at: arrival.at,
            new_message_id: arrival
                .message_id
                .as_deref()
                .filter(|_| new_message_id)
                .map(|id| message_id_key(id).to_string()),
        });
        Ok(Recorded {
            history: SenderHistory {
                recent_messages: recent,
                repeated_message_id: repeated,
                blocked_until,
            },
            counted: true,
            new_message_id,
        })
    }

    async fn forget(&self, arrival: &Arrival, recorded: &Recorded) -> Result<(), StateError> {
        if !recorded.counted {
            return Ok(());
        }
        let mut window = self.window();
        let forgotten_id = arrival
            .message_id
            .as_deref()
            .filter(|_| recorded.new_message_id)
            .map(|id| message_id_key(id).to_string());
        if let Some(sender) = window.senders.get_mut(&arrival.sender) {
            match sender.arrivals.get_mut(&arrival.at) {
                Some(count) if *count > 1 => *count -= 1,
                Some(_) => {
                    sender.arrivals.remove(&arrival.at);
                }
                None => {}
            }
            if let Some(id) = &forgotten_id {
                sender.message_ids.remove(id);
            }
        }
        window.pending.push(HistoryChange::Forgotten {
            sender: arrival.sender.clone(),
            at: arrival.at,
            message_id: forgotten_id,
        });
        Ok(())
    }

    async fn block(&self, sender: &str, until: u64) -> Result<bool, StateError> {
        {
            let mut window = self.window();
            let entry = window.senders.entry(sender.to_string()).or_default();
            if entry.blocked_until.is_some_and(|u| u >= until) {
                return Ok(false);
            }
            entry.blocked_until = Some(until);
            entry.arrivals.clear();
            window.pending.push(HistoryChange::Blocked {
                sender: sender.to_string(),
                until,
            });
        }
        // A block is durable at once (a restart keeps holding the sender back).
        self.write_behind().await?;
        Ok(true)
    }

    async fn end_blocks(&self, now: u64) -> Result<Vec<String>, StateError> {
        let ended: Vec<String> = {
            let mut window = self.window();
            let Window { senders, pending } = &mut *window;
            let mut ended = Vec::new();
            for (name, sender) in senders.iter_mut() {
                if let Some(until) = sender.blocked_until.filter(|until| *until <= now) {
                    sender.blocked_until = None;
                    pending.push(HistoryChange::Unblocked {
                        sender: name.clone(),
                        until,
                    });
                    ended.push(name.clone());
                }
            }
            ended
        };
        if !ended.is_empty() {
            self.write_behind().await?;
        }
        Ok(ended)
    }

    async fn prune(&self, before: u64) -> Result<usize, StateError> {
        let mut removed = 0;
        {
            let mut window = self.window();
            window.senders.retain(|_, sender| {
                let (arrivals, ids) = (sender.arrivals.len(), sender.message_ids.len());
                sender.arrivals.retain(|at, _| *at >= before);
                sender.message_ids.retain(|_, at| *at >= before);
                removed += arrivals - sender.arrivals.len() + ids - sender.message_ids.len();
                !sender.is_empty()
            });
        }
        self.write_behind().await?;
        self.shared.file.prune(before).await?;
        Ok(removed)
    }

    async fn blocked(&self) -> Result<u64, StateError> {
        let window = self.window();
        let blocked = window
            .senders
            .values()
            .filter(|sender| sender.blocked_until.is_some())
            .count();
        Ok(u64::try_from(blocked).unwrap_or(u64::MAX))
    }

    async fn flush(&self) -> Result<(), StateError> {
        self.write_behind().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::embedded::sender_history::tests::arrival;

    /// The same sequence on the in-memory window and on the redb store gives the same answers
    /// at every step, and the window reopened from its file answers like before.
    #[tokio::test]
    async fn answers_like_the_file_store_and_after_a_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let windowed = WindowedSenderHistory::open(&dir.path().join("w.redb")).unwrap();
        let file = RedbSenderHistory::open(&dir.path().join("f.redb")).unwrap();
        let steps = [
            arrival("a@x", "<1>", 100),
            arrival("a@x", "<2>", 100),
            arrival("b@x", "<1>", 101),
            arrival("a@x", "<1>", 150),
            arrival("a@x", "", 160),
            arrival("a@x", "<3>", 800),
            arrival("b@x", "<1>", 801),
        ];
        for (i, step) in steps.iter().enumerate() {
            let w = windowed.record(step, 600).await.unwrap();
            let f = file.record(step, 600).await.unwrap();
            assert_eq!(w, f, "step {i}");
            if i == 4 {
                windowed.forget(step, &w).await.unwrap();
                file.forget(step, &f).await.unwrap();
            }
        }
        assert_eq!(
            windowed.block("a@x", 900).await.unwrap(),
            file.block("a@x", 900).await.unwrap()
        );
        let held = arrival("a@x", "<4>", 850);
        assert_eq!(
            windowed.record(&held, 600).await.unwrap(),
            file.record(&held, 600).await.unwrap()
        );
        windowed
            .record(&arrival("c@x", "<9>", 850), 600)
            .await
            .unwrap();
        windowed.flush().await.unwrap();
        drop(windowed);
        let reopened = WindowedSenderHistory::open(&dir.path().join("w.redb")).unwrap();
        assert_eq!(reopened.blocked().await.unwrap(), 1);
        let c = reopened
            .record(&arrival("c@x", "<9>", 851), 600)
            .await
            .unwrap();
        assert_eq!(c.history.recent_messages, 1, "the count survived");
        assert!(c.history.repeated_message_id, "the Message-ID survived");
        assert_eq!(reopened.end_blocks(900).await.unwrap(), ["a@x"]);
        assert!(
            reopened.end_blocks(901).await.unwrap().is_empty(),
            "ended once"
        );
        drop(reopened);
        let again = WindowedSenderHistory::open(&dir.path().join("w.redb")).unwrap();
        assert_eq!(
            again.blocked().await.unwrap(),
            0,
            "the end of the block is durable"
        );
    }

    #[tokio::test]
    async fn counts_not_flushed_are_written_when_the_store_is_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("h.redb");
        {
            let store = WindowedSenderHistory::open(&path).unwrap();
            for i in 0..3 {
                store
                    .record(&arrival("a@x", &format!("<{i}>"), 100), 600)
                    .await
                    .unwrap();
            }
        }
        let store = WindowedSenderHistory::open(&path).unwrap();
        let r = store
            .record(&arrival("a@x", "<2>", 101), 600)
            .await
            .unwrap();
        assert_eq!(r.history.recent_messages, 3);
        assert!(r.history.repeated_message_id);
    }

    #[tokio::test]
    async fn pruning_forgets_old_senders_in_memory_and_in_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("h.redb");
        let store = WindowedSenderHistory::open(&path).unwrap();
        store
            .record(&arrival("old@x", "<1>", 100), 600)
            .await
            .unwrap();
        store
            .record(&arrival("new@x", "<1>", 700), 600)
            .await
            .unwrap();
        assert_eq!(
            store.prune(600).await.unwrap(),
            2,
            "one arrival, one Message-ID"
        );
        assert_eq!(store.window().senders.len(), 1);
        drop(store);
        let snapshot = RedbSenderHistory::open(&path).unwrap().snapshot().unwrap();
        assert_eq!(snapshot.arrivals, [("new@x".to_string(), 700, 1)]);
    }
}
