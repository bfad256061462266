//! The sender history in redb (`[state] backend = "embedded"`). Arrivals are counted per
//! second, so a window costs one short range scan. A count is committed without an fsync
//! (`Durability::None`: on Linux even `Eventual` is an fsync, 3 ms a message here, and every
//! message takes the one write lock), on the session's own task as before; `flush` makes the
//! counts durable, which `serve`'s sweep does every second and dropping the store does at the
//! end: a restart keeps every count, a crash loses at most the last second of them. Blocks are
//! committed durably at once, on tokio's blocking pool.

use crate::policy::SenderHistory;
use crate::store::sender_history::{message_id_key, Arrival, Recorded, SenderHistoryStore};
use crate::store::state_error::StateError;
use redb::{
    Database, Durability, ReadableTable, ReadableTableMetadata, TableDefinition, WriteTransaction,
};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// (sender, Unix second) → messages that arrived in that second.
pub(super) const ARRIVALS: TableDefinition<(&str, u64), u32> = TableDefinition::new("arrivals");
/// (sender, Message-ID) → when it first arrived.
pub(super) const MESSAGE_IDS: TableDefinition<(&str, &str), u64> =
    TableDefinition::new("message_ids");
/// sender → the end of its block (Unix seconds).
pub(super) const BLOCKS: TableDefinition<&str, u64> = TableDefinition::new("blocks");

/// A cheap handle: clones share one database.
#[derive(Clone)]
pub struct RedbSenderHistory {
    pub(super) tables: Arc<HistoryTables>,
}

pub(super) struct HistoryTables {
    pub(super) db: Arc<Database>,
    /// Counts were committed without an fsync since the last durable commit.
    dirty: AtomicBool,
}

pub(super) fn err(e: impl std::fmt::Display) -> StateError {
    StateError::embedded(e)
}

type Arrivals<'t> = redb::Table<'t, (&'static str, u64), u32>;

/// One more message of `sender` in second `at`.
pub(super) fn count_arrival(
    arrivals: &mut Arrivals<'_>,
    sender: &str,
    at: u64,
) -> Result<(), StateError> {
    let count = arrivals
        .get((sender, at))
        .map_err(err)?
        .map_or(0, |c| c.value());
    arrivals
        .insert((sender, at), count.saturating_add(1))
        .map_err(err)?;
    Ok(())
}

/// One message of `sender` in second `at` taken back (the entry goes with the last one).
pub(super) fn uncount_arrival(
    arrivals: &mut Arrivals<'_>,
    sender: &str,
    at: u64,
) -> Result<(), StateError> {
    let count = arrivals
        .get((sender, at))
        .map_err(err)?
        .map_or(0, |c| c.value());
    if count > 1 {
        arrivals.insert((sender, at), count - 1).map_err(err)?;
    } else {
        arrivals.remove((sender, at)).map_err(err)?;
    }
    Ok(())
}

impl RedbSenderHistory {
    /// The sender history's tables in `db` (created if missing).
    pub fn new(db: Arc<Database>) -> Result<RedbSenderHistory, StateError> {
        let mut txn = db.begin_write().map_err(err)?;
        // No fsync of its own: the tables are made again at every start if a crash lost them.
        txn.set_durability(Durability::None);
        txn.open_table(ARRIVALS).map_err(err)?;
        txn.open_table(MESSAGE_IDS).map_err(err)?;
        txn.open_table(BLOCKS).map_err(err)?;
        txn.commit().map_err(err)?;
        Ok(RedbSenderHistory {
            tables: Arc::new(HistoryTables {
                db,
                dirty: AtomicBool::new(false),
            }),
        })
    }

    /// Opens (or creates) the database file at `path` for the sender history alone.
    pub fn open(path: &std::path::Path) -> Result<RedbSenderHistory, StateError> {
        RedbSenderHistory::new(super::open_database_with(path, false)?)
    }

    /// Runs a durable (fsync'd) operation on tokio's blocking pool.
    async fn off_the_runtime<T: Send + 'static>(
        &self,
        work: impl FnOnce(&HistoryTables) -> Result<T, StateError> + Send + 'static,
    ) -> Result<T, StateError> {
        let tables = Arc::clone(&self.tables);
        tokio::task::spawn_blocking(move || work(&tables))
            .await
            .map_err(err)?
    }
}

