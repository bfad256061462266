//! The quarantine: refused mail kept for support staff (SPEC §4). One folder per message with
//! `message.eml` (the bytes as received), `record.json` (envelope, decision, why kept and,
//! once released, who released it) and, when an auto-reply was composed, `reply.eml`. A
//! folder appears whole or not at all: it is written under a temporary name, fsync'd, then
//! renamed.

use serde::{Deserialize, Serialize};
use std::fs::{self, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// The decision as kept on disk: stable codes as strings.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DecisionRecord {
    pub verdict: String,
    pub reason: String,
    pub account: Option<String>,
    pub agent: Option<String>,
    pub role: Option<String>,
    pub action: String,
    #[serde(default)]
    pub category: Option<String>,
    /// The auto-reply: `none`, `suppressed:<why>`, `queued` (in the spool), `sent` (the reply
    /// transport took it) or `failed: <last answer>`; updated as the spool delivers it.
    #[serde(default)]
    pub reply: String,
}

impl DecisionRecord {
    pub fn from_decision(decision: &crate::policy::Decision) -> DecisionRecord {
        use crate::policy::ReplyPlan;
        DecisionRecord {
            verdict: match decision.verdict {
                crate::policy::Verdict::Accept => "accept".into(),
                crate::policy::Verdict::Refuse => "refuse".into(),
            },
            reason: decision.reason.code().into(),
            account: decision.account.clone(),
            agent: decision.agent.clone(),
            role: decision.role.map(|r| r.as_str().into()),
            action: decision.action.as_str().into(),
            category: decision.category.clone(),
            reply: match &decision.reply {
                ReplyPlan::NotApplicable | ReplyPlan::Send { .. } => "none".into(),
                ReplyPlan::Suppressed(why) => format!("suppressed:{why}"),
            },
        }
    }
}

/// One `quarantine release`: who, when, and what became of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Release {
    pub by: String,
    /// Unix seconds.
    pub at: u64,
    /// `queued` (in the spool), `delivered`, `failed: <last answer>`, or `refused: already
    /// released by NAME` for a second attempt.
    #[serde(default)]
    pub outcome: String,
}

/// Everything kept beside a quarantined message (`Default`: nothing kept yet, for a preview).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuarantineRecord {
    pub id: String,
    /// Unix seconds.
    pub received_at: u64,
    pub peer: Option<String>,
    pub helo: Option<String>,
    /// The envelope sender; `""` for the null reverse-path.
    pub mail_from: String,
    pub recipients: Vec<String>,
    pub from_header: Option<String>,
    pub subject: Option<String>,
    pub message_id: Option<String>,
    pub size: u64,
    pub decision: DecisionRecord,
    /// Why it is here (e.g. the action, a suppressed reply, an upstream refusal).
    pub note: String,
    /// Our `Authentication-Results` value at reception (stamped again on release).
    #[serde(default)]
    pub authentication: Option<String>,
    /// The release that took effect.
    #[serde(default)]
    pub released: Option<Release>,
    /// Every release attempt, refused ones included, oldest first.
    #[serde(default)]
    pub release_attempts: Vec<Release>,
}

#[derive(Debug, thiserror::Error)]
pub enum QuarantineError {
    #[error("no quarantined message {0:?}")]
    NotFound(String),
    #[error("{0:?} is not a quarantine id")]
    BadId(String),
    #[error("{path}: {source}")]
    Io { path: String, source: io::Error },
    #[error("{path}: damaged record: {message}")]
    Damaged { path: String, message: String },
    #[error("{id} was already released by {by} at {at}")]
    AlreadyReleased { id: String, by: String, at: String },
}

#[derive(Debug, Clone)]
pub struct Quarantine {
    root: PathBuf,
}

fn io_error(path: &Path) -> impl FnOnce(io::Error) -> QuarantineError + '_ {
    move |source| QuarantineError::Io {
        path: path.display().to_string(),
        source,
    }
}

