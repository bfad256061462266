//! The sender history of SPEC §10 `mail-loop`: how many messages each sender sent recently,
//! which Message-IDs came from it, and which senders are held back until when. The pipeline
//! records each message here before deciding and passes the [`SenderHistory`] it gets back
//! into the pure policy core; the policy never reads the store itself.
//!
//! [`SenderHistoryStore`] is all the gateway uses; `[state]` picks the backend:
//! [`crate::store::embedded::RedbSenderHistory`] on one host,
//! [`crate::store::postgres::PostgresSenderHistory`] shared by a fleet (a sender's messages
//! counted together, a block started by one gateway held by all).

use super::state_error::StateError;
use crate::policy::SenderHistory;

/// Message-IDs longer than this are compared by their start (a key stays small).
pub const MAX_MESSAGE_ID: usize = 250;

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

#[async_trait::async_trait]
pub trait SenderHistoryStore: Send + Sync {
    /// Records `arrival` and returns what was known before it within `window_secs`. While
    /// the sender is blocked nothing is counted: when the block ends, the count starts again.
    async fn record(&self, arrival: &Arrival, window_secs: u64) -> Result<Recorded, StateError>;
    /// Takes a recorded arrival back: the client was told to retry, and its retry is the same
    /// message, not a loop.
    async fn forget(&self, arrival: &Arrival, recorded: &Recorded) -> Result<(), StateError>;
    /// Holds `sender` back until `until`, and forgets its arrivals. False if a block that
    /// lasts at least that long was already there (another message started it).
    async fn block(&self, sender: &str, until: u64) -> Result<bool, StateError>;
    /// Removes the blocks that are over at `now` and returns their senders.
    async fn end_blocks(&self, now: u64) -> Result<Vec<String>, StateError>;
    /// Forgets arrivals and Message-IDs older than `before`; returns how many entries went.
    async fn prune(&self, before: u64) -> Result<usize, StateError>;
    /// How many senders are blocked (ended blocks not yet removed included).
    async fn blocked(&self) -> Result<u64, StateError>;
    /// Makes every count recorded so far durable (nothing to do if none since the last).
    async fn flush(&self) -> Result<(), StateError>;
}

/// A Message-ID as it is remembered: trimmed, and cut to its first [`MAX_MESSAGE_ID`] bytes
/// (a key stays small).
pub fn message_id_key(id: &str) -> &str {
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