#[async_trait::async_trait]
impl SenderHistoryStore for RedbSenderHistory {
    async fn record(&self, arrival: &Arrival, window_secs: u64) -> Result<Recorded, StateError> {
        self.tables.record(arrival, window_secs)
    }

    async fn forget(&self, arrival: &Arrival, recorded: &Recorded) -> Result<(), StateError> {
        self.tables.forget(arrival, recorded)
    }

    async fn block(&self, sender: &str, until: u64) -> Result<bool, StateError> {
        let sender = sender.to_string();
        self.off_the_runtime(move |t| t.block(&sender, until)).await
    }

    async fn end_blocks(&self, now: u64) -> Result<Vec<String>, StateError> {
        self.off_the_runtime(move |t| t.end_blocks(now)).await
    }

    async fn prune(&self, before: u64) -> Result<usize, StateError> {
        self.off_the_runtime(move |t| t.prune(before)).await
    }

    async fn blocked(&self) -> Result<u64, StateError> {
        self.tables.blocked()
    }

    async fn flush(&self) -> Result<(), StateError> {
        self.off_the_runtime(HistoryTables::flush).await
    }
}

impl Drop for HistoryTables {
    fn drop(&mut self) {
        if let Err(e) = self.flush() {
            tracing::error!(error = %e, "sender history: last counts not made durable");
        }
    }
}

impl HistoryTables {
    pub(super) fn write(&self, durability: Durability) -> Result<WriteTransaction, StateError> {
        let mut txn = self.db.begin_write().map_err(err)?;
        if matches!(durability, Durability::None) {
            self.dirty.store(true, Ordering::SeqCst);
        }
        txn.set_durability(durability);
        Ok(txn)
    }

