//! Durable storage: Maildir delivery, the quarantine and the spool on the local disk; and the
//! state of `[state]` (the reply memory, the `mail-loop` sender history) behind
//! backend-neutral traits, in redb (`embedded`) or PostgreSQL (`postgres`, shared by a fleet).
//! Every write that a `250` depends on is fsync'd (file, then directory) before it returns.

pub mod approvals;
pub mod embedded;
pub mod maildir;
pub mod postgres;
pub mod quarantine;
pub mod reply_memory;
pub mod sender_history;
pub mod spool;
pub mod state;
pub mod state_error;

use std::fs::File;
use std::io;
use std::path::Path;

/// Flushes a directory entry (a rename or a new file) to disk.
pub fn fsync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// A unique, sortable id for one received message: it names the message in logs, in our
/// `Received:` header, in the quarantine and in the Maildir file name.
pub fn new_queue_id() -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    // The process id, read once (a system call per message otherwise).
    static PROCESS: std::sync::OnceLock<u32> = std::sync::OnceLock::new();
    let process = *PROCESS.get_or_init(std::process::id);
    let count = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!(
        "{:010X}{:05X}{:04X}{:04X}",
        now.as_secs(),
        now.subsec_micros(),
        process & 0xFFFF,
        count & 0xFFFF
    )
}
