//! `[state] backend = "embedded"`: the reply memory and the sender history in
//! [redb](https://docs.rs/redb) on this host, in one file (`[state] path`) or, without it, in
//! the two files of `[reply_memory]` and `[sender_history]` as before `[state]` existed; the
//! pending approvals in their own file (`[approval] path`, `approvals.rs`).

mod approvals;
mod history_file;
mod reply_memory;
mod sender_history;
mod window;

pub use approvals::RedbApprovalStore;
pub use history_file::{HistoryChange, HistorySnapshot};
pub use reply_memory::RedbReplyMemory;
pub use sender_history::RedbSenderHistory;
pub use window::WindowedSenderHistory;

use crate::config::EmbeddedStateFiles;
use crate::store::state_error::StateError;
use redb::Database;
use std::path::Path;
use std::sync::Arc;

/// Opens the reply memory and the sender history where `files` says.
pub fn open(
    files: &EmbeddedStateFiles,
) -> Result<(RedbReplyMemory, RedbSenderHistory), StateError> {
    let named =
        |path: &Path, e: StateError| StateError::Embedded(format!("{}: {e}", path.display()));
    match files {
        EmbeddedStateFiles::One(path) => {
            let db = open_database(path)?;
            let memory = RedbReplyMemory::new(Arc::clone(&db)).map_err(|e| named(path, e))?;
            let history = RedbSenderHistory::new(db).map_err(|e| named(path, e))?;
            Ok((memory, history))
        }
        EmbeddedStateFiles::Separate {
            reply_memory,
            sender_history,
        } => {
            // Side by side: a new file costs a few fsyncs, and a start (or a restart after a
            // crash, as tests/spool_crash.rs does every 400 ms) should not wait for both in turn.
            let (memory, history) = std::thread::scope(|scope| {
                let history = scope.spawn(|| RedbSenderHistory::open(sender_history));
                let memory = RedbReplyMemory::open(reply_memory);
                let history = history
                    .join()
                    .unwrap_or_else(|_| Err(StateError::embedded("the open thread failed")));
                (memory, history)
            });
            Ok((
                memory.map_err(|e| named(reply_memory, e))?,
                history.map_err(|e| named(sender_history, e))?,
            ))
        }
    }
}

/// Opens (or creates, whole: [`create_whole`]) the database file at `path` (its folder is
/// created if needed).
pub(crate) fn open_database(path: &Path) -> Result<Arc<Database>, StateError> {
    open_database_with(path, true)
}

/// [`open_database`]; `whole = false` lets redb create a missing file in place, as the sender
/// history's own file was created before `[state]`: creating it whole costs fsyncs that a
/// start killed every 400 ms (`tests/spool_crash.rs`, on this busy machine) never got past.
pub(crate) fn open_database_with(path: &Path, whole: bool) -> Result<Arc<Database>, StateError> {
    let named = |e: String| StateError::Embedded(format!("{}: {e}", path.display()));
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)
            .map_err(|e| StateError::Embedded(format!("{}: {e}", parent.display())))?;
    }
    if whole && !path.exists() {
        create_whole(path).map_err(named)?;
    }
    let db = Database::create(path).map_err(|e| named(e.to_string()))?;
    Ok(Arc::new(db))
}

/// A new database is made under a temporary name and renamed into place once initialised: a
/// process killed while redb writes a new file's header (seen under SIGKILL in
/// `tests/spool_crash.rs` on a busy machine) must not leave a file that redb refuses to open.
fn create_whole(path: &Path) -> Result<(), String> {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".new");
    let fresh = path.with_file_name(name);
    let _ = std::fs::remove_file(&fresh);
    let db = Database::create(&fresh).map_err(|e| e.to_string())?;
    let txn = db.begin_write().map_err(|e| e.to_string())?;
    txn.open_table(reply_memory::REPLIES)
        .map_err(|e| e.to_string())?;
    txn.commit().map_err(|e| e.to_string())?;
    drop(db);
    std::fs::rename(&fresh, path).map_err(|e| e.to_string())?;
    match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => {
            super::fsync_dir(parent).map_err(|e| e.to_string())
        }
        _ => super::fsync_dir(Path::new(".")).map_err(|e| e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::reply_memory::ReplyMemory;
    use crate::store::sender_history::{Arrival, SenderHistoryStore};

    #[tokio::test]
    async fn one_file_holds_both_and_survives_a_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let files = EmbeddedStateFiles::One(dir.path().join("state/state.redb"));
        let arrival = Arrival {
            sender: "a@x".into(),
            message_id: None,
            at: 100,
        };
        {
            let (memory, history) = open(&files).unwrap();
            assert!(memory.claim("k", 100, 0).await.unwrap());
            history.record(&arrival, 600).await.unwrap();
        }
        let (memory, history) = open(&files).unwrap();
        assert!(!memory.claim("k", 101, 0).await.unwrap());
        let again = history.record(&arrival, 600).await.unwrap();
        assert_eq!(again.history.recent_messages, 1);
        assert_eq!(
            std::fs::read_dir(dir.path().join("state")).unwrap().count(),
            1
        );
    }
}
