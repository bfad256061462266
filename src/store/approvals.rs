//! Pending approvals (SPEC §11): a sensitive request held until the account's owner or an
//! admin approves or declines it, with the message's bytes, durably.
//!
//! [`ApprovalStore`] is all the gateway uses, and it is narrow on purpose so that a shared
//! database can serve a fleet later: keep a request ([`ApprovalStore::hold`], committed to disk
//! before it returns, so before the `250`), look it up, and [`ApprovalStore::claim`] it — the
//! one atomic step that decides who wins when two approvers (or an approver and the expiry
//! timer) act at once. A claimed request keeps its bytes until its follow-up (the ticket, or
//! the quarantine) is stored elsewhere ([`ApprovalStore::finish`]); its record stays behind,
//! closed, so that a late approver hears "no longer pending".
//!
//! [`RedbApprovalStore`] keeps it in an embedded [redb](https://docs.rs/redb) file, opened for
//! each operation and closed after it: the running server, the console and the command line
//! (`supportgate approval approve`) all use the one file, one at a time (redb holds an
//! exclusive lock while it is open; a second opener waits a bounded time for it).

use crate::store::quarantine::QuarantineRecord;
use redb::{Database, ReadableTable, TableDefinition};
use serde::{Deserialize, Serialize};
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

#[derive(Debug, thiserror::Error)]
pub enum ApprovalStoreError {
    #[error("{path}: {message}")]
    Database { path: String, message: String },
    #[error("approval record {id}: {message}")]
    Corrupt { id: String, message: String },
}

/// Where a held request stands. Every state but `Pending` is final.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "kebab-case")]
pub enum PendingState {
    Pending,
    Approved { by: String, role: String, at: u64 },
    Declined { by: String, role: String, at: u64 },
    Expired { at: u64 },
}

impl PendingState {
    pub fn as_str(&self) -> &'static str {
        match self {
            PendingState::Pending => "pending",
            PendingState::Approved { .. } => "approved",
            PendingState::Declined { .. } => "declined",
            PendingState::Expired { .. } => "expired",
        }
    }

    pub fn is_pending(&self) -> bool {
        matches!(self, PendingState::Pending)
    }

    /// When it was closed (approved, declined or expired).
    pub fn closed_at(&self) -> Option<u64> {
        match self {
            PendingState::Pending => None,
            PendingState::Approved { at, .. }
            | PendingState::Declined { at, .. }
            | PendingState::Expired { at } => Some(*at),
        }
    }
}

/// One held request: what the approval messages and the follow-up need.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pending {
    /// The held request's queue id: its log lines, the approval's, the ticket and the
    /// quarantine all carry it.
    pub id: String,
    /// The secret of the approve and decline addresses (lowercase base32).
    pub token: String,
    pub account: String,
    /// The P4 category, and whom it requires (`owner` or `admin`).
    pub category: String,
    pub requires: String,
    /// The From address of the request.
    pub requester: String,
    /// Where the requester's notices go (the auto-reply address); none: never told.
    pub notify_requester: Option<String>,
    /// The primary addresses the approval request went to.
    pub approvers: Vec<String>,
    /// The support address the request was written to, without `+tag`: the approve and
    /// decline addresses are built on it.
    pub support_address: String,
    /// `fr` or `en`: the account's language.
    pub language: String,
    pub subject: String,
    /// The start of the request's text, as the approval request shows it.
    pub text_start: String,
    pub message_id: Option<String>,
    /// Unix seconds.
    pub held_at: u64,
    pub expires_at: u64,
    /// The quarantine record the request gets if it is declined or expires.
    pub record: QuarantineRecord,
    #[serde(flatten)]
    pub state: PendingState,
    /// The follow-up of a closed request is stored (ticket or quarantine): the bytes are gone.
    #[serde(default)]
    pub settled: bool,
}

pub trait ApprovalStore: Send + Sync {
    /// Keeps `pending` and `message`; returns once both are committed to disk.
    fn hold(&self, pending: &Pending, message: &[u8]) -> Result<(), ApprovalStoreError>;
    /// The request whose approve and decline addresses carry `token`.
    fn by_token(&self, token: &str) -> Result<Option<Pending>, ApprovalStoreError>;
    fn get(&self, id: &str) -> Result<Option<Pending>, ApprovalStoreError>;
    /// The held bytes (none once settled).
    fn message(&self, id: &str) -> Result<Option<Vec<u8>>, ApprovalStoreError>;
    /// Every request, pending and closed, oldest first.
    fn list(&self) -> Result<Vec<Pending>, ApprovalStoreError>;
    /// Atomically: if `id` is still pending, closes it with `closing` and returns the record
    /// as closed; else `None`. Of any number of callers at once, one wins.
    fn claim(&self, id: &str, closing: PendingState)
        -> Result<Option<Pending>, ApprovalStoreError>;
    /// Re-opens a claimed request whose follow-up could not be stored.
    fn unclaim(&self, id: &str) -> Result<(), ApprovalStoreError>;
    /// The follow-up of closed request `id` is stored elsewhere: its bytes are dropped, its
    /// record (and token) stay so that a late approval is recognised.
    fn finish(&self, id: &str) -> Result<(), ApprovalStoreError>;
    /// Forgets settled requests closed before `before` (Unix seconds), tokens included.
    fn prune(&self, before: u64) -> Result<usize, ApprovalStoreError>;
}

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
        let _one = self.open.lock().unwrap_or_else(|p| p.into_inner());
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

    fn unclaim(&self, id: &str) -> Result<(), ApprovalStoreError> {
        self.update(
            id,
            |mut current| {
                if current.settled {
                    return (None, ());
                }
                current.state = PendingState::Pending;
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

/// A new approval token: 160 random bits from the OS, lowercase base32 (RFC 4648 alphabet,
/// no padding): 32 characters.
pub fn new_token() -> String {
    use rand::RngCore;
    let mut bytes = [0u8; 20];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    base32_lower(&bytes)
}

fn base32_lower(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";
    let mut out = String::with_capacity(bytes.len().div_ceil(5) * 8);
    let (mut buffer, mut bits) = (0u32, 0u32);
    for &byte in bytes {
        buffer = (buffer << 8) | u32::from(byte);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(char::from(ALPHABET[((buffer >> bits) & 31) as usize]));
        }
    }
    if bits > 0 {
        out.push(char::from(ALPHABET[((buffer << (5 - bits)) & 31) as usize]));
    }
    out
}

#[cfg(test)]
#[path = "approvals_tests.rs"]
mod tests;
