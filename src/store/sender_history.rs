//! The sender history of SPEC §10 `mail-loop`: how many messages each sender sent recently,
//! which Message-IDs came from it, and which senders are held back until when. The pipeline
//! records each message here before deciding and passes the [`SenderHistory`] it gets back
//! into the pure policy core; the policy never reads the store itself.
//!
//! [`SenderHistoryStore`] is all the gateway uses, so a shared database can serve a fleet
//! later; [`RedbSenderHistory`] keeps it in an embedded [redb](https://docs.rs/redb) file
//! beside the reply memory. Arrivals are counted per second, so a window costs one short range
//! scan. A count is committed without an fsync (`Durability::None`: on Linux even `Eventual`
//! is an fsync, 3 ms a message here, and every message takes the one write lock); [`flush`]
//! makes them durable, which `serve`'s sweep does every second and dropping the store does at
//! the end: a restart keeps every count, a crash loses at most the last second of them.
//! Blocks are committed durably at once.
//!
//! [`flush`]: SenderHistoryStore::flush

use crate::policy::SenderHistory;
use redb::{
    Database, Durability, ReadableTable, ReadableTableMetadata, TableDefinition, WriteTransaction,
};
use std::path::Path;

/// (sender, Unix second) → messages that arrived in that second.
const ARRIVALS: TableDefinition<(&str, u64), u32> = TableDefinition::new("arrivals");
/// (sender, Message-ID) → when it first arrived.
const MESSAGE_IDS: TableDefinition<(&str, &str), u64> = TableDefinition::new("message_ids");
/// sender → the end of its block (Unix seconds).
const BLOCKS: TableDefinition<&str, u64> = TableDefinition::new("blocks");

/// Message-IDs longer than this are compared by their start (a key stays small).
const MAX_MESSAGE_ID: usize = 250;

/// One message from one sender, as recorded (and, if the client must retry, taken back).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Arrival {
    /// [`crate::policy::suspension::sender_history_key`].
    pub sender: String,
    pub message_id: Option<String>,
    /// Unix seconds.
    pub at: u64,
}

/// What [`SenderHistoryStore::record`] found and did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Recorded {
    /// Before this message, within the window.
    pub history: SenderHistory,
    /// The message was counted (not while the sender is blocked).
    pub counted: bool,
    /// Its Message-ID was new and is now remembered.
    pub new_message_id: bool,
}

pub trait SenderHistoryStore: Send + Sync {
    /// Records `arrival` and returns what was known before it within `window_secs`. While
    /// the sender is blocked nothing is counted: when the block ends, the count starts again.
    fn record(&self, arrival: &Arrival, window_secs: u64) -> Result<Recorded, String>;
    /// Takes a recorded arrival back: the client was told to retry, and its retry is the same
    /// message, not a loop.
    fn forget(&self, arrival: &Arrival, recorded: &Recorded) -> Result<(), String>;
    /// Holds `sender` back until `until`, and forgets its arrivals. False if a block that
    /// lasts at least that long was already there (another message started it).
    fn block(&self, sender: &str, until: u64) -> Result<bool, String>;
    /// Removes the blocks that are over at `now` and returns their senders.
    fn end_blocks(&self, now: u64) -> Result<Vec<String>, String>;
    /// Forgets arrivals and Message-IDs older than `before`; returns how many entries went.
    fn prune(&self, before: u64) -> Result<usize, String>;
    /// How many senders are blocked (ended blocks not yet removed included).
    fn blocked(&self) -> Result<u64, String>;
    /// Makes every count recorded so far durable (nothing to do if none since the last).
    fn flush(&self) -> Result<(), String>;
}

/// One change to the history, as [`super::sender_window`] queues it for the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HistoryChange {
    /// A message counted; its Message-ID remembered if it was new.
    Counted {
        sender: String,
        at: u64,
        new_message_id: Option<String>,
    },
    /// A counted message taken back (and its Message-ID, if it was new then).
    Forgotten {
        sender: String,
        at: u64,
        message_id: Option<String>,
    },
    /// A block started: the sender's arrivals are forgotten.
    Blocked { sender: String, until: u64 },
    /// The block that ended at `until` is removed (not a newer one).
    Unblocked { sender: String, until: u64 },
}

