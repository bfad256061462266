//! The spool: everything the gateway has promised to deliver and not delivered yet — accepted
//! mail for the ticket queue (with `[spool]` on), auto-replies and owner/admin notifications,
//! and messages released from the quarantine. [`Purpose`] says which, and so which target.
//!
//! An append-only log of segment files (`<root>/segments/*.seg`, [`segment`]), many messages
//! each, every record length-prefixed and checksummed ([`record`]). The running server reads
//! them once at start and then keeps them in memory ([`index`], [`live`]): one thread writes,
//! one fsync per batch of messages arriving together, and `done` and retry-state markers
//! without fsync of their own (a crash re-delivers: at least once). A segment is deleted once
//! nothing in it is needed.
//!
//! [`Spool`] is the view of a command-line tool: it reads every segment, and writes a whole
//! segment of its own (a release, a `queue delete` marker) that the server adopts.

pub mod index;
mod legacy;
pub mod live;
pub mod record;
pub mod segment;
mod turns;
mod writer;

pub use live::LiveSpool;
pub use record::{MessageKey, RetryState};
pub use writer::{Arrival, WriterStats};

use super::quarantine::DecisionRecord;
use serde::{Deserialize, Serialize};
use std::io;
use std::path::{Path, PathBuf};

/// What is kept beside the bytes of a spooled message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SpoolEntry {
    pub id: String,
    /// Unix seconds.
    pub received_at: u64,
    /// None: the null reverse-path.
    pub mail_from: Option<String>,
    pub recipients: Vec<String>,
    pub peer: Option<String>,
    pub helo: Option<String>,
    pub subject: Option<String>,
    pub message_id: Option<String>,
    /// The From address the decision is about (told to a `pipe:` command).
    pub sender: Option<String>,
    pub decision: DecisionRecord,
    pub attempts: u32,
    /// Unix seconds.
    pub next_attempt: u64,
    pub last_answer: Option<String>,
    /// What the message is; entries written before this field existed are tickets.
    #[serde(default)]
    pub purpose: Purpose,
}

/// What a spooled message is, and so where it goes and what its delivery updates.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Purpose {
    /// Accepted mail for the ticket queue.
    #[default]
    Ticket,
    /// The auto-reply for quarantined message `quarantine_id` (its record says `queued`, then
    /// `sent` or `failed: …`).
    AutoReply { quarantine_id: String },
    /// A P4 notification to the owner or an admin about quarantined message `quarantine_id`.
    Notification { quarantine_id: String },
    /// Quarantined message `quarantine_id`, released by an operator to the ticket queue.
    Release { quarantine_id: String },
}

impl Purpose {
    /// `ticket`, `auto-reply`, `notification`, `release`: in logs and `queue list`.
    pub fn as_str(&self) -> &'static str {
        match self {
            Purpose::Ticket => "ticket",
            Purpose::AutoReply { .. } => "auto-reply",
            Purpose::Notification { .. } => "notification",
            Purpose::Release { .. } => "release",
        }
    }

    /// True for what goes to `[replies] transport`; false for the ticket queue.
    pub fn is_reply(&self) -> bool {
        matches!(
            self,
            Purpose::AutoReply { .. } | Purpose::Notification { .. }
        )
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SpoolError {
    #[error("no spooled message {0:?}")]
    NotFound(String),
    #[error("{0:?} is not a queue id")]
    BadId(String),
    #[error("{path}: {source}")]
    Io { path: String, source: io::Error },
    #[error("{0}: used by another running server (server.lock)")]
    Locked(String),
}

impl SpoolError {
    pub(crate) fn io(path: &Path, source: io::Error) -> SpoolError {
        SpoolError::Io {
            path: path.display().to_string(),
            source,
        }
    }
}

/// The spool as a command-line tool sees it: every segment read once per call.
#[derive(Debug, Clone)]
pub struct Spool {
    root: PathBuf,
}

impl Spool {
    pub fn new(root: impl Into<PathBuf>) -> Spool {
        Spool { root: root.into() }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    fn checked(id: &str) -> Result<(), SpoolError> {
        let valid = !id.is_empty()
            && id.len() <= 64
            && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
        if valid {
            Ok(())
        } else {
            Err(SpoolError::BadId(id.to_string()))
        }
    }

    /// Reads every segment. A segment deleted meanwhile (delivered) is skipped; a torn tail
    /// (the running server's segment being written, or a crash) ends that segment's listing.
    fn index(&self) -> Result<index::Index, SpoolError> {
        let folder = self.root.join(segment::SEGMENTS);
        let mut index = index::Index::default();
        for name in segment::list(&self.root).map_err(|e| SpoolError::io(&folder, e))? {
            let path = segment::path_of(&self.root, &name);
            segment::load(&self.root, &name, &mut index).map_err(|e| SpoolError::io(&path, e))?;
        }
        Ok(index)
    }

    /// Every waiting entry, oldest id first.
    pub fn list(&self) -> Result<Vec<SpoolEntry>, SpoolError> {
        let index = self.index()?;
        let mut entries: Vec<SpoolEntry> = index.waiting().map(|(_, s)| s.entry.clone()).collect();
        entries.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(entries)
    }

    /// The waiting entry `id` and its bytes.
    pub fn read(&self, id: &str) -> Result<(SpoolEntry, Vec<u8>), SpoolError> {
        Spool::checked(id)?;
        let index = self.index()?;
        let (key, stored) = index
            .live(id)
            .ok_or_else(|| SpoolError::NotFound(id.to_string()))?;
        let bytes =
            segment::read_bytes(&self.root, &key.segment, stored.at).map_err(|e| {
                match e.kind() {
                    io::ErrorKind::NotFound => SpoolError::NotFound(id.to_string()),
                    _ => SpoolError::io(&segment::path_of(&self.root, &key.segment), e),
                }
            })?;
        Ok((stored.entry.clone(), bytes))
    }

    /// The waiting entry `id`.
    pub fn entry(&self, id: &str) -> Result<SpoolEntry, SpoolError> {
        Spool::checked(id)?;
        let index = self.index()?;
        index
            .live(id)
            .map(|(_, stored)| stored.entry.clone())
            .ok_or_else(|| SpoolError::NotFound(id.to_string()))
    }

    /// Writes a new message in a segment of its own (fsync'd); the running server adopts it
    /// (at SIGUSR1 or within [`crate::act::spool_runner::ADOPT_EVERY`]), else the next start.
    pub fn store(&self, entry: &SpoolEntry, message: &[u8]) -> Result<(), SpoolError> {
        Spool::checked(&entry.id)?;
        let mut batch = Vec::new();
        record::encode_message(&mut batch, entry, message);
        self.write_segment(&batch)
    }

    /// Removes waiting message `id` for good: a segment with its `done` marker (fsync'd), which
    /// the running server adopts like a release.
    pub fn remove(&self, id: &str) -> Result<(), SpoolError> {
        Spool::checked(id)?;
        let index = self.index()?;
        let (key, _) = index
            .live(id)
            .ok_or_else(|| SpoolError::NotFound(id.to_string()))?;
        let mut batch = Vec::new();
        record::encode_done(&mut batch, key);
        self.write_segment(&batch)
    }

    fn write_segment(&self, batch: &[u8]) -> Result<(), SpoolError> {
        segment::create_folders(&self.root).map_err(|e| SpoolError::io(&self.root, e))?;
        segment::write_whole(&self.root, batch)
            .map(|_| ())
            .map_err(|e| SpoolError::io(&self.root.join(segment::SEGMENTS), e))
    }
}

#[cfg(test)]
pub(crate) mod tests;
