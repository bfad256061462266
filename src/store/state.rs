//! `[state]`: the stores behind the reply memory, the sender history and the pending
//! approvals, opened together from one backend (SPEC §12). `embedded` for one host, `postgres`
//! for a fleet that shares them.

use super::approvals::ApprovalStore;
use super::reply_memory::ReplyMemory;
use super::sender_history::SenderHistoryStore;
use super::state_error::StateError;
use super::{embedded, postgres};
use crate::config::StateSettings;
use std::path::Path;
use std::sync::Arc;

/// The state stores of one gateway.
pub struct State {
    pub reply_memory: Arc<dyn ReplyMemory>,
    pub sender_history: Arc<dyn SenderHistoryStore>,
    pub approvals: Arc<dyn ApprovalStore>,
    /// For the log: `embedded` or `postgres`.
    pub backend: &'static str,
}

impl State {
    /// Opens the configured backend: the redb file(s), or the database (connected, its schema
    /// migrated). A database that cannot be reached is an error: `serve` refuses to start.
    /// With `embedded`, the pending approvals stay in their own redb file at `approval_path`
    /// (`[approval] path`). Must run on a multi-threaded runtime (see
    /// [`postgres::PostgresApprovalStore::new`]).
    pub async fn open(settings: &StateSettings, approval_path: &Path) -> Result<State, StateError> {
        match settings {
            StateSettings::Embedded(files) => {
                let (memory, history) = embedded::open(files)?;
                Ok(State {
                    reply_memory: Arc::new(memory),
                    // The window in memory, written behind to the file once a second.
                    sender_history: Arc::new(embedded::WindowedSenderHistory::over(history)?),
                    approvals: embedded_approvals(approval_path)?,
                    backend: "embedded",
                })
            }
            StateSettings::Postgres(database) => {
                let database = postgres::StateDatabase::open(database).await?;
                Ok(State {
                    reply_memory: Arc::new(postgres::PostgresReplyMemory::new(Arc::clone(
                        &database,
                    ))),
                    sender_history: Arc::new(postgres::PostgresSenderHistory::new(Arc::clone(
                        &database,
                    ))),
                    approvals: postgres_approvals(database)?,
                    backend: "postgres",
                })
            }
        }
    }
}

/// The pending approvals alone, for `supportgate approval …` beside a running server (which
/// holds the embedded reply memory's file open): the redb file at `approval_path`, or the
/// shared database. Must run on a multi-threaded runtime that outlives the store.
pub async fn open_approvals(
    settings: &StateSettings,
    approval_path: &Path,
) -> Result<Arc<dyn ApprovalStore>, StateError> {
    match settings {
        StateSettings::Embedded(_) => embedded_approvals(approval_path),
        StateSettings::Postgres(database) => {
            postgres_approvals(postgres::StateDatabase::open(database).await?)
        }
    }
}

fn embedded_approvals(path: &Path) -> Result<Arc<dyn ApprovalStore>, StateError> {
    let store = embedded::RedbApprovalStore::open(path)
        .map_err(|e| StateError::Embedded(format!("[approval] path: {e}")))?;
    Ok(Arc::new(store))
}

/// On the runtime that runs this (an `async fn` polled by another executor has none: an
/// error, not a panic).
fn postgres_approvals(
    database: Arc<postgres::StateDatabase>,
) -> Result<Arc<dyn ApprovalStore>, StateError> {
    let runtime = tokio::runtime::Handle::try_current()
        .map_err(|e| StateError::Unavailable(format!("pending approvals: {e}")))?;
    Ok(Arc::new(postgres::PostgresApprovalStore::new(
        database, runtime,
    )))
}