/// Everything the file holds: (sender, second, count), (sender, Message-ID, first seen) and
/// (sender, block end).
#[derive(Debug, Default)]
pub struct HistorySnapshot {
    pub arrivals: Vec<(String, u64, u32)>,
    pub message_ids: Vec<(String, String, u64)>,
    pub blocks: Vec<(String, u64)>,
}

pub struct RedbSenderHistory {
    db: Database,
    /// Counts were committed without an fsync since the last durable commit.
    dirty: std::sync::atomic::AtomicBool,
}

/// The part of a Message-ID that is kept and compared.
pub(crate) fn message_id_key(id: &str) -> &str {
    let id = id.trim();
    if id.len() <= MAX_MESSAGE_ID {
        return id;
    }
    let mut end = MAX_MESSAGE_ID;
    while !id.is_char_boundary(end) {
        end -= 1;
    }
    &id[..end]
}

fn err(e: impl std::fmt::Display) -> String {
    e.to_string()
}

impl RedbSenderHistory {
    /// Opens (or creates) the database file at `path` (its folder is created if needed).
    pub fn open(path: &Path) -> Result<RedbSenderHistory, String> {
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| format!("{}: {e}", parent.display()))?;
        }
        let db = Database::create(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let txn = db.begin_write().map_err(err)?;
        txn.open_table(ARRIVALS).map_err(err)?;
        txn.open_table(MESSAGE_IDS).map_err(err)?;
        txn.open_table(BLOCKS).map_err(err)?;
        txn.commit().map_err(err)?;
        Ok(RedbSenderHistory {
            db,
            dirty: std::sync::atomic::AtomicBool::new(false),
        })
    }

    fn write(&self, durability: Durability) -> Result<WriteTransaction, String> {
        let mut txn = self.db.begin_write().map_err(err)?;
        if matches!(durability, Durability::None) {
            self.dirty.store(true, std::sync::atomic::Ordering::SeqCst);
        }
        txn.set_durability(durability);
        Ok(txn)
    }
}

impl RedbSenderHistory {
    /// Reads the whole file.
    pub fn snapshot(&self) -> Result<HistorySnapshot, String> {
        let read = self.db.begin_read().map_err(err)?;
        let mut snapshot = HistorySnapshot::default();
        for entry in read
            .open_table(ARRIVALS)
            .map_err(err)?
            .iter()
            .map_err(err)?
        {
            let (key, count) = entry.map_err(err)?;
            let (sender, at) = key.value();
            snapshot
                .arrivals
                .push((sender.to_string(), at, count.value()));
        }
        for entry in read
            .open_table(MESSAGE_IDS)
            .map_err(err)?
            .iter()
            .map_err(err)?
        {
            let (key, at) = entry.map_err(err)?;
            let (sender, id) = key.value();
            snapshot
                .message_ids
                .push((sender.to_string(), id.to_string(), at.value()));
        }
        for entry in read.open_table(BLOCKS).map_err(err)?.iter().map_err(err)? {
            let (sender, until) = entry.map_err(err)?;
            snapshot
                .blocks
                .push((sender.value().to_string(), until.value()));
        }
        Ok(snapshot)
    }

