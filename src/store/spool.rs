//! The spool: everything the gateway has promised to deliver and not delivered yet — accepted
//! mail for the ticket queue (with `[spool]` on), auto-replies and owner/admin notifications,
//! and messages released from the quarantine. [`Purpose`] says which, and so which target.
//!
//! One file per message, `<root>/queue/<ID>`: a line of JSON ([`SpoolEntry`]: envelope,
//! decision, attempts, next attempt, last upstream answer), then the forwarded bytes. A file is
//! written under `tmp/`, fsync'd, renamed into `queue/` and the directory fsync'd: it appears
//! whole or not at all. Once delivered it is renamed into `delivered/` *before* it is removed,
//! so that a crash after the upstream's 250 re-delivers it only in that short window.

use super::quarantine::DecisionRecord;
use serde::{Deserialize, Serialize};
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufRead, BufReader, Read, Write};
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
    #[error("{path}: damaged spool file: {message}")]
    Damaged { path: String, message: String },
}

impl SpoolError {
    fn io(path: &Path, source: io::Error) -> SpoolError {
        match source.kind() {
            io::ErrorKind::NotFound => SpoolError::NotFound(file_name(path)),
            _ => SpoolError::Io {
                path: path.display().to_string(),
                source,
            },
        }
    }
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

#[derive(Debug, Clone)]
pub struct Spool {
    root: PathBuf,
    queue_sync: std::sync::Arc<GroupSync>,
}

/// Group commit of `queue/`'s directory entry: one directory fsync covers every rename that
/// finished before it began, so concurrent sessions share it instead of each paying for one.
#[derive(Debug, Default)]
struct GroupSync {
    /// How many renames have finished.
    renamed: std::sync::atomic::AtomicU64,
    /// How many renames the last successful fsync covered.
    synced: std::sync::Mutex<u64>,
}

impl GroupSync {
    /// Call after a rename (or unlink) in `dir`; returns once that change is durable.
    fn after_change(&self, dir: &Path) -> io::Result<()> {
        use std::sync::atomic::Ordering::SeqCst;
        let mine = self.renamed.fetch_add(1, SeqCst) + 1;
        let mut synced = match self.synced.lock() {
            Ok(synced) => synced,
            Err(poisoned) => poisoned.into_inner(),
        };
        if *synced >= mine {
            return Ok(());
        }
        // Every change counted so far finished before this fsync starts.
        let covered = self.renamed.load(SeqCst);
        super::fsync_dir(dir)?;
        *synced = covered;
        Ok(())
    }
}

impl Spool {
    pub fn new(root: impl Into<PathBuf>) -> Spool {
        Spool {
            root: root.into(),
            queue_sync: std::sync::Arc::default(),
        }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    fn dir(&self, name: &str) -> PathBuf {
        self.root.join(name)
    }

    fn checked(&self, dir: &str, id: &str) -> Result<PathBuf, SpoolError> {
        let valid = !id.is_empty()
            && id.len() <= 64
            && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
        if !valid {
            return Err(SpoolError::BadId(id.to_string()));
        }
        Ok(self.dir(dir).join(id))
    }

    /// Creates `tmp/`, `queue/` and `delivered/` if missing.
    pub fn create(&self) -> Result<(), SpoolError> {
        for name in ["tmp", "queue", "delivered"] {
            let dir = self.dir(name);
            fs::create_dir_all(&dir).map_err(|e| SpoolError::io(&dir, e))?;
        }
        Ok(())
    }

    /// Writes a new entry (or replaces one); returns once it is on disk. On failure nothing is
    /// left behind.
    pub fn store(&self, entry: &SpoolEntry, message: &[u8]) -> Result<(), SpoolError> {
        let tmp = self.checked("tmp", &entry.id)?;
        let target = self.checked("queue", &entry.id)?;
        let result = (|| {
            let mut header = serde_json::to_vec(entry).map_err(io::Error::other)?;
            header.push(b'\n');
            let mut file = OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(true)
                .open(&tmp)?;
            file.write_all(&header)?;
            file.write_all(message)?;
            file.sync_all()?;
            fs::rename(&tmp, &target)?;
            self.queue_sync.after_change(&self.dir("queue"))
        })();
        if let Err(e) = result {
            let _ = fs::remove_file(&tmp);
            return Err(SpoolError::Io {
                path: target.display().to_string(),
                source: e,
            });
        }
        Ok(())
    }

    /// The entry and the message bytes.
    pub fn read(&self, id: &str) -> Result<(SpoolEntry, Vec<u8>), SpoolError> {
        let path = self.checked("queue", id)?;
        let file = File::open(&path).map_err(|e| SpoolError::io(&path, e))?;
        let mut reader = BufReader::new(file);
        let entry = read_header(&path, &mut reader)?;
        let mut message = Vec::new();
        reader
            .read_to_end(&mut message)
            .map_err(|e| SpoolError::io(&path, e))?;
        Ok((entry, message))
    }

    /// The entry alone (the JSON line).
    pub fn entry(&self, id: &str) -> Result<SpoolEntry, SpoolError> {
        let path = self.checked("queue", id)?;
        let file = File::open(&path).map_err(|e| SpoolError::io(&path, e))?;
        read_header(&path, &mut BufReader::new(file))
    }

    /// Every queued entry, oldest id first. Damaged files are returned as errors.
    pub fn list(&self) -> Result<Vec<Result<SpoolEntry, SpoolError>>, SpoolError> {
        Ok(self.ids("queue")?.iter().map(|id| self.entry(id)).collect())
    }

    fn ids(&self, dir: &str) -> Result<Vec<String>, SpoolError> {
        let path = self.dir(dir);
        let entries = match fs::read_dir(&path) {
            Ok(entries) => entries,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(SpoolError::io(&path, e)),
        };
        let mut ids: Vec<String> = entries
            .filter_map(Result::ok)
            .filter_map(|e| e.file_name().into_string().ok())
            .filter(|name| !name.starts_with('.'))
            .collect();
        ids.sort();
        Ok(ids)
    }

    /// Rewrites an entry's attempts, next attempt and last answer (the bytes stay).
    pub fn update(&self, entry: &SpoolEntry) -> Result<(), SpoolError> {
        let (_, message) = self.read(&entry.id)?;
        self.store(entry, &message)
    }

    /// The upstream took it: moved out of `queue/` (durably) before it is removed, so that a
    /// restart does not deliver it again.
    pub fn mark_delivered(&self, id: &str) -> Result<(), SpoolError> {
        let from = self.checked("queue", id)?;
        let to = self.checked("delivered", id)?;
        fs::rename(&from, &to).map_err(|e| SpoolError::io(&from, e))?;
        let queue = self.dir("queue");
        self.queue_sync
            .after_change(&queue)
            .map_err(|e| SpoolError::io(&queue, e))?;
        fs::remove_file(&to).map_err(|e| SpoolError::io(&to, e))
    }

    /// Removes a queued entry (delivered elsewhere, quarantined, or deleted by an operator).
    pub fn remove(&self, id: &str) -> Result<(), SpoolError> {
        let path = self.checked("queue", id)?;
        fs::remove_file(&path).map_err(|e| SpoolError::io(&path, e))?;
        let queue = self.dir("queue");
        self.queue_sync
            .after_change(&queue)
            .map_err(|e| SpoolError::io(&queue, e))
    }

    /// At start: half-written files in `tmp/` and delivered ones in `delivered/` are removed.
    /// Returns how many were removed from `tmp/`.
    pub fn recover(&self) -> Result<usize, SpoolError> {
        self.create()?;
        let mut partial = 0;
        for (dir, count) in [("tmp", true), ("delivered", false)] {
            for id in self.ids(dir)? {
                let path = self.dir(dir).join(&id);
                fs::remove_file(&path).map_err(|e| SpoolError::io(&path, e))?;
                partial += usize::from(count);
            }
        }
        Ok(partial)
    }
}

fn read_header(path: &Path, reader: &mut impl BufRead) -> Result<SpoolEntry, SpoolError> {
    let mut line = Vec::new();
    reader
        .read_until(b'\n', &mut line)
        .map_err(|e| SpoolError::io(path, e))?;
    serde_json::from_slice(&line).map_err(|e| SpoolError::Damaged {
        path: path.display().to_string(),
        message: e.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(id: &str) -> SpoolEntry {
        SpoolEntry {
            id: id.into(),
            received_at: 100,
            mail_from: Some("ann@acme.example".into()),
            recipients: vec!["support@vendor.example".into()],
            peer: None,
            helo: None,
            subject: Some("Hi".into()),
            message_id: None,
            sender: Some("ann@acme.example".into()),
            decision: DecisionRecord {
                verdict: "accept".into(),
                reason: "registered-agent".into(),
                account: Some("acme".into()),
                agent: None,
                role: None,
                action: "forward".into(),
                category: None,
                reply: "none".into(),
            },
            attempts: 0,
            next_attempt: 100,
            last_answer: None,
            purpose: Purpose::Ticket,
        }
    }

    #[test]
    fn store_read_update_deliver_remove() {
        let dir = tempfile::tempdir().unwrap();
        let spool = Spool::new(dir.path());
        spool.create().unwrap();
        let message = b"Subject: Hi\r\n\r\nline\n{\"json\": 1}\r\n";
        spool.store(&entry("A1"), message).unwrap();
        spool.store(&entry("B2"), b"x").unwrap();
        assert_eq!(spool.read("A1").unwrap(), (entry("A1"), message.to_vec()));
        let mut later = entry("A1");
        later.attempts = 1;
        later.last_answer = Some("451 4.3.0 try later".into());
        spool.update(&later).unwrap();
        assert_eq!(spool.read("A1").unwrap(), (later, message.to_vec()));
        spool.mark_delivered("A1").unwrap();
        spool.remove("B2").unwrap();
        assert!(spool.list().unwrap().is_empty());
        assert!(matches!(spool.read("A1"), Err(SpoolError::NotFound(_))));
        assert!(matches!(spool.read("../x"), Err(SpoolError::BadId(_))));
    }

    #[test]
    fn recover_removes_partial_and_delivered_files_only() {
        let dir = tempfile::tempdir().unwrap();
        let spool = Spool::new(dir.path());
        spool.create().unwrap();
        spool.store(&entry("A1"), b"x").unwrap();
        fs::write(dir.path().join("tmp/B2"), b"half").unwrap();
        fs::write(dir.path().join("delivered/C3"), b"done").unwrap();
        assert_eq!(spool.recover().unwrap(), 1);
        let ids: Vec<_> = spool
            .list()
            .unwrap()
            .into_iter()
            .map(|e| e.unwrap().id)
            .collect();
        assert_eq!(ids, ["A1"]);
        assert!(spool.ids("delivered").unwrap().is_empty());
    }

    #[test]
    fn concurrent_stores_share_directory_syncs_and_all_land() {
        let dir = tempfile::tempdir().unwrap();
        let spool = Spool::new(dir.path());
        spool.create().unwrap();
        let threads: Vec<_> = (0..8)
            .map(|t| {
                let spool = spool.clone();
                std::thread::spawn(move || {
                    for n in 0..10 {
                        spool
                            .store(&entry(&format!("T{t}N{n}")), b"Subject: x\r\n\r\ny\r\n")
                            .unwrap();
                    }
                })
            })
            .collect();
        for thread in threads {
            thread.join().unwrap();
        }
        assert_eq!(spool.list().unwrap().len(), 80);
        let synced = *spool.queue_sync.synced.lock().unwrap();
        assert!((1..=80).contains(&synced), "{synced}");
    }
}