impl Quarantine {
    pub fn new(root: impl Into<PathBuf>) -> Quarantine {
        Quarantine { root: root.into() }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    fn folder(&self, id: &str) -> Result<PathBuf, QuarantineError> {
        let valid = !id.is_empty()
            && id.len() <= 64
            && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
        if !valid {
            return Err(QuarantineError::BadId(id.to_string()));
        }
        Ok(self.root.join(id))
    }

    /// Keeps a message; returns once it is on disk (fsync'd).
    pub fn store(
        &self,
        record: &QuarantineRecord,
        message: &[u8],
    ) -> Result<PathBuf, QuarantineError> {
        self.store_with_reply(record, message, None)
    }

    /// Keeps a message with the auto-reply composed for it (`reply.eml`, what support staff
    /// see as "the auto-reply that was sent").
    pub fn store_with_reply(
        &self,
        record: &QuarantineRecord,
        message: &[u8],
        reply: Option<&[u8]>,
    ) -> Result<PathBuf, QuarantineError> {
        let folder = self.folder(&record.id)?;
        let staging = self.root.join(format!(".tmp-{}", record.id));
        let result = (|| {
            fs::create_dir_all(&staging)?;
            write_synced(&staging.join("message.eml"), message)?;
            if let Some(reply) = reply {
                write_synced(&staging.join("reply.eml"), reply)?;
            }
            let json = serde_json::to_vec_pretty(record).map_err(io::Error::other)?;
            write_synced(&staging.join("record.json"), &json)?;
            super::fsync_dir(&staging)?;
            fs::rename(&staging, &folder)?;
            super::fsync_dir(&self.root)
        })();
        if result.is_err() {
            let _ = fs::remove_dir_all(&staging);
        }
        result.map_err(io_error(&folder))?;
        Ok(folder)
    }

    pub fn record(&self, id: &str) -> Result<QuarantineRecord, QuarantineError> {
        let path = self.folder(id)?.join("record.json");
        let bytes = fs::read(&path).map_err(|e| match e.kind() {
            io::ErrorKind::NotFound => QuarantineError::NotFound(id.to_string()),
            _ => QuarantineError::Io {
                path: path.display().to_string(),
                source: e,
            },
        })?;
        serde_json::from_slice(&bytes).map_err(|e| QuarantineError::Damaged {
            path: path.display().to_string(),
            message: e.to_string(),
        })
    }

    pub fn message(&self, id: &str) -> Result<Vec<u8>, QuarantineError> {
        let path = self.folder(id)?.join("message.eml");
        fs::read(&path).map_err(|e| match e.kind() {
            io::ErrorKind::NotFound => QuarantineError::NotFound(id.to_string()),
            _ => QuarantineError::Io {
                path: path.display().to_string(),
                source: e,
            },
        })
    }

    /// The auto-reply kept with message `id`, if one was composed for it.
    pub fn reply(&self, id: &str) -> Result<Option<Vec<u8>>, QuarantineError> {
        let path = self.folder(id)?.join("reply.eml");
        match fs::read(&path) {
            Ok(bytes) => Ok(Some(bytes)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io_error(&path)(e)),
        }
    }

    /// Every record, oldest first. Damaged records are returned as errors, not skipped.
    pub fn list(&self) -> Result<Vec<Result<QuarantineRecord, QuarantineError>>, QuarantineError> {
        let entries = match fs::read_dir(&self.root) {
            Ok(entries) => entries,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(io_error(&self.root)(e)),
        };
        let mut ids: Vec<String> = entries
            .filter_map(Result::ok)
            .filter(|e| e.path().is_dir())
            .filter_map(|e| e.file_name().into_string().ok())
            .filter(|name| !name.starts_with('.'))
            .collect();
        ids.sort();
        Ok(ids.iter().map(|id| self.record(id)).collect())
    }

    /// Changes a record in place: read, `change`, written back atomically (temporary file,
    /// fsync, rename), under an exclusive lock on the folder's `.lock` file so that the server
    /// and a `quarantine` command never lose each other's change. `change` may refuse.
    pub fn update<T>(
        &self,
        id: &str,
        change: impl FnOnce(&mut QuarantineRecord) -> Result<T, QuarantineError>,
    ) -> Result<T, QuarantineError> {
        let folder = self.folder(id)?;
        if !folder.is_dir() {
            return Err(QuarantineError::NotFound(id.to_string()));
        }
        let lock_path = folder.join(".lock");
        // Read-only once it exists: flock needs no write access, so the server and an operator
        // running the CLI as another user (root) share the lock whoever created it.
        let lock = fs::File::open(&lock_path)
            .or_else(|_| {
                OpenOptions::new()
                    .create(true)
                    .truncate(false)
                    .write(true)
                    .open(&lock_path)
            })
            .map_err(io_error(&lock_path))?;
        lock.lock().map_err(io_error(&lock_path))?;
        let mut record = self.record(id)?;
        let result = change(&mut record)?;
        let tmp = folder.join(".record.json.tmp");
        let json = serde_json::to_vec_pretty(&record).map_err(|e| QuarantineError::Damaged {
            path: tmp.display().to_string(),
            message: e.to_string(),
        })?;
        (|| {
            write_synced(&tmp, &json)?;
            fs::rename(&tmp, folder.join("record.json"))?;
            super::fsync_dir(&folder)
        })()
        .map_err(io_error(&folder))?;
        Ok(result)
    }

    /// The auto-reply's fate (`sent`, `failed: …`), as the spool learns it.
    pub fn set_reply(&self, id: &str, reply: &str) -> Result<(), QuarantineError> {
        self.update(id, |record| {
            record.decision.reply = reply.to_string();
            Ok(())
        })
    }

    /// At start: removes the `.tmp-ID` staging folders that a crash left half-written (a kept
    /// message is renamed into place only once whole). Returns how many were removed.
    pub fn remove_staging(&self) -> Result<usize, QuarantineError> {
        let entries = match fs::read_dir(&self.root) {
            Ok(entries) => entries,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(0),
            Err(e) => return Err(io_error(&self.root)(e)),
        };
        let mut removed = 0;
        for entry in entries.filter_map(Result::ok) {
            let staging = entry.file_name().to_string_lossy().starts_with(".tmp-");
            if staging && entry.path().is_dir() {
                fs::remove_dir_all(entry.path()).map_err(io_error(&entry.path()))?;
                removed += 1;
            }
        }
        Ok(removed)
    }

    pub fn delete(&self, id: &str) -> Result<(), QuarantineError> {
        let folder = self.folder(id)?;
        if !folder.is_dir() {
            return Err(QuarantineError::NotFound(id.to_string()));
        }
        fs::remove_dir_all(&folder).map_err(io_error(&folder))?;
        super::fsync_dir(&self.root).map_err(io_error(&self.root))
    }

    /// Number of messages kept (for metrics).
    pub fn count(&self) -> usize {
        fs::read_dir(&self.root).map_or(0, |entries| {
            entries
                .filter_map(Result::ok)
                .filter(|e| !e.file_name().to_string_lossy().starts_with('.'))
                .count()
        })
    }
}

fn write_synced(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let mut file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .open(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}

/// A record for tests (of this module and of the ones that store records).
#[cfg(test)]
pub(crate) fn sample_record(id: &str) -> QuarantineRecord {
    QuarantineRecord {
        id: id.into(),
        received_at: 100,
        peer: Some("127.0.0.1:4000".into()),
        helo: Some("client.example".into()),
        mail_from: "bob@else.example".into(),
        recipients: vec!["support@vendor.example".into()],
        from_header: Some("bob@else.example".into()),
        subject: Some("Hi".into()),
        message_id: None,
        size: 10,
        decision: DecisionRecord {
            verdict: "refuse".into(),
            reason: "unknown-sender".into(),
            account: None,
            agent: None,
            role: None,
            action: "reply".into(),
            category: None,
            reply: "sent".into(),
        },
        note: "auto-reply sent".into(),
        authentication: None,
        released: None,
        release_attempts: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use super::sample_record as record;

    #[test]
    fn store_list_release_delete() {
        let dir = tempfile::tempdir().unwrap();
        let q = Quarantine::new(dir.path());
        q.store(&record("A1"), b"Subject: Hi\r\n\r\nx\r\n").unwrap();
        q.store_with_reply(
            &record("B2"),
            b"Subject: Ho\r\n\r\ny\r\n",
            Some(b"Subject: Auto: Ho\r\n"),
        )
        .unwrap();
        assert_eq!(q.reply("A1").unwrap(), None);
        assert_eq!(q.reply("B2").unwrap().unwrap(), b"Subject: Auto: Ho\r\n");
        let listed: Vec<_> = q
            .list()
            .unwrap()
            .into_iter()
            .map(|r| r.unwrap().id)
            .collect();
        assert_eq!(listed, ["A1", "B2"]);
        assert_eq!(q.message("A1").unwrap(), b"Subject: Hi\r\n\r\nx\r\n");
        q.set_reply("A1", "failed: 550 no such user").unwrap();
        assert_eq!(
            q.record("A1").unwrap().decision.reply,
            "failed: 550 no such user"
        );
        let refused = q.update("A1", |_| -> Result<(), _> {
            Err(QuarantineError::NotFound("x".into()))
        });
        assert!(refused.is_err());
        assert!(matches!(
            q.set_reply("C3", "sent"),
            Err(QuarantineError::NotFound(_))
        ));
        fs::create_dir_all(dir.path().join(".tmp-C3")).unwrap();
        fs::write(dir.path().join(".tmp-C3/message.eml"), b"half").unwrap();
        assert_eq!(q.remove_staging().unwrap(), 1);
        assert!(!dir.path().join(".tmp-C3").exists());
        assert_eq!(q.count(), 2);
        q.delete("B2").unwrap();
        assert!(matches!(q.record("B2"), Err(QuarantineError::NotFound(_))));
        assert!(matches!(q.record("../etc"), Err(QuarantineError::BadId(_))));
        assert_eq!(q.count(), 1);
    }
}
