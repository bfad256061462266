//! The sender history's redb tables read whole and written in batches: what the in-memory
//! window ([`super::window`]) needs from its file.

use super::sender_history::{
    count_arrival, err, uncount_arrival, RedbSenderHistory, ARRIVALS, BLOCKS, MESSAGE_IDS,
};
use crate::store::state_error::StateError;
use redb::{Durability, ReadableTable};

/// One change to the history, as the window queues it for the file.
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

impl RedbSenderHistory {
    /// Reads the whole file.
    pub fn snapshot(&self) -> Result<HistorySnapshot, StateError> {
        let read = self.tables.db.begin_read().map_err(err)?;
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

    /// Applies `changes` in order, in one durable transaction (blocking: call it off the
    /// runtime threads).
    pub fn apply(&self, changes: &[HistoryChange]) -> Result<(), StateError> {
        let txn = self.tables.write(Durability::Immediate)?;
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
                        count_arrival(&mut arrivals, sender, *at)?;
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
                        uncount_arrival(&mut arrivals, sender, *at)?;
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