    /// Applies `changes` in order, in one durable transaction.
    pub fn apply(&self, changes: &[HistoryChange]) -> Result<(), String> {
        let txn = self.write(Durability::Immediate)?;
        {
            let mut arrivals = txn.open_table(ARRIVALS).map_err(err)?;
            let mut ids = txn.open_table(MESSAGE_IDS).map_err(err)?;
            let mut blocks = txn.open_table(BLOCKS).map_err(err)?;
            for change in changes {
                match change {
                    HistoryChange::Counted {
                        sender,
                        at,
                        new_message_id,
                    } => {
                        let key = (sender.as_str(), *at);
                        let count = arrivals.get(key).map_err(err)?.map_or(0, |c| c.value());
                        arrivals.insert(key, count.saturating_add(1)).map_err(err)?;
                        if let Some(id) = new_message_id {
                            ids.insert((sender.as_str(), id.as_str()), *at)
                                .map_err(err)?;
                        }
                    }
                    HistoryChange::Forgotten {
                        sender,
                        at,
                        message_id,
                    } => {
                        let key = (sender.as_str(), *at);
                        let count = arrivals.get(key).map_err(err)?.map_or(0, |c| c.value());
                        if count > 1 {
                            arrivals.insert(key, count - 1).map_err(err)?;
                        } else {
                            arrivals.remove(key).map_err(err)?;
                        }
                        if let Some(id) = message_id {
                            ids.remove((sender.as_str(), id.as_str())).map_err(err)?;
                        }
                    }
                    HistoryChange::Blocked { sender, until } => {
                        blocks.insert(sender.as_str(), *until).map_err(err)?;
                        let s = sender.as_str();
                        arrivals
                            .retain_in((s, 0)..=(s, u64::MAX), |_, _| false)
                            .map_err(err)?;
                    }
                    HistoryChange::Unblocked { sender, until } => {
                        let same = blocks
                            .get(sender.as_str())
                            .map_err(err)?
                            .is_some_and(|u| u.value() == *until);
                        if same {
                            blocks.remove(sender.as_str()).map_err(err)?;
                        }
                    }
                }
            }
        }
        txn.commit().map_err(err)
    }
}

impl Drop for RedbSenderHistory {
    fn drop(&mut self) {
        if let Err(e) = self.flush() {
            tracing::error!(error = %e, "sender history: last counts not made durable");
        }
    }
}

impl SenderHistoryStore for RedbSenderHistory {
    fn record(&self, arrival: &Arrival, window_secs: u64) -> Result<Recorded, String> {
        // One write transaction: redb serialises writers, so two messages from one sender at
        // once are counted one after the other.
        let txn = self.write(Durability::None)?;
        let sender = arrival.sender.as_str();
        let since = arrival.at.saturating_sub(window_secs);
        let recorded = {
            let blocked_until = txn
                .open_table(BLOCKS)
                .map_err(err)?
                .get(sender)
                .map_err(err)?
                .map(|until| until.value());
            if blocked_until.is_some_and(|until| until > arrival.at) {
                let history = SenderHistory {
                    blocked_until,
                    ..SenderHistory::default()
                };
                return Ok(Recorded {
                    history,
                    ..Recorded::default()
                });
            }
            let mut arrivals = txn.open_table(ARRIVALS).map_err(err)?;
            let mut recent: u32 = 0;
            for entry in arrivals
                .range((sender, since.saturating_add(1))..=(sender, u64::MAX))
                .map_err(err)?
            {
                let (_, count) = entry.map_err(err)?;
                recent = recent.saturating_add(count.value());
            }
            let key = (sender, arrival.at);
            let now_count = arrivals.get(key).map_err(err)?.map_or(0, |c| c.value());
            arrivals
                .insert(key, now_count.saturating_add(1))
                .map_err(err)?;
            let mut ids = txn.open_table(MESSAGE_IDS).map_err(err)?;
            let (repeated, new_message_id) = match arrival.message_id.as_deref() {
                Some(id) if !id.trim().is_empty() => {
                    let key = (sender, message_id_key(id));
                    let seen = ids.get(key).map_err(err)?.map(|at| at.value());
                    let repeated = seen.is_some_and(|at| at > since);
                    if !repeated {
                        ids.insert(key, arrival.at).map_err(err)?;
                    }
                    (repeated, !repeated)
                }
                _ => (false, false),
            };
            Recorded {
                history: SenderHistory {
                    recent_messages: recent,
                    repeated_message_id: repeated,
                    blocked_until,
                },
                counted: true,
                new_message_id,
            }
        };
        txn.commit().map_err(err)?;
        Ok(recorded)
    }

