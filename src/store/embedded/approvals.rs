//! Pending approvals in an embedded [redb](https://docs.rs/redb) file (`[approval] path`),
//! opened for each operation and closed after it: the running server, the console and the
//! command line (`supportgate approval approve`) all use the one file, one at a time (redb
//! holds an exclusive lock while it is open; a second opener waits a bounded time for it).

use crate::locking::lock;
use crate::store::approvals::{ApprovalStore, ApprovalStoreError, Pending, PendingState};
use redb::{Database, ReadableTable, TableDefinition};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

/// id (the held request's queue id) → [`Pending`] as JSON.
const RECORDS: TableDefinition<&str, &[u8]> = TableDefinition::new("approvals");
/// token → id.
const TOKENS: TableDefinition<&str, &str> = TableDefinition::new("approval_tokens");
/// id → the held message's bytes, as received.
const MESSAGES: TableDefinition<&str, &[u8]> = TableDefinition::new("approval_messages");

/// How long an opener waits for another process (the CLI, the server) to close the file.
const OPEN_WAIT: Duration = Duration::from_secs(30);
const OPEN_RETRY: Duration = Duration::from_millis(20);

pub struct RedbApprovalStore {
    path: PathBuf,
    /// One opener at a time within this process (redb's lock is per open file).
    open: Mutex<()>,
}

impl RedbApprovalStore {
    /// Opens (or creates) the file at `path` once, to check that it can be used.
    pub fn open(path: &Path) -> Result<RedbApprovalStore, ApprovalStoreError> {
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(|e| ApprovalStoreError::Database {
                path: parent.display().to_string(),
                message: e.to_string(),
            })?;
        }
        let store = RedbApprovalStore {
            path: path.to_path_buf(),
            open: Mutex::new(()),
        };
        store.with_db(|_| Ok(()))?;
        Ok(store)
    }

    fn error(&self, e: impl std::fmt::Display) -> ApprovalStoreError {
        ApprovalStoreError::Database {
            path: self.path.display().to_string(),
            message: e.to_string(),
        }
    }

    /// Runs `work` on the database, opened for it alone.
    fn with_db<T>(
        &self,
        work: impl FnOnce(&Database) -> Result<T, ApprovalStoreError>,
    ) -> Result<T, ApprovalStoreError> {
        let _one = lock(&self.open);
        let started = std::time::Instant::now();
        let db = loop {
            match Database::create(&self.path) {
                Ok(db) => break db,
                Err(redb::DatabaseError::DatabaseAlreadyOpen) if started.elapsed() < OPEN_WAIT => {
                    std::thread::sleep(OPEN_RETRY);
                }
                Err(e) => return Err(self.error(e)),
            }
        };
        let txn = db.begin_write().map_err(|e| self.error(e))?;
        txn.open_table(RECORDS).map_err(|e| self.error(e))?;
        txn.open_table(TOKENS).map_err(|e| self.error(e))?;
        txn.open_table(MESSAGES).map_err(|e| self.error(e))?;
        txn.commit().map_err(|e| self.error(e))?;
        work(&db)
    }

    fn decode(&self, id: &str, bytes: &[u8]) -> Result<Pending, ApprovalStoreError> {
        serde_json::from_slice(bytes).map_err(|e| ApprovalStoreError::Corrupt {
            id: id.to_string(),
            message: e.to_string(),
        })
    }

    fn encode(&self, pending: &Pending) -> Result<Vec<u8>, ApprovalStoreError> {
        serde_json::to_vec(pending).map_err(|e| self.error(e))
    }

    fn read_record(&self, db: &Database, id: &str) -> Result<Option<Pending>, ApprovalStoreError> {
        let txn = db.begin_read().map_err(|e| self.error(e))?;
        let table = txn.open_table(RECORDS).map_err(|e| self.error(e))?;
        let found = table.get(id).map_err(|e| self.error(e))?;
        found.map(|v| self.decode(id, v.value())).transpose()
    }

    /// Changes record `id` in one write transaction: `change` says what to store (or `None`
    /// for nothing) and what to return.
    fn update<T>(
        &self,
        id: &str,
        change: impl FnOnce(Pending) -> (Option<Pending>, T),
        after: impl FnOnce(&redb::WriteTransaction, &Pending) -> Result<(), ApprovalStoreError>,
    ) -> Result<Option<T>, ApprovalStoreError> {
        self.with_db(|db| {
            let txn = db.begin_write().map_err(|e| self.error(e))?;
            let answer = {
                let mut table = txn.open_table(RECORDS).map_err(|e| self.error(e))?;
                let current = match table.get(id).map_err(|e| self.error(e))? {
                    Some(v) => self.decode(id, v.value())?,
                    None => return Ok(None),
                };
                let (changed, answer) = change(current);
                if let Some(changed) = &changed {
                    table
                        .insert(id, self.encode(changed)?.as_slice())
                        .map_err(|e| self.error(e))?;
                }
                changed.map(|c| (c, answer))
            };
            let Some((changed, answer)) = answer else {
                return Ok(None);
            };
            after(&txn, &changed)?;
            txn.commit().map_err(|e| self.error(e))?;
            Ok(Some(answer))
        })
    }
}

