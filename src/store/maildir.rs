//! Maildir delivery (the ticket queue and the reply outbox of the embedded default).
//! Written to `tmp/`, fsync'd, linked into `new/`, and `new/` fsync'd: once this returns, the
//! message survives a crash.

use std::fs::{self, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// Creates `tmp/`, `new/` and `cur/` under `root` if needed.
pub fn ensure_maildir(root: &Path) -> io::Result<()> {
    for sub in ["tmp", "new", "cur"] {
        fs::create_dir_all(root.join(sub))?;
    }
    Ok(())
}

/// Delivers `bytes` as one new message; returns its path under `new/`.
pub fn deliver(root: &Path, unique: &str, bytes: &[u8]) -> io::Result<PathBuf> {
    ensure_maildir(root)?;
    let host = hostname();
    let name = format!("{unique}.supportgate.{host}");
    let tmp = root.join("tmp").join(&name);
    let result = write_synced(&tmp, bytes).and_then(|()| {
        let new = root.join("new").join(&name);
        // link + unlink rather than rename: never replaces an existing message.
        fs::hard_link(&tmp, &new)?;
        fs::remove_file(&tmp)?;
        super::fsync_dir(&root.join("new"))?;
        Ok(new)
    });
    if result.is_err() {
        // Nothing partial is left behind.
        let _ = fs::remove_file(&tmp);
    }
    result
}

fn write_synced(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let mut file = OpenOptions::new().write(true).create_new(true).open(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}

fn hostname() -> String {
    fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().replace(['/', ':'], "_"))
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delivers_into_new_and_leaves_tmp_empty() {
        let dir = tempfile::tempdir().unwrap();
        let path = deliver(dir.path(), "1", b"Subject: x\r\n\r\nbody\r\n").unwrap();
        assert!(path.starts_with(dir.path().join("new")));
        assert_eq!(fs::read(&path).unwrap(), b"Subject: x\r\n\r\nbody\r\n");
        assert_eq!(fs::read_dir(dir.path().join("tmp")).unwrap().count(), 0);
        // The same unique name twice is refused rather than overwritten.
        assert!(deliver(dir.path(), "1", b"other").is_err());
        assert_eq!(fs::read_dir(dir.path().join("tmp")).unwrap().count(), 0);
    }
}
