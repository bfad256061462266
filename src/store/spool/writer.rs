//! The spool's writer thread: the only one that appends to the running server's segment.
//! Each turn it takes every request that queued up while it was busy (group commit) and the
//! markers deferred meanwhile ([`super::turns`]), writes them in one `write`, fsyncs once if
//! a message is among them, then answers; afterwards it deletes the segments nothing needs
//! any more.

use super::index::{Index, Location};
use super::record::{self, MessageKey, RetryState};
use super::segment::{self, Appender};
use super::turns::Deferred;
use super::SpoolEntry;
use crate::locking::lock;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use tokio::sync::oneshot;

/// A segment is closed once it is this large; the next batch starts a new one.
pub const SEGMENT_SIZE: u64 = 64 * 1024 * 1024;

/// A message the delivery side has not seen yet, and when it is due (Unix seconds).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Arrival {
    pub id: String,
    pub due: u64,
    /// The bytes just made durable, for a new message: its first attempt needs no read of
    /// the segment (`None` for a segment read from disk).
    pub bytes: Option<Vec<u8>>,
}

pub(super) enum Request {
    Store {
        entry: Box<SpoolEntry>,
        bytes: Vec<u8>,
        stored: oneshot::Sender<Result<(), String>>,
    },
    Done(MessageKey),
    State(RetryState),
    Adopt,
    Sync(oneshot::Sender<()>),
    /// Nothing but the deferred markers ([`Deferred`]): the writer was asleep.
    Wake,
}

/// What the writer has done so far, for `/metrics` (read at scrape time): how many batches
/// it made durable, the time their write and fdatasync took, and how many messages they
/// carried (messages per sync: how well group commit works; seconds per sync: the disk).
#[derive(Debug, Default)]
pub struct WriterStats {
    syncs: AtomicU64,
    sync_micros: AtomicU64,
    stored: AtomicU64,
}

impl WriterStats {
    /// Batches written and fdatasync'd.
    pub fn syncs(&self) -> u64 {
        self.syncs.load(Ordering::Relaxed)
    }

    /// Time spent writing and fdatasyncing them.
    pub fn sync_seconds(&self) -> f64 {
        self.sync_micros.load(Ordering::Relaxed) as f64 / 1e6
    }

    /// Messages they made durable (each answered its session afterwards).
    pub fn stored(&self) -> u64 {
        self.stored.load(Ordering::Relaxed)
    }
}

/// The writer thread's state.
pub(super) struct Writer {
    root: PathBuf,
    index: Arc<Mutex<Index>>,
    current: Option<Appender>,
    arrived: tokio::sync::mpsc::UnboundedSender<Arrival>,
    stats: Arc<WriterStats>,
    /// The batch being encoded; its allocation is kept from one batch to the next (up to
    /// [`KEPT_BATCH_CAPACITY`]).
    batch: Vec<u8>,
}

/// The largest batch allocation kept for the next batch.
const KEPT_BATCH_CAPACITY: usize = 4 << 20;

/// A message of the batch being written: its entry, where its bytes start in the batch, and
/// who waits for it.
struct Pending {
    entry: SpoolEntry,
    bytes_at: usize,
    len: usize,
    /// A new message's bytes, handed on to the delivery side once durable.
    bytes: Option<Vec<u8>>,
    stored: Option<oneshot::Sender<Result<(), String>>>,
    /// The copy this one replaces (moved out of a mostly-done segment).
    moved_from: Option<MessageKey>,
}

impl Writer {
    pub(super) fn new(
        root: &Path,
        index: Arc<Mutex<Index>>,
        arrived: tokio::sync::mpsc::UnboundedSender<Arrival>,
        stats: Arc<WriterStats>,
    ) -> Writer {
        Writer {
            root: root.to_path_buf(),
            index,
            current: None,
            arrived,
            stats,
            batch: Vec::new(),
        }
    }

    pub(super) fn run(mut self, incoming: mpsc::Receiver<Request>, deferred: Arc<Deferred>) {
        while let Some(batch) = deferred.next_turn(&incoming) {
            self.write_batch(batch);
        }
    }

    fn has_segment(&self, name: &str) -> bool {
        lock(&self.index).has_segment(name)
    }

