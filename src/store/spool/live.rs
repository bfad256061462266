//! The running server's spool: read once at start, then kept in memory ([`Index`]) and written
//! by one thread with group commit.
//!
//! Sessions hand their message to the writer thread over a channel and wait for a oneshot;
//! the thread takes everything that queued up meanwhile, appends it to its segment in one
//! write, fsyncs once, and only then answers every session of the batch (whose `250` follows)
//! and tells the delivery side ([`Arrival`]). `done` and retry-state markers ride along in the
//! next batch without an fsync of their own ([`super::turns`]): a crash before they reach
//! the disk re-delivers.
//!
//! `<spool>/server.lock` is held (flock) for the life of the server: one server per spool.
//! Segments written by command-line tools are adopted when [`LiveSpool::adopt`] is asked
//! (SIGUSR1, and every few seconds).

use super::index::{Index, Location, Stored};
use super::record::{MessageKey, RetryState};
use super::turns::Deferred;
use super::writer::{Arrival, Request, Writer, WriterStats};
use super::{legacy, segment};
use super::{SpoolEntry, SpoolError};
use crate::locking::lock;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use tokio::sync::oneshot;

pub struct LiveSpool {
    root: PathBuf,
    index: Arc<Mutex<Index>>,
    requests: Mutex<mpsc::Sender<Request>>,
    /// `done` and retry-state markers for the writer's next turn.
    deferred: Arc<Deferred>,
    arrivals: Mutex<Option<tokio::sync::mpsc::UnboundedReceiver<Arrival>>>,
    stats: Arc<WriterStats>,
    _lock: File,
}

impl std::fmt::Debug for LiveSpool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "LiveSpool({})", self.root.display())
    }
}

impl LiveSpool {
    /// Takes the server lock, reads every segment (torn tails logged and skipped), deletes
    /// what is dead and starts the writer thread. Blocking.
    pub fn open(root: &Path) -> Result<LiveSpool, SpoolError> {
        let io = |e| SpoolError::io(root, e);
        segment::create_folders(root).map_err(io)?;
        let lock_file = File::create(root.join("server.lock")).map_err(io)?;
        lock_file
            .try_lock()
            .map_err(|_| SpoolError::Locked(root.display().to_string()))?;
        // Left by a command-line tool that died before its rename: never acknowledged.
        if let Ok(tmp) = std::fs::read_dir(root.join(segment::TMP)) {
            for file in tmp.filter_map(Result::ok) {
                let _ = std::fs::remove_file(file.path());
            }
        }
        legacy::migrate(root).map_err(io)?;
        let mut index = Index::default();
        for name in segment::list(root).map_err(io)? {
            match segment::load(root, &name, &mut index).map_err(io)? {
                Some(loaded) => {
                    if let Some((at, damage)) = loaded.damage {
                        tracing::warn!(segment = %name, offset = at, %damage, "spool: damaged tail in a segment (a write cut short by a crash); what follows is not delivered");
                    }
                }
                None => continue,
            }
        }
        let (arrived, arrivals) = tokio::sync::mpsc::unbounded_channel();
        let (requests, incoming) = mpsc::channel();
        let index = Arc::new(Mutex::new(index));
        let stats = Arc::new(WriterStats::default());
        let mut writer = Writer::new(root, Arc::clone(&index), arrived, Arc::clone(&stats));
        writer.delete_dead();
        let deferred = Arc::new(Deferred::default());
        let writer_deferred = Arc::clone(&deferred);
        std::thread::Builder::new()
            .name("spool-writer".into())
            .spawn(move || writer.run(incoming, writer_deferred))
            .map_err(io)?;
        Ok(LiveSpool {
            root: root.to_path_buf(),
            index,
            requests: Mutex::new(requests),
            deferred,
            arrivals: Mutex::new(Some(arrivals)),
            stats,
            _lock: lock_file,
        })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// What the writer thread has made durable so far, and the time it took.
    pub fn writer_stats(&self) -> &WriterStats {
        &self.stats
    }

    fn send(&self, request: Request) -> bool {
        lock(&self.requests).send(request).is_ok()
    }

    /// A marker for the writer's next turn (it wakes the writer only if it sleeps).
    fn defer(&self, request: Request) {
        self.deferred.push(request, || {
            self.send(Request::Wake);
        });
    }

    /// Stores a message; resolves once the batch that holds it is fsync'd.
    pub async fn store(&self, entry: SpoolEntry, bytes: Vec<u8>) -> Result<(), String> {
        let (stored, done) = oneshot::channel();
        if !self.send(Request::Store {
            entry: Box::new(entry),
            bytes,
            stored,
        }) {
            return Err("the spool writer has stopped".into());
        }
        done.await
            .unwrap_or_else(|_| Err("the spool writer has stopped".into()))
    }

    /// The messages stored from now on, for the delivery side (once: the first caller).
    pub fn take_arrivals(&self) -> Option<tokio::sync::mpsc::UnboundedReceiver<Arrival>> {
        lock(&self.arrivals).take()
    }

    /// The waiting message `id`: its key and what is stored.
    pub fn waiting(&self, id: &str) -> Option<(MessageKey, Stored)> {
        lock(&self.index)
            .live(id)
            .map(|(key, stored)| (key.clone(), stored.clone()))
    }

    /// Every waiting message's entry.
    pub fn waiting_entries(&self) -> Vec<SpoolEntry> {
        let index = lock(&self.index);
        let mut entries: Vec<SpoolEntry> = index.waiting().map(|(_, s)| s.entry.clone()).collect();
        entries.sort_by(|a, b| a.id.cmp(&b.id));
        entries
    }

    /// How many wait, and the oldest one's receipt time (Unix seconds).
    pub fn backlog(&self) -> (usize, Option<u64>) {
        let index = lock(&self.index);
        let oldest = index.waiting().map(|(_, s)| s.entry.received_at).min();
        (index.waiting_count(), oldest)
    }

    /// A message's bytes (blocking).
    pub fn read_bytes(&self, key: &MessageKey, at: Location) -> Result<Vec<u8>, SpoolError> {
        segment::read_bytes(&self.root, &key.segment, at)
            .map_err(|e| SpoolError::io(&segment::path_of(&self.root, &key.segment), e))
    }

    /// Delivered, given up, quarantined: never again (marker written without an fsync, in
    /// the writer's next turn).
    pub fn mark_done(&self, key: &MessageKey) {
        let moved = lock(&self.index).mark_done(key);
        self.defer(Request::Done(key.clone()));
        if let Some(moved) = moved {
            self.defer(Request::Done(moved));
        }
    }

    /// A failed attempt and the next one (marker written without an fsync, in the writer's
    /// next turn).
    pub fn record_attempt(&self, state: RetryState) {
        lock(&self.index).apply_state(&state);
        self.defer(Request::State(state));
    }

    /// Reads the segments a command-line tool wrote since the last look.
    pub fn adopt(&self) {
        self.send(Request::Adopt);
    }

    /// Returns once everything asked so far is written and fsync'd (at shutdown).
    pub async fn sync(&self) {
        let (synced, done) = oneshot::channel();
        if self.send(Request::Sync(synced)) {
            let _ = done.await;
        }
    }
}
