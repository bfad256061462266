//! The reply memory: which reply (reason) went to which address, and when (SPEC §5: one reply
//! per address and reason within the interval), surviving restarts.
//!
//! Stored in [redb](https://docs.rs/redb), an embedded, pure-Rust, ACID key-value store: one
//! file, crash-safe commits, no server and no C dependency to run beside a single gateway. The
//! [`ReplyMemory`] trait is all the gateway uses, so a shared database can serve a fleet later.

use crate::address::NormalizedAddress;
use crate::policy::{Reason, ReplyMemoryView};
use redb::{Database, ReadableTable, ReadableTableMetadata, TableDefinition};
use std::path::Path;

const REPLIES: TableDefinition<&str, u64> = TableDefinition::new("replies");

/// A reply memory that can also claim, forget what is too old to matter, and say its size.
pub trait ReplyMemory: ReplyMemoryView + Send + Sync {
    /// Forgets replies older than `before` (Unix seconds); returns how many were removed.
    fn prune(&self, before: u64) -> Result<usize, String>;
    /// How many (address, reason) pairs are remembered.
    fn entries(&self) -> Result<u64, String>;
    /// Atomically: if nothing was claimed under `key` at or after `since`, claims it at `at`
    /// and returns true; else false. Two sessions racing for the same key: one wins.
    fn claim(&self, key: &str, at: u64, since: u64) -> Result<bool, String>;
    /// Gives a claim back: what it was taken for did not happen.
    fn unclaim(&self, key: &str) -> Result<(), String>;
}

pub struct RedbReplyMemory {
    db: Database,
}

/// The key of a reply for `reason` to `recipient`: what [`ReplyMemoryView::replied_since`]
/// reads and the act stage claims (`recipient` as the policy gives it: untagged, see
/// [`crate::policy::reply_to::reply_memory_key`]).
pub fn reply_key(recipient: &NormalizedAddress, reason: Reason) -> String {
    format!("{}\u{0}{}", reason.code(), recipient)
}

/// The key under which P4 notifications are claimed: one per requester and category.
pub fn notification_key(requester: &str, category: &str) -> String {
    format!(
        "notify\u{0}{category}\u{0}{}",
        requester.to_ascii_lowercase()
    )
}

impl RedbReplyMemory {
    /// Opens (or creates) the database file at `path` (its folder is created if needed).
    pub fn open(path: &Path) -> Result<RedbReplyMemory, String> {
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| format!("{}: {e}", parent.display()))?;
        }
        if !path.exists() {
            create_whole(path).map_err(|e| format!("{}: {e}", path.display()))?;
        }
        let db = Database::create(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let txn = db.begin_write().map_err(|e| e.to_string())?;
        txn.open_table(REPLIES).map_err(|e| e.to_string())?;
        txn.commit().map_err(|e| e.to_string())?;
        Ok(RedbReplyMemory { db })
    }
}

/// A new database is made under a temporary name and renamed into place once initialised: a
/// process killed while redb writes a new file's header (seen under SIGKILL in
/// `tests/spool_crash.rs` on a busy machine) must not leave a file that redb refuses to open.
fn create_whole(path: &Path) -> Result<(), String> {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".new");
    let fresh = path.with_file_name(name);
    let _ = std::fs::remove_file(&fresh);
    let db = Database::create(&fresh).map_err(|e| e.to_string())?;
    let txn = db.begin_write().map_err(|e| e.to_string())?;
    txn.open_table(REPLIES).map_err(|e| e.to_string())?;
    txn.commit().map_err(|e| e.to_string())?;
    drop(db);
    std::fs::rename(&fresh, path).map_err(|e| e.to_string())?;
    match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => {
            super::fsync_dir(parent).map_err(|e| e.to_string())
        }
        _ => super::fsync_dir(Path::new(".")).map_err(|e| e.to_string()),
    }
}