    fn write_batch(&mut self, requests: Vec<Request>) {
        let mut buffer = std::mem::take(&mut self.batch);
        buffer.clear();
        let mut pending = Vec::new();
        let mut markers = Vec::new();
        let mut synced = Vec::new();
        let mut adopt = false;
        {
            for request in requests {
                match request {
                    Request::Store {
                        entry,
                        bytes,
                        stored,
                    } => {
                        let bytes_at = record::encode_message(&mut buffer, &entry, &bytes);
                        pending.push(Pending {
                            entry: *entry,
                            bytes_at,
                            len: bytes.len(),
                            bytes: Some(bytes),
                            stored: Some(stored),
                            moved_from: None,
                        });
                    }
                    // About a segment already deleted: nothing to say any more.
                    Request::Done(key) if self.has_segment(&key.segment) => {
                        record::encode_done(&mut buffer, &key);
                        markers.push(key);
                    }
                    Request::State(state) if self.has_segment(&state.key.segment) => {
                        record::encode_state(&mut buffer, &state);
                    }
                    Request::Done(_) | Request::State(_) | Request::Wake => {}
                    Request::Adopt => adopt = true,
                    Request::Sync(done) => synced.push(done),
                }
            }
        }
        let durable = !pending.is_empty() || !synced.is_empty();
        if !buffer.is_empty() {
            self.append(&buffer, durable, pending, &markers);
        }
        if buffer.capacity() <= KEPT_BATCH_CAPACITY {
            self.batch = buffer;
        }
        if adopt {
            self.adopt();
        }
        self.delete_dead();
        for done in synced {
            let _ = done.send(());
        }
    }

    fn append(
        &mut self,
        buffer: &[u8],
        durable: bool,
        pending: Vec<Pending>,
        markers: &[MessageKey],
    ) {
        let failed = |pending: Vec<Pending>, why: String| {
            for mut message in pending {
                if let Some(stored) = message.stored.take() {
                    let _ = stored.send(Err(why.clone()));
                }
            }
        };
        if self.current.is_none() {
            match Appender::create(&self.root) {
                Ok(appender) => {
                    lock(&self.index).add_segment(&appender.name, appender.size);
                    self.current = Some(appender);
                }
                Err(e) => {
                    tracing::error!(error = %e, "spool: no new segment");
                    return failed(pending, format!("{}: {e}", self.root.display()));
                }
            }
        }
        let Some(current) = self.current.as_mut() else {
            return;
        };
        let start = current.size;
        let began = std::time::Instant::now();
        let appended = current.append(buffer, durable);
        if durable && appended.is_ok() {
            let micros = u64::try_from(began.elapsed().as_micros()).unwrap_or(u64::MAX);
            self.stats.syncs.fetch_add(1, Ordering::Relaxed);
            self.stats.sync_micros.fetch_add(micros, Ordering::Relaxed);
        }
        if let Err((e, usable)) = appended {
            let name = current.name.clone();
            if !usable {
                tracing::error!(segment = %name, error = %e, "spool: segment abandoned after a failed write");
                self.current = None;
            }
            return failed(
                pending,
                format!("{}: {e}", segment::path_of(&self.root, &name).display()),
            );
        }
        let (name, size) = (current.name.clone(), current.size);
        let mut answered = Vec::with_capacity(pending.len());
        {
            let mut index = lock(&self.index);
            index.grow_segment(&name, size);
            // A moved message delivered while it was being copied stays done.
            let delivered_meanwhile: Vec<bool> = pending
                .iter()
                .map(|m| m.moved_from.as_ref().is_some_and(|old| index.is_done(old)))
                .collect();
            for key in markers {
                index.apply_done(&name, key);
            }
            for (message, delivered) in pending.into_iter().zip(delivered_meanwhile) {
                let key = MessageKey {
                    segment: name.clone(),
                    id: message.entry.id.clone(),
                };
                let at = Location {
                    offset: start + message.bytes_at as u64,
                    len: message.len as u64,
                };
                let due = message.entry.next_attempt;
                // The entry moves into the index (no copy of it per message).
                index.insert_message(key.clone(), message.entry, at);
                if let Some(old) = message.moved_from {
                    index.note_move(old, key.clone());
                }
                if delivered {
                    index.mark_done(&key);
                }
                if let Some(stored) = message.stored {
                    answered.push((
                        Arrival {
                            id: key.id,
                            due,
                            bytes: message.bytes,
                        },
                        stored,
                    ));
                }
            }
        }
        self.stats
            .stored
            .fetch_add(answered.len() as u64, Ordering::Relaxed);
        // Told once the index holds them (a delivery that starts at once finds its message).
        for (arrival, stored) in answered {
            let _ = self.arrived.send(arrival);
            let _ = stored.send(Ok(()));
        }
        if size >= SEGMENT_SIZE {
            self.current = None;
            self.move_stragglers();
        }
    }

