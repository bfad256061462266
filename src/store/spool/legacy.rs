//! The spool before issue 12 kept one file per message in `queue/` (a JSON line, then the
//! bytes). At start such files are copied into a segment (fsync'd) and only then removed, so
//! an upgrade with mail waiting loses nothing.

use super::{record, segment, SpoolEntry};
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

/// Copies what waits in `<root>/queue/` into segments; returns how many messages moved.
/// A file that cannot be read as an entry is left in place, with a warning.
pub fn migrate(root: &Path) -> io::Result<usize> {
    let queue = root.join("queue");
    let files: Vec<PathBuf> = match fs::read_dir(&queue) {
        Ok(entries) => entries.filter_map(Result::ok).map(|e| e.path()).collect(),
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(e),
    };
    let mut batch = Vec::new();
    let mut moved = Vec::new();
    for file in files {
        let bytes = fs::read(&file)?;
        let split = bytes.iter().position(|b| *b == b'\n');
        let parsed = split.and_then(|at| {
            serde_json::from_slice::<SpoolEntry>(&bytes[..at])
                .ok()
                .map(|entry| (entry, &bytes[at + 1..]))
        });
        match parsed {
            Some((entry, message)) => {
                record::encode_message(&mut batch, &entry, message);
                moved.push(file);
            }
            None => {
                tracing::warn!(file = %file.display(), "spool: old-format file not readable; left in place")
            }
        }
        if batch.len() as u64 >= super::writer::SEGMENT_SIZE {
            flush(root, &mut batch, &mut moved)?;
        }
    }
    let count = moved.len();
    flush(root, &mut batch, &mut moved)?;
    if count > 0 {
        tracing::info!(
            moved = count,
            "spool: messages of the old one-file-per-message spool moved into segments"
        );
    }
    Ok(count)
}

fn flush(root: &Path, batch: &mut Vec<u8>, moved: &mut Vec<PathBuf>) -> io::Result<()> {
    if moved.is_empty() {
        return Ok(());
    }
    segment::write_whole(root, batch)?;
    for file in moved.drain(..) {
        fs::remove_file(file)?;
    }
    batch.clear();
    crate::store::fsync_dir(&root.join("queue"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::spool::tests::entry;
    use crate::store::spool::Spool;

    #[test]
    fn old_queue_files_become_segment_records_and_damaged_ones_stay() {
        let dir = tempfile::tempdir().unwrap();
        segment::create_folders(dir.path()).unwrap();
        let queue = dir.path().join("queue");
        fs::create_dir_all(&queue).unwrap();
        let mut old = serde_json::to_vec(&entry("A1")).unwrap();
        old.extend_from_slice(b"\nSubject: old\r\n\r\nbody\r\n");
        fs::write(queue.join("A1"), old).unwrap();
        fs::write(queue.join("B2"), b"not json\nx").unwrap();
        assert_eq!(migrate(dir.path()).unwrap(), 1);
        let (listed, bytes) = Spool::new(dir.path()).read("A1").unwrap();
        assert_eq!(listed, entry("A1"));
        assert_eq!(bytes, b"Subject: old\r\n\r\nbody\r\n");
        assert!(!queue.join("A1").exists() && queue.join("B2").exists());
    }
}
