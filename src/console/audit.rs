//! The audit log: one JSON object per line, appended and fsync'd, never rewritten — who did
//! what, when (sign-ins, releases, deletions, approvals and declines, spool flushes). Each
//! entry is also a log line.

use serde::{Deserialize, Serialize};
use std::io::Write;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntry {
    /// Unix seconds.
    pub at: u64,
    pub time: String,
    /// The signed-in user (or the name tried, for a failed sign-in).
    pub user: String,
    /// `sign-in`, `sign-in-failed`, `sign-in-refused`, `sign-out`, `release`, `delete`,
    /// `approve`, `decline`, `flush`.
    pub action: String,
    /// The queue id (quarantine or spool) acted on, if any.
    #[serde(default)]
    pub target: Option<String>,
    /// `ok`, or why not.
    pub outcome: String,
    /// The client's address as the console saw it.
    pub client: String,
}

#[derive(Debug, Clone)]
pub struct AuditLog {
    path: PathBuf,
}

impl AuditLog {
    pub fn new(path: impl Into<PathBuf>) -> AuditLog {
        AuditLog { path: path.into() }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends one entry (blocking) and logs it.
    pub fn append(&self, entry: &AuditEntry) -> std::io::Result<()> {
        tracing::info!(
            target: "supportgate::console",
            user = %crate::printable::one_line(&entry.user),
            action = %entry.action,
            target_id = entry.target.as_deref().unwrap_or(""),
            outcome = %crate::printable::one_line(&entry.outcome),
            client = %entry.client,
            "console: {}", entry.action
        );
        let mut line = serde_json::to_vec(entry).map_err(std::io::Error::other)?;
        line.push(b'\n');
        if let Some(parent) = self.path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)?;
        file.write_all(&line)?;
        file.sync_data()
    }

    /// The last `n` entries, newest first (lines that do not parse are skipped).
    pub fn recent(&self, n: usize) -> std::io::Result<Vec<AuditEntry>> {
        let text = match std::fs::read_to_string(&self.path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(e),
        };
        Ok(text
            .lines()
            .rev()
            .filter_map(|l| serde_json::from_str(l).ok())
            .take(n)
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn append_then_read_newest_first() {
        let dir = tempfile::tempdir().unwrap();
        let log = AuditLog::new(dir.path().join("sub/audit.jsonl"));
        assert!(log.recent(10).unwrap().is_empty());
        for (i, action) in ["release", "delete"].iter().enumerate() {
            log.append(&AuditEntry {
                at: i as u64,
                time: String::new(),
                user: "jdoe".into(),
                action: (*action).into(),
                target: Some("ID".into()),
                outcome: "ok".into(),
                client: "127.0.0.1".into(),
            })
            .unwrap();
        }
        let recent = log.recent(10).unwrap();
        assert_eq!(recent.len(), 2);
        assert_eq!(recent[0].action, "delete");
        assert_eq!(log.recent(1).unwrap().len(), 1);
        let text = std::fs::read_to_string(log.path()).unwrap();
        assert_eq!(text.lines().count(), 2);
    }
}