    fn forget(&self, arrival: &Arrival, recorded: &Recorded) -> Result<(), String> {
        if !recorded.counted {
            return Ok(());
        }
        let txn = self.write(Durability::None)?;
        let sender = arrival.sender.as_str();
        {
            let mut arrivals = txn.open_table(ARRIVALS).map_err(err)?;
            let key = (sender, arrival.at);
            let count = arrivals.get(key).map_err(err)?.map_or(0, |c| c.value());
            if count > 1 {
                arrivals.insert(key, count - 1).map_err(err)?;
            } else {
                arrivals.remove(key).map_err(err)?;
            }
            if let (true, Some(id)) = (recorded.new_message_id, arrival.message_id.as_deref()) {
                let mut ids = txn.open_table(MESSAGE_IDS).map_err(err)?;
                ids.remove((sender, message_id_key(id))).map_err(err)?;
            }
        }
        txn.commit().map_err(err)
    }

    fn block(&self, sender: &str, until: u64) -> Result<bool, String> {
        let txn = self.write(Durability::Immediate)?;
        let started = {
            let mut blocks = txn.open_table(BLOCKS).map_err(err)?;
            let running = blocks
                .get(sender)
                .map_err(err)?
                .is_some_and(|u| u.value() >= until);
            if !running {
                blocks.insert(sender, until).map_err(err)?;
                let mut arrivals = txn.open_table(ARRIVALS).map_err(err)?;
                arrivals
                    .retain_in((sender, 0)..=(sender, u64::MAX), |_, _| false)
                    .map_err(err)?;
            }
            !running
        };
        txn.commit().map_err(err)?;
        Ok(started)
    }

    fn end_blocks(&self, now: u64) -> Result<Vec<String>, String> {
        // Read first: most of the time nothing is over, and a read costs no disk write.
        let mut ended = Vec::new();
        {
            let read = self.db.begin_read().map_err(err)?;
            let blocks = read.open_table(BLOCKS).map_err(err)?;
            for entry in blocks.iter().map_err(err)? {
                let (sender, until) = entry.map_err(err)?;
                if until.value() <= now {
                    ended.push(sender.value().to_string());
                }
            }
        }
        if ended.is_empty() {
            return Ok(ended);
        }
        let txn = self.write(Durability::Immediate)?;
        let mut removed = Vec::with_capacity(ended.len());
        {
            let mut blocks = txn.open_table(BLOCKS).map_err(err)?;
            for sender in ended {
                // Another message may have started a new block since the read.
                let still_over = blocks
                    .get(sender.as_str())
                    .map_err(err)?
                    .is_some_and(|until| until.value() <= now);
                if still_over {
                    blocks.remove(sender.as_str()).map_err(err)?;
                    removed.push(sender);
                }
            }
        }
        txn.commit().map_err(err)?;
        Ok(removed)
    }

    fn prune(&self, before: u64) -> Result<usize, String> {
        let txn = self.write(Durability::Immediate)?;
        let mut removed = 0;
        {
            let mut arrivals = txn.open_table(ARRIVALS).map_err(err)?;
            let before_len = arrivals.len().map_err(err)?;
            arrivals.retain(|(_, at), _| at >= before).map_err(err)?;
            removed += before_len.saturating_sub(arrivals.len().map_err(err)?);
            let mut ids = txn.open_table(MESSAGE_IDS).map_err(err)?;
            let before_len = ids.len().map_err(err)?;
            ids.retain(|_, at| at >= before).map_err(err)?;
            removed += before_len.saturating_sub(ids.len().map_err(err)?);
        }
        txn.commit().map_err(err)?;
        Ok(usize::try_from(removed).unwrap_or(usize::MAX))
    }

    fn blocked(&self) -> Result<u64, String> {
        let txn = self.db.begin_read().map_err(err)?;
        txn.open_table(BLOCKS).map_err(err)?.len().map_err(err)
    }

