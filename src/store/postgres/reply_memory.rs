//! The reply memory in PostgreSQL: a claim is one statement, atomic between every gateway that
//! shares the database. `INSERT … ON CONFLICT (key) DO UPDATE … WHERE claimed_at < since
//! RETURNING`: the row is locked by whichever gateway comes first; the second re-reads it after
//! the first committed, finds it claimed within the interval and gets no row back.

use super::{seconds, text, StateDatabase};
use crate::address::NormalizedAddress;
use crate::policy::{Reason, ReplyMemoryView};
use crate::store::reply_memory::ReplyMemory;
use crate::store::state_error::StateError;
use std::sync::Arc;
use tokio_postgres::types::Type;

pub struct PostgresReplyMemory {
    database: Arc<StateDatabase>,
}

impl PostgresReplyMemory {
    pub fn new(database: Arc<StateDatabase>) -> PostgresReplyMemory {
        PostgresReplyMemory { database }
    }
}

/// The policy's quick look is not asked of the database (it would be a query on the runtime
/// thread in the middle of a decision): it answers "not replied", and the claim the act stage
/// takes before any reply goes out is the authority. A reply already sent within the interval
/// then ends as `auto-reply suppressed: already-replied`, as with the embedded store.
impl ReplyMemoryView for PostgresReplyMemory {
    fn replied_since(&self, _: &NormalizedAddress, _: Reason, _: u64) -> bool {
        false
    }
}

#[async_trait::async_trait]
impl ReplyMemory for PostgresReplyMemory {
    async fn prune(&self, before: u64) -> Result<usize, StateError> {
        let removed = self
            .database
            .with_client(|client| async move {
                client
                    .execute_typed(
                        "DELETE FROM supportgate.reply_claims WHERE claimed_at < $1",
                        &[(&seconds(before), Type::INT8)],
                    )
                    .await
            })
            .await?;
        Ok(usize::try_from(removed).unwrap_or(usize::MAX))
    }

    async fn entries(&self) -> Result<u64, StateError> {
        let count: i64 = self
            .database
            .with_client(|client| async move {
                client
                    .query_typed_one("SELECT count(*) FROM supportgate.reply_claims", &[])
                    .await?
                    .try_get(0)
            })
            .await?;
        Ok(super::unix(count))
    }

    async fn claim(&self, key: &str, at: u64, since: u64) -> Result<bool, StateError> {
        let key = text(key);
        self.database
            .with_client(|client| async move {
                let row = client
                    .query_typed_opt(
                        "INSERT INTO supportgate.reply_claims AS c (key, claimed_at) \
                         VALUES ($1, $2) \
                         ON CONFLICT (key) DO UPDATE SET claimed_at = EXCLUDED.claimed_at \
                         WHERE c.claimed_at < $3 \
                         RETURNING 1",
                        &[
                            (&key, Type::TEXT),
                            (&seconds(at), Type::INT8),
                            (&seconds(since), Type::INT8),
                        ],
                    )
                    .await?;
                Ok(row.is_some())
            })
            .await
    }

    async fn unclaim(&self, key: &str) -> Result<(), StateError> {
        let key = text(key);
        self.database
            .with_client(|client| async move {
                client
                    .execute_typed(
                        "DELETE FROM supportgate.reply_claims WHERE key = $1",
                        &[(&key, Type::TEXT)],
                    )
                    .await
            })
            .await?;
        Ok(())
    }
}
