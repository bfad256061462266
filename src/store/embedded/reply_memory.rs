//! The reply memory in redb (`[state] backend = "embedded"`): an embedded, pure-Rust, ACID
//! key-value store, one file, crash-safe commits, no server to run beside a single gateway.
//! A claim commits durably, so it runs on tokio's blocking pool.

use crate::address::NormalizedAddress;
use crate::policy::{Reason, ReplyMemoryView};
use crate::store::reply_memory::{reply_key, ReplyMemory};
use crate::store::state_error::StateError;
use redb::{Database, ReadableTable, ReadableTableMetadata, TableDefinition};
use std::sync::Arc;

pub(super) const REPLIES: TableDefinition<&str, u64> = TableDefinition::new("replies");

/// A cheap handle: clones share one database.
#[derive(Clone)]
pub struct RedbReplyMemory {
    db: Arc<Database>,
}

fn err(e: impl std::fmt::Display) -> StateError {
    StateError::embedded(e)
}

impl RedbReplyMemory {
    /// The reply memory's table in `db` (created if missing).
    pub fn new(db: Arc<Database>) -> Result<RedbReplyMemory, StateError> {
        let mut txn = db.begin_write().map_err(err)?;
        // No fsync of its own: the table is made again at every start if a crash lost it.
        txn.set_durability(redb::Durability::None);
        txn.open_table(REPLIES).map_err(err)?;
        txn.commit().map_err(err)?;
        Ok(RedbReplyMemory { db })
    }

    /// Opens (or creates) the database file at `path` for the reply memory alone.
    pub fn open(path: &std::path::Path) -> Result<RedbReplyMemory, StateError> {
        RedbReplyMemory::new(super::open_database(path)?)
    }

    async fn off_the_runtime<T: Send + 'static>(
        &self,
        work: impl FnOnce(&Database) -> Result<T, StateError> + Send + 'static,
    ) -> Result<T, StateError> {
        let db = Arc::clone(&self.db);
        tokio::task::spawn_blocking(move || work(&db))
            .await
            .map_err(err)?
    }
}

impl ReplyMemoryView for RedbReplyMemory {
    fn replied_since(&self, recipient: &NormalizedAddress, reason: Reason, since: u64) -> bool {
        let lookup = || -> Result<bool, StateError> {
            let txn = self.db.begin_read().map_err(err)?;
            let table = txn.open_table(REPLIES).map_err(err)?;
            Ok(table
                .get(reply_key(recipient, reason).as_str())
                .map_err(err)?
                .is_some_and(|at| at.value() >= since))
        };
        // If the memory cannot be read, answer "already replied": a missing reply is better
        // than a reply storm.
        lookup().unwrap_or_else(|e| {
            tracing::error!(error = %e, "reply memory unreadable; suppressing the reply");
            true
        })
    }
}

#[async_trait::async_trait]
impl ReplyMemory for RedbReplyMemory {
    async fn prune(&self, before: u64) -> Result<usize, StateError> {
        self.off_the_runtime(move |db| {
            let txn = db.begin_write().map_err(err)?;
            let removed = {
                let mut table = txn.open_table(REPLIES).map_err(err)?;
                let before_len = table.len().map_err(err)?;
                table.retain(|_, at| at >= before).map_err(err)?;
                before_len.saturating_sub(table.len().map_err(err)?)
            };
            txn.commit().map_err(err)?;
            Ok(usize::try_from(removed).unwrap_or(usize::MAX))
        })
        .await
    }

    async fn claim(&self, key: &str, at: u64, since: u64) -> Result<bool, StateError> {
        let key = key.to_string();
        self.off_the_runtime(move |db| {
            // One write transaction: redb serialises writers, so the read and the insert are
            // atomic.
            let txn = db.begin_write().map_err(err)?;
            let claimed = {
                let mut table = txn.open_table(REPLIES).map_err(err)?;
                let taken = table
                    .get(key.as_str())
                    .map_err(err)?
                    .is_some_and(|earlier| earlier.value() >= since);
                if !taken {
                    table.insert(key.as_str(), at).map_err(err)?;
                }
                !taken
            };
            txn.commit().map_err(err)?;
            Ok(claimed)
        })
        .await
    }

    async fn unclaim(&self, key: &str) -> Result<(), StateError> {
        let key = key.to_string();
        self.off_the_runtime(move |db| {
            let txn = db.begin_write().map_err(err)?;
            {
                let mut table = txn.open_table(REPLIES).map_err(err)?;
                table.remove(key.as_str()).map_err(err)?;
            }
            txn.commit().map_err(err)
        })
        .await
    }

    async fn entries(&self) -> Result<u64, StateError> {
        let txn = self.db.begin_read().map_err(err)?;
        let table = txn.open_table(REPLIES).map_err(err)?;
        table.len().map_err(err)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::address::AddressRules;

    #[tokio::test]
    async fn remembers_across_reopen_and_per_reason() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("replies.redb");
        let bob = NormalizedAddress::parse("bob@else.example", &AddressRules::default()).unwrap();
        {
            let memory = RedbReplyMemory::open(&path).unwrap();
            assert!(!memory.replied_since(&bob, Reason::UnknownSender, 0));
            assert!(memory
                .claim(&reply_key(&bob, Reason::UnknownSender), 1000, 0)
                .await
                .unwrap());
        }
        let memory = RedbReplyMemory::open(&path).unwrap();
        assert!(memory.replied_since(&bob, Reason::UnknownSender, 500));
        assert!(!memory.replied_since(&bob, Reason::UnknownSender, 1001));
        assert!(!memory.replied_since(&bob, Reason::NotRegistered, 0));
        assert_eq!(memory.entries().await.unwrap(), 1);
        assert_eq!(memory.prune(1000).await.unwrap(), 0);
        assert_eq!(memory.prune(2000).await.unwrap(), 1);
        assert_eq!(memory.entries().await.unwrap(), 0);
        assert!(!memory.replied_since(&bob, Reason::UnknownSender, 0));
    }

    #[tokio::test]
    async fn a_claim_is_taken_once_per_interval_and_can_be_given_back() {
        let dir = tempfile::tempdir().unwrap();
        let memory = RedbReplyMemory::open(&dir.path().join("replies.redb")).unwrap();
        assert!(memory.claim("k", 1000, 0).await.unwrap());
        assert!(
            !memory.claim("k", 1001, 500).await.unwrap(),
            "taken within the interval"
        );
        assert!(
            memory.claim("k", 3000, 2000).await.unwrap(),
            "older than the interval"
        );
        memory.unclaim("k").await.unwrap();
        assert!(memory.claim("k", 3001, 2000).await.unwrap());
        // The key of a reply is the one `replied_since` reads.
        let bob = NormalizedAddress::parse("bob@else.example", &AddressRules::default()).unwrap();
        assert!(memory
            .claim(&reply_key(&bob, Reason::UnknownSender), 50, 0)
            .await
            .unwrap());
        assert!(memory.replied_since(&bob, Reason::UnknownSender, 10));
    }
}