impl ApprovalStore for RedbApprovalStore {
    fn hold(&self, pending: &Pending, message: &[u8]) -> Result<(), ApprovalStoreError> {
        let record = self.encode(pending)?;
        self.with_db(|db| {
            // redb's default durability: the commit is fsync'd before it returns.
            let txn = db.begin_write().map_err(|e| self.error(e))?;
            {
                let mut records = txn.open_table(RECORDS).map_err(|e| self.error(e))?;
                records
                    .insert(pending.id.as_str(), record.as_slice())
                    .map_err(|e| self.error(e))?;
                let mut tokens = txn.open_table(TOKENS).map_err(|e| self.error(e))?;
                tokens
                    .insert(pending.token.as_str(), pending.id.as_str())
                    .map_err(|e| self.error(e))?;
                let mut messages = txn.open_table(MESSAGES).map_err(|e| self.error(e))?;
                messages
                    .insert(pending.id.as_str(), message)
                    .map_err(|e| self.error(e))?;
            }
            txn.commit().map_err(|e| self.error(e))
        })
    }

    fn by_token(&self, token: &str) -> Result<Option<Pending>, ApprovalStoreError> {
        self.with_db(|db| {
            let id = {
                let txn = db.begin_read().map_err(|e| self.error(e))?;
                let tokens = txn.open_table(TOKENS).map_err(|e| self.error(e))?;
                let found = tokens.get(token).map_err(|e| self.error(e))?;
                found.map(|v| v.value().to_string())
            };
            match id {
                Some(id) => self.read_record(db, &id),
                None => Ok(None),
            }
        })
    }

    fn get(&self, id: &str) -> Result<Option<Pending>, ApprovalStoreError> {
        self.with_db(|db| self.read_record(db, id))
    }

    fn message(&self, id: &str) -> Result<Option<Vec<u8>>, ApprovalStoreError> {
        self.with_db(|db| {
            let txn = db.begin_read().map_err(|e| self.error(e))?;
            let table = txn.open_table(MESSAGES).map_err(|e| self.error(e))?;
            let found = table.get(id).map_err(|e| self.error(e))?;
            Ok(found.map(|v| v.value().to_vec()))
        })
    }

    fn list(&self) -> Result<Vec<Pending>, ApprovalStoreError> {
        self.with_db(|db| {
            let txn = db.begin_read().map_err(|e| self.error(e))?;
            let table = txn.open_table(RECORDS).map_err(|e| self.error(e))?;
            let mut all = Vec::new();
            for entry in table.iter().map_err(|e| self.error(e))? {
                let (id, value) = entry.map_err(|e| self.error(e))?;
                all.push(self.decode(id.value(), value.value())?);
            }
            // Queue ids sort by time.
            all.sort_by(|a, b| a.id.cmp(&b.id));
            Ok(all)
        })
    }

    fn claim(
        &self,
        id: &str,
        closing: PendingState,
    ) -> Result<Option<Pending>, ApprovalStoreError> {
        // One write transaction: redb serialises writers, so the read of the state and its
        // change are one step; and the file is opened by one process at a time.
        self.update(
            id,
            |mut current| {
                if !current.state.is_pending() {
                    return (None, None);
                }
                current.state = closing;
                (Some(current.clone()), Some(current))
            },
            |_, _| Ok(()),
        )
        .map(Option::flatten)
    }

    fn take_over(
        &self,
        id: &str,
        stale_before: u64,
        now: u64,
    ) -> Result<Option<Pending>, ApprovalStoreError> {
        self.update(
            id,
            |mut current| {
                let stale = !current.settled
                    && current
                        .state
                        .closed_at()
                        .is_some_and(|at| at < stale_before)
                    && current.taken_over_at.is_none_or(|at| at < stale_before);
                if !stale {
                    return (None, None);
                }
                current.taken_over_at = Some(now);
                (Some(current.clone()), Some(current))
            },
            |_, _| Ok(()),
        )
        .map(Option::flatten)
    }

    fn unclaim(&self, id: &str) -> Result<(), ApprovalStoreError> {
        self.update(
            id,
            |mut current| {
                if current.settled {
                    return (None, ());
                }
                current.state = PendingState::Pending;
                current.taken_over_at = None;
                (Some(current), ())
            },
            |_, _| Ok(()),
        )
        .map(|_| ())
    }

    fn finish(&self, id: &str) -> Result<(), ApprovalStoreError> {
        self.update(
            id,
            |mut current| {
                current.settled = true;
                (Some(current), ())
            },
            |txn, _| {
                let mut messages = txn.open_table(MESSAGES).map_err(|e| self.error(e))?;
                messages.remove(id).map_err(|e| self.error(e))?;
                Ok(())
            },
        )
        .map(|_| ())
    }

    fn prune(&self, before: u64) -> Result<usize, ApprovalStoreError> {
        let old: Vec<Pending> = self
            .list()?
            .into_iter()
            .filter(|p| p.settled && p.state.closed_at().is_some_and(|at| at < before))
            .collect();
        if old.is_empty() {
            return Ok(0);
        }
        self.with_db(|db| {
            let txn = db.begin_write().map_err(|e| self.error(e))?;
            {
                let mut records = txn.open_table(RECORDS).map_err(|e| self.error(e))?;
                let mut tokens = txn.open_table(TOKENS).map_err(|e| self.error(e))?;
                for pending in &old {
                    records
                        .remove(pending.id.as_str())
                        .map_err(|e| self.error(e))?;
                    tokens
                        .remove(pending.token.as_str())
                        .map_err(|e| self.error(e))?;
                }
            }
            txn.commit().map_err(|e| self.error(e))?;
            Ok(old.len())
        })
    }
}