    fn record(&self, arrival: &Arrival, window_secs: u64) -> Result<Recorded, StateError> {
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
            count_arrival(&mut arrivals, sender, arrival.at)?;
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

    fn forget(&self, arrival: &Arrival, recorded: &Recorded) -> Result<(), StateError> {
        if !recorded.counted {
            return Ok(());
        }
        let txn = self.write(Durability::None)?;
        let sender = arrival.sender.as_str();
        {
            let mut arrivals = txn.open_table(ARRIVALS).map_err(err)?;
            uncount_arrival(&mut arrivals, sender, arrival.at)?;
            if let (true, Some(id)) = (recorded.new_message_id, arrival.message_id.as_deref()) {
                let mut ids = txn.open_table(MESSAGE_IDS).map_err(err)?;
                ids.remove((sender, message_id_key(id))).map_err(err)?;
            }
        }
        txn.commit().map_err(err)
    }

    fn block(&self, sender: &str, until: u64) -> Result<bool, StateError> {
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

    fn end_blocks(&self, now: u64) -> Result<Vec<String>, StateError> {
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

    fn prune(&self, before: u64) -> Result<usize, StateError> {
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

    fn blocked(&self) -> Result<u64, StateError> {
        let txn = self.db.begin_read().map_err(err)?;
        txn.open_table(BLOCKS).map_err(err)?.len().map_err(err)
    }

    fn flush(&self) -> Result<(), StateError> {
        if !self.dirty.swap(false, Ordering::SeqCst) {
            return Ok(());
        }
        // An empty durable commit persists the commits before it.
        let txn = self.write(Durability::Immediate)?;
        txn.commit().map_err(|e| {
            self.dirty.store(true, Ordering::SeqCst);
            err(e)
        })
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    /// One message of `sender` at second `at`; an empty `id` is a message without Message-ID
    /// (the window's tests use it too).
    pub(in crate::store::embedded) fn arrival(sender: &str, id: &str, at: u64) -> Arrival {
        Arrival {
            sender: sender.into(),
            message_id: Some(id.into()).filter(|i: &String| !i.is_empty()),
            at,
        }
    }

    #[tokio::test]
    async fn counts_within_the_window_and_across_a_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("history.redb");
        {
            let store = RedbSenderHistory::open(&path).unwrap();
            for i in 0..5 {
                let r = store
                    .record(&arrival("a@x", &format!("<{i}>"), 100), 600)
                    .await
                    .unwrap();
                assert_eq!(r.history.recent_messages, i);
                assert!(r.counted && r.new_message_id);
            }
            let other = store
                .record(&arrival("b@x", "<0>", 100), 600)
                .await
                .unwrap();
            assert_eq!(other.history.recent_messages, 0, "per sender");
        }
        let store = RedbSenderHistory::open(&path).unwrap();
        let r = store.record(&arrival("a@x", "", 200), 600).await.unwrap();
        assert_eq!(r.history.recent_messages, 5, "survives a reopen");
        let r = store.record(&arrival("a@x", "", 701), 600).await.unwrap();
        assert_eq!(
            r.history.recent_messages, 1,
            "those of second 100 are out of the window"
        );
        // Buckets of seconds 100 (a, b) and 200; Message-IDs <0>…<4> of a and <0> of b.
        assert_eq!(store.prune(600).await.unwrap(), 3 + 6);
    }

    #[tokio::test]
    async fn a_repeated_message_id_is_told_and_a_forgotten_arrival_does_not_count() {
        let dir = tempfile::tempdir().unwrap();
        let store = RedbSenderHistory::open(&dir.path().join("h.redb")).unwrap();
        let first = arrival("a@x", "<same@x>", 100);
        let recorded = store.record(&first, 600).await.unwrap();
        assert!(!recorded.history.repeated_message_id);
        // The client was told 451 and sends the same message again: not a loop.
        store.forget(&first, &recorded).await.unwrap();
        let retry = store
            .record(&arrival("a@x", "<same@x>", 160), 600)
            .await
            .unwrap();
        assert!(!retry.history.repeated_message_id);
        assert_eq!(retry.history.recent_messages, 0);
        let again = store
            .record(&arrival("a@x", "<same@x>", 170), 600)
            .await
            .unwrap();
        assert!(again.history.repeated_message_id);
        assert!(!again.new_message_id);
        let later = store
            .record(&arrival("a@x", "<same@x>", 900), 600)
            .await
            .unwrap();
        assert!(!later.history.repeated_message_id, "outside the window");
    }

    #[tokio::test]
    async fn a_block_holds_counts_nothing_and_ends_once() {
        let dir = tempfile::tempdir().unwrap();
        let store = RedbSenderHistory::open(&dir.path().join("h.redb")).unwrap();
        for _ in 0..3 {
            store.record(&arrival("a@x", "", 100), 600).await.unwrap();
        }
        assert!(store.block("a@x", 200).await.unwrap());
        assert!(
            !store.block("a@x", 150).await.unwrap(),
            "already blocked longer"
        );
        assert_eq!(store.blocked().await.unwrap(), 1);
        let held = store
            .record(&arrival("a@x", "<1>", 150), 600)
            .await
            .unwrap();
        assert_eq!(held.history.blocked_until, Some(200));
        assert!(!held.counted);
        assert!(store.end_blocks(199).await.unwrap().is_empty());
        assert_eq!(store.end_blocks(200).await.unwrap(), ["a@x"]);
        assert!(
            store.end_blocks(201).await.unwrap().is_empty(),
            "ended once"
        );
        assert_eq!(store.blocked().await.unwrap(), 0);
        let after = store
            .record(&arrival("a@x", "<1>", 210), 600)
            .await
            .unwrap();
        assert_eq!(
            after.history,
            SenderHistory::default(),
            "the count starts again"
        );
    }
}