    fn flush(&self) -> Result<(), String> {
        if !self.dirty.swap(false, std::sync::atomic::Ordering::SeqCst) {
            return Ok(());
        }
        // An empty durable commit persists the commits before it.
        let txn = self.write(Durability::Immediate)?;
        txn.commit().map_err(|e| {
            self.dirty.store(true, std::sync::atomic::Ordering::SeqCst);
            err(e)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn arrival(sender: &str, id: &str, at: u64) -> Arrival {
        Arrival {
            sender: sender.into(),
            message_id: Some(id.into()).filter(|i: &String| !i.is_empty()),
            at,
        }
    }

    #[test]
    fn counts_within_the_window_and_across_a_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("history.redb");
        {
            let store = RedbSenderHistory::open(&path).unwrap();
            for i in 0..5 {
                let r = store
                    .record(&arrival("a@x", &format!("<{i}>"), 100), 600)
                    .unwrap();
                assert_eq!(r.history.recent_messages, i);
                assert!(r.counted && r.new_message_id);
            }
            let other = store.record(&arrival("b@x", "<0>", 100), 600).unwrap();
            assert_eq!(other.history.recent_messages, 0, "per sender");
        }
        let store = RedbSenderHistory::open(&path).unwrap();
        let r = store.record(&arrival("a@x", "", 200), 600).unwrap();
        assert_eq!(r.history.recent_messages, 5, "survives a reopen");
        let r = store.record(&arrival("a@x", "", 701), 600).unwrap();
        assert_eq!(
            r.history.recent_messages, 1,
            "those of second 100 are out of the window"
        );
        // Buckets of seconds 100 (a, b) and 200; Message-IDs <0>…<4> of a and <0> of b.
        assert_eq!(store.prune(600).unwrap(), 3 + 6);
    }

    #[test]
    fn a_repeated_message_id_is_told_and_a_forgotten_arrival_does_not_count() {
        let dir = tempfile::tempdir().unwrap();
        let store = RedbSenderHistory::open(&dir.path().join("h.redb")).unwrap();
        let first = arrival("a@x", "<same@x>", 100);
        let recorded = store.record(&first, 600).unwrap();
        assert!(!recorded.history.repeated_message_id);
        // The client was told 451 and sends the same message again: not a loop.
        store.forget(&first, &recorded).unwrap();
        let retry = store.record(&arrival("a@x", "<same@x>", 160), 600).unwrap();
        assert!(!retry.history.repeated_message_id);
        assert_eq!(retry.history.recent_messages, 0);
        let again = store.record(&arrival("a@x", "<same@x>", 170), 600).unwrap();
        assert!(again.history.repeated_message_id);
        assert!(!again.new_message_id);
        let later = store.record(&arrival("a@x", "<same@x>", 900), 600).unwrap();
        assert!(!later.history.repeated_message_id, "outside the window");
    }

    #[test]
    fn a_block_holds_counts_nothing_and_ends_once() {
        let dir = tempfile::tempdir().unwrap();
        let store = RedbSenderHistory::open(&dir.path().join("h.redb")).unwrap();
        for _ in 0..3 {
            store.record(&arrival("a@x", "", 100), 600).unwrap();
        }
        assert!(store.block("a@x", 200).unwrap());
        assert!(!store.block("a@x", 150).unwrap(), "already blocked longer");
        assert_eq!(store.blocked().unwrap(), 1);
        let held = store.record(&arrival("a@x", "<1>", 150), 600).unwrap();
        assert_eq!(held.history.blocked_until, Some(200));
        assert!(!held.counted);
        assert!(store.end_blocks(199).unwrap().is_empty());
        assert_eq!(store.end_blocks(200).unwrap(), ["a@x"]);
        assert!(store.end_blocks(201).unwrap().is_empty(), "ended once");
        assert_eq!(store.blocked().unwrap(), 0);
        let after = store.record(&arrival("a@x", "<1>", 210), 600).unwrap();
        assert_eq!(
            after.history,
            SenderHistory::default(),
            "the count starts again"
        );
    }
}
