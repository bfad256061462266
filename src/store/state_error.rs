//! The one error type of the state stores (`[state]`), whichever backend keeps them.

use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum StateError {
    /// The embedded redb file(s).
    #[error("state file: {0}")]
    Embedded(String),
    #[error("state database: {0}")]
    Postgres(#[from] tokio_postgres::Error),
    #[error("state database: no answer within {0:?}")]
    Timeout(Duration),
    /// Not connected (and not reconnecting yet), a bad URL, TLS, a migration.
    #[error("state database: {0}")]
    Unavailable(String),
}

impl StateError {
    pub(crate) fn embedded(e: impl std::fmt::Display) -> StateError {
        StateError::Embedded(e.to_string())
    }
}
