//! The reply memory: which reply (reason) went to which address, and when (SPEC §5: one reply
//! per address and reason within the interval), surviving restarts. [`ReplyMemory`] is all the
//! gateway uses; `[state]` picks the backend: [`crate::store::embedded::RedbReplyMemory`] on
//! one host, [`crate::store::postgres::PostgresReplyMemory`] shared by a fleet.

use super::state_error::StateError;
use crate::address::NormalizedAddress;
use crate::policy::{Reason, ReplyMemoryView};

/// A reply memory that can also claim, forget what is too old to matter, and say its size.
/// The policy's [`ReplyMemoryView`] is its quick, synchronous side; [`ReplyMemory::claim`] is
/// the authority: a reply goes out only once its claim was taken.
#[async_trait::async_trait]
pub trait ReplyMemory: ReplyMemoryView + Send + Sync {
    /// Forgets replies older than `before` (Unix seconds); returns how many were removed.
    async fn prune(&self, before: u64) -> Result<usize, StateError>;
    /// How many (address, reason) pairs are remembered.
    async fn entries(&self) -> Result<u64, StateError>;
    /// Atomically: if nothing was claimed under `key` at or after `since`, claims it at `at`
    /// and returns true; else false. Two sessions (or two gateways sharing the store) racing
    /// for the same key: one wins.
    async fn claim(&self, key: &str, at: u64, since: u64) -> Result<bool, StateError>;
    /// Gives a claim back: what it was taken for did not happen.
    async fn unclaim(&self, key: &str) -> Result<(), StateError>;
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
