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
//! Two implementations, chosen by `[state] backend` (`crate::store::state`):
//! `crate::store::embedded::RedbApprovalStore` (a redb file at `[approval] path`) and
//! `crate::store::postgres::PostgresApprovalStore` (the database a fleet shares).

use crate::store::quarantine::QuarantineRecord;
use serde::{Deserialize, Serialize};

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
    /// When an expiry timer took this closed but unsettled request over to store its
    /// follow-up ([`ApprovalStore::take_over`]), Unix seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub taken_over_at: Option<u64>,
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
    /// Atomically: if `id` is closed but not settled, was closed before `stale_before` and not
    /// taken over since then, marks it taken over at `now` and returns it; else `None`. For
    /// the follow-up of a decision whose decider never finished it (a crash): of the expiry
    /// timers of a fleet one does it, and not while the decider may still be at work.
    fn take_over(
        &self,
        id: &str,
        stale_before: u64,
        now: u64,
    ) -> Result<Option<Pending>, ApprovalStoreError>;
    /// Re-opens a claimed request whose follow-up could not be stored.
    fn unclaim(&self, id: &str) -> Result<(), ApprovalStoreError>;
    /// The follow-up of closed request `id` is stored elsewhere: its bytes are dropped, its
    /// record (and token) stay so that a late approval is recognised.
    fn finish(&self, id: &str) -> Result<(), ApprovalStoreError>;
    /// Forgets settled requests closed before `before` (Unix seconds), tokens included.
    fn prune(&self, before: u64) -> Result<usize, ApprovalStoreError>;
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