    /// After a segment is closed: the few messages still waiting in mostly-done segments are
    /// written again into the new one, so that those files can go.
    fn move_stragglers(&mut self) {
        let sparse = lock(&self.index).sparse_segments(None);
        for name in sparse {
            let waiting = lock(&self.index).waiting_in(&name);
            let mut moved = Vec::new();
            for (key, stored) in waiting {
                match segment::read_bytes(&self.root, &key.segment, stored.at) {
                    Ok(bytes) => moved.push((key, stored.entry, bytes)),
                    Err(e) => {
                        tracing::warn!(queue_id = %key.id, error = %e, "spool: message not moved")
                    }
                }
            }
            let mut buffer = Vec::new();
            let mut pending = Vec::new();
            for (key, entry, bytes) in &moved {
                let bytes_at = record::encode_message(&mut buffer, entry, bytes);
                record::encode_done(&mut buffer, key);
                pending.push(Pending {
                    entry: entry.clone(),
                    bytes_at,
                    len: bytes.len(),
                    bytes: None,
                    stored: None,
                    moved_from: Some(key.clone()),
                });
            }
            if pending.is_empty() {
                continue;
            }
            // The old copies are done once the new ones are durable (a crash in between
            // leaves two copies: the index keeps one).
            let keys: Vec<MessageKey> = moved.into_iter().map(|(key, _, _)| key).collect();
            self.append(&buffer, true, pending, &keys);
            tracing::info!(segment = %name, moved = keys.len(), "spool: waiting messages moved out of a mostly delivered segment");
        }
    }

    fn adopt(&mut self) {
        let names = match segment::list(&self.root) {
            Ok(names) => names,
            Err(e) => return tracing::warn!(error = %e, "spool: segments not listed"),
        };
        for name in names {
            let known = lock(&self.index).has_segment(&name);
            if known {
                continue;
            }
            let mut index = lock(&self.index);
            match segment::load(&self.root, &name, &mut index) {
                Ok(Some(loaded)) => {
                    if let Some((at, damage)) = loaded.damage {
                        tracing::warn!(segment = %name, offset = at, %damage, "spool: damaged segment from a command-line tool; what follows is not delivered");
                    }
                    for id in loaded.arrived {
                        let due = index.live(&id).map_or(0, |(_, s)| s.entry.next_attempt);
                        let _ = self.arrived.send(Arrival {
                            id,
                            due,
                            bytes: None,
                        });
                    }
                }
                Ok(None) => {}
                Err(e) => {
                    tracing::warn!(segment = %name, error = %e, "spool: segment not readable")
                }
            }
        }
    }

    /// Deletes every segment that holds nothing needed, and empties the current one in place
    /// when it holds nothing needed (cut back to its magic, fsync'd, before the others go):
    /// a spool that empties after each message (one client, a fast upstream) would otherwise
    /// create, fsync and delete a segment file, and fsync its folder twice, for every
    /// message. Either way the space comes back (a full disk).
    pub(super) fn delete_dead(&mut self) {
        let mut index = lock(&self.index);
        let mut dead = index.dead_segments();
        if dead.is_empty() {
            return;
        }
        if let Some(current) = self.current.as_mut() {
            if let Some(at) = dead.iter().position(|name| name == &current.name) {
                let name = dead.remove(at);
                match current.empty_in_place() {
                    Ok(()) => {
                        index.remove_segment(&name);
                        index.add_segment(&name, current.size);
                    }
                    Err(e) => {
                        tracing::warn!(segment = %name, error = %e, "spool: segment not emptied in place; deleted");
                        self.current = None;
                        dead.push(name);
                    }
                }
            }
        }
        if dead.is_empty() {
            return;
        }
        for name in &dead {
            if self.current.as_ref().is_some_and(|c| &c.name == name) {
                self.current = None;
            }
            match std::fs::remove_file(segment::path_of(&self.root, name)) {
                Ok(()) => index.remove_segment(name),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => index.remove_segment(name),
                Err(e) => tracing::warn!(segment = %name, error = %e, "spool: segment not deleted"),
            }
        }
        drop(index);
        let _ = crate::store::fsync_dir(&self.root.join(segment::SEGMENTS));
    }
}
