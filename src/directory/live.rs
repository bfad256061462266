//! Following the directory database while the gateway runs (SPEC §12): LISTEN, re-read the
//! account a notification names and swap it into the directory in force, resynchronise fully
//! every `refresh` (on a second connection, changes going on meanwhile), and on a lost
//! connection keep the last directory, reconnect with backoff and resynchronise.

use super::index::Directory;
use super::patch::AccountChange;
use super::postgres::{DatabaseError, DirectoryDatabase};
use crate::address::AddressRules;
use crate::config::PostgresDirectorySettings;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::Notify;

/// Where a live directory goes: the gateway's engine, and the source's health.
pub trait DirectoryHost: Send + Sync + 'static {
    /// The directory in force, to patch.
    fn directory(&self) -> Arc<Directory>;
    /// The address rules of the configuration in force, for a full load.
    fn address_rules(&self) -> AddressRules;
    /// Puts a new directory in force.
    fn publish(&self, directory: Arc<Directory>);
    /// The database is reachable (true) or not: `supportgate_directory_source_up`.
    fn source_up(&self, up: bool);
}

/// The first delay after a failed connection; it doubles up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_millis(200);
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// Runs until the process ends. `resync` asks for a full resynchronisation now (SIGHUP).
pub async fn follow(
    settings: PostgresDirectorySettings,
    host: Arc<dyn DirectoryHost>,
    resync: Arc<Notify>,
) {
    let mut backoff = FIRST_BACKOFF;
    loop {
        match DirectoryDatabase::connect(&settings).await {
            Ok(mut database) => {
                backoff = FIRST_BACKOFF;
                let lost = session(&mut database, &settings, &*host, &resync).await;
                host.source_up(false);
                tracing::error!(error = %lost, "directory database: lost; deciding with the last directory, reconnecting");
            }
            Err(e) => {
                host.source_up(false);
                tracing::warn!(error = %e, retry_in = ?backoff, "directory database: cannot connect");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
        }
    }
}

/// One connection: a full resynchronisation, then changes and periodic resynchronisations
/// until an error.
///
/// A resynchronisation (the first of a connection, then every `refresh` or SIGHUP) reads its
/// snapshot on a second connection while this one goes on applying changes to the directory in
/// force (the start-up load's, or the last one), so that an update is not held for the seconds
/// a large directory takes to read and index. The changes applied meanwhile are applied again
/// to the fresh directory before it goes in force: one committed after the snapshot began is
/// then not lost, and one the snapshot already had is re-read as it is.
async fn session(
    database: &mut DirectoryDatabase,
    settings: &PostgresDirectorySettings,
    host: &dyn DirectoryHost,
    resync: &Notify,
) -> DatabaseError {
    loop {
        if let Err(e) = resynchronise_beside(database, settings, host).await {
            return e;
        }
        host.source_up(true);
        let next_resync = tokio::time::sleep(settings.refresh);
        tokio::pin!(next_resync);
        loop {
            tokio::select! {
                change = database.next_change() => {
                    let Some(first) = change else {
                        return DatabaseError::Failed("connection closed".into());
                    };
                    if let Err(e) = apply_changes(database, host, first, None).await {
                        return e;
                    }
                }
                () = &mut next_resync => break,
                () = resync.notified() => break,
            }
        }
    }
}

/// A full resynchronisation read on its own connection, changes applied in the meantime on
/// `database`'s (which LISTENs since before the snapshot began).
async fn resynchronise_beside(
    database: &mut DirectoryDatabase,
    settings: &PostgresDirectorySettings,
    host: &dyn DirectoryHost,
) -> Result<(), DatabaseError> {
    let started = Instant::now();
    let rules = host.address_rules();
    let reader_settings = settings.clone();
    // A task of its own (receiving a million rows is work too), the rows made into entries and
    // indexed off the runtime: this task goes on applying the changes that arrive meanwhile.
    let mut fresh = tokio::spawn(async move {
        let mut reader = DirectoryDatabase::connect(&reader_settings).await?;
        let snapshot = reader.read_all().await?;
        drop(reader);
        tokio::task::spawn_blocking(move || {
            Ok::<_, DatabaseError>(Directory::build(snapshot.assemble()?, &rules))
        })
        .await
        .map_err(|e| DatabaseError::Failed(format!("indexing failed: {e}")))?
    });
    // Dropped on an early return (connection lost): the read stops with it.
    let _stop_reader = AbortOnDrop(fresh.abort_handle());
    let mut applied_meanwhile = Vec::new();
    let fresh = loop {
        tokio::select! {
            fresh = &mut fresh => {
                break fresh.map_err(|e| DatabaseError::Failed(format!("resynchronisation failed: {e}")))??
            }
            change = database.next_change() => {
                let Some(first) = change else {
                    return Err(DatabaseError::Failed("connection closed".into()));
                };
                apply_changes(database, host, first, Some(&mut applied_meanwhile)).await?;
            }
        }
    };
    let replayed = applied_meanwhile.len();
    let directory = tokio::task::spawn_blocking(move || fresh.with_changes(applied_meanwhile))
        .await
        .map_err(|e| DatabaseError::Failed(format!("indexing failed: {e}")))?;
    tracing::info!(
        accounts = directory.account_count(),
        agents = directory.agent_count(),
        changes_meanwhile = replayed,
        elapsed_ms = started.elapsed().as_millis() as u64,
        "directory database: full resynchronisation"
    );
    host.publish(Arc::new(directory));
    Ok(())
}

/// Re-reads the account `first` names and every other one already notified, and swaps them
/// into the directory in force in one patch; a copy of the changes goes to `record` when given
/// (during a resynchronisation, to apply them again to the fresh directory).
async fn apply_changes(
    database: &mut DirectoryDatabase,
    host: &dyn DirectoryHost,
    first: String,
    record: Option<&mut Vec<AccountChange>>,
) -> Result<(), DatabaseError> {
    let started = Instant::now();
    let mut ids = vec![first];
    while let Some(id) = database.pending_change() {
        if !ids.contains(&id) {
            ids.push(id);
        }
    }
    let mut changes = Vec::with_capacity(ids.len());
    for id in ids {
        let entry = database.load_account(&id).await?;
        changes.push(AccountChange { id, entry });
    }
    let count = changes.len();
    let current = host.directory();
    if let Some(record) = record {
        record.extend(changes.iter().cloned());
    }
    let directory = tokio::task::spawn_blocking(move || current.with_changes(changes))
        .await
        .map_err(|e| DatabaseError::Failed(format!("indexing failed: {e}")))?;
    host.publish(Arc::new(directory));
    tracing::info!(
        accounts = count,
        elapsed_ms = started.elapsed().as_millis() as u64,
        "directory database: accounts re-read"
    );
    Ok(())
}

/// Aborts a task when dropped.
struct AbortOnDrop(tokio::task::AbortHandle);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}