impl ReplyMemoryView for RedbReplyMemory {
    fn replied_since(&self, recipient: &NormalizedAddress, reason: Reason, since: u64) -> bool {
        let lookup = || -> Result<bool, String> {
            let txn = self.db.begin_read().map_err(|e| e.to_string())?;
            let table = txn.open_table(REPLIES).map_err(|e| e.to_string())?;
            Ok(table
                .get(reply_key(recipient, reason).as_str())
                .map_err(|e| e.to_string())?
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

impl ReplyMemory for RedbReplyMemory {
    fn prune(&self, before: u64) -> Result<usize, String> {
        let txn = self.db.begin_write().map_err(|e| e.to_string())?;
        let removed = {
            let mut table = txn.open_table(REPLIES).map_err(|e| e.to_string())?;
            let old: Vec<String> = table
                .iter()
                .map_err(|e| e.to_string())?
                .filter_map(Result::ok)
                .filter(|(_, at)| at.value() < before)
                .map(|(k, _)| k.value().to_string())
                .collect();
            for k in &old {
                table.remove(k.as_str()).map_err(|e| e.to_string())?;
            }
            old.len()
        };
        txn.commit().map_err(|e| e.to_string())?;
        Ok(removed)
    }

    fn claim(&self, key: &str, at: u64, since: u64) -> Result<bool, String> {
        // One write transaction: redb serialises writers, so the read and the insert are atomic.
        let txn = self.db.begin_write().map_err(|e| e.to_string())?;
        let claimed = {
            let mut table = txn.open_table(REPLIES).map_err(|e| e.to_string())?;
            let taken = table
                .get(key)
                .map_err(|e| e.to_string())?
                .is_some_and(|earlier| earlier.value() >= since);
            if !taken {
                table.insert(key, at).map_err(|e| e.to_string())?;
            }
            !taken
        };
        txn.commit().map_err(|e| e.to_string())?;
        Ok(claimed)
    }

    fn unclaim(&self, key: &str) -> Result<(), String> {
        let txn = self.db.begin_write().map_err(|e| e.to_string())?;
        {
            let mut table = txn.open_table(REPLIES).map_err(|e| e.to_string())?;
            table.remove(key).map_err(|e| e.to_string())?;
        }
        txn.commit().map_err(|e| e.to_string())
    }

    fn entries(&self) -> Result<u64, String> {
        let txn = self.db.begin_read().map_err(|e| e.to_string())?;
        let table = txn.open_table(REPLIES).map_err(|e| e.to_string())?;
        table.len().map_err(|e| e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::address::AddressRules;

    #[test]
    fn remembers_across_reopen_and_per_reason() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("replies.redb");
        let bob = NormalizedAddress::parse("bob@else.example", &AddressRules::default()).unwrap();
        {
            let memory = RedbReplyMemory::open(&path).unwrap();
            assert!(!memory.replied_since(&bob, Reason::UnknownSender, 0));
            assert!(memory
                .claim(&reply_key(&bob, Reason::UnknownSender), 1000, 0)
                .unwrap());
        }
        let memory = RedbReplyMemory::open(&path).unwrap();
        assert!(memory.replied_since(&bob, Reason::UnknownSender, 500));
        assert!(!memory.replied_since(&bob, Reason::UnknownSender, 1001));
        assert!(!memory.replied_since(&bob, Reason::NotRegistered, 0));
        assert_eq!(memory.entries().unwrap(), 1);
        assert_eq!(memory.prune(1000).unwrap(), 0);
        assert_eq!(memory.prune(2000).unwrap(), 1);
        assert_eq!(memory.entries().unwrap(), 0);
        assert!(!memory.replied_since(&bob, Reason::UnknownSender, 0));
    }

    #[test]
    fn a_claim_is_taken_once_per_interval_and_can_be_given_back() {
        let dir = tempfile::tempdir().unwrap();
        let memory = RedbReplyMemory::open(&dir.path().join("replies.redb")).unwrap();
        assert!(memory.claim("k", 1000, 0).unwrap());
        assert!(
            !memory.claim("k", 1001, 500).unwrap(),
            "taken within the interval"
        );
        assert!(
            memory.claim("k", 3000, 2000).unwrap(),
            "older than the interval"
        );
        memory.unclaim("k").unwrap();
        assert!(memory.claim("k", 3001, 2000).unwrap());
        // The key of a reply is the one `replied_since` reads.
        let bob = NormalizedAddress::parse("bob@else.example", &AddressRules::default()).unwrap();
        assert!(memory
            .claim(&reply_key(&bob, Reason::UnknownSender), 50, 0)
            .unwrap());
        assert!(memory.replied_since(&bob, Reason::UnknownSender, 10));
    }
}
