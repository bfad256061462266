//! `[state]`: the stores behind the reply memory and the sender history, opened together from
//! one backend (SPEC §12). `embedded` for one host, `postgres` for a fleet that shares them.

use super::reply_memory::ReplyMemory;
use super::sender_history::SenderHistoryStore;
use super::state_error::StateError;
use super::{embedded, postgres};
use crate::config::StateSettings;
use std::sync::Arc;

/// The state stores of one gateway.
pub struct State {
    pub reply_memory: Arc<dyn ReplyMemory>,
    pub sender_history: Arc<dyn SenderHistoryStore>,
    /// For the log: `embedded` or `postgres`.
    pub backend: &'static str,
}

impl State {
    /// Opens the configured backend: the redb file(s), or the database (connected, its schema
    /// migrated). A database that cannot be reached is an error: `serve` refuses to start.
    pub async fn open(settings: &StateSettings) -> Result<State, StateError> {
        match settings {
            StateSettings::Embedded(files) => {
                let (memory, history) = embedded::open(files)?;
                Ok(State {
                    reply_memory: Arc::new(memory),
                    // The window in memory, written behind to the file once a second.
                    sender_history: Arc::new(embedded::WindowedSenderHistory::over(history)?),
                    backend: "embedded",
                })
            }
            StateSettings::Postgres(database) => {
                let database = postgres::StateDatabase::open(database).await?;
                Ok(State {
                    reply_memory: Arc::new(postgres::PostgresReplyMemory::new(Arc::clone(
                        &database,
                    ))),
                    sender_history: Arc::new(postgres::PostgresSenderHistory::new(database)),
                    backend: "postgres",
                })
            }
        }
    }
}
