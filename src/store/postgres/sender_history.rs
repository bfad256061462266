//! The sender history in PostgreSQL, shared by a fleet: each operation on one sender is one
//! call of a function of `sql/state/002_sender_history.sql` (one round trip, under that
//! sender's advisory lock), so a sender's messages are counted together whichever gateway they
//! reach, and a block started by one gateway holds on every one.

use super::{seconds, text, unix, StateDatabase};
use crate::policy::SenderHistory;
use crate::store::sender_history::{message_id_key, Arrival, Recorded, SenderHistoryStore};
use crate::store::state_error::StateError;
use std::sync::Arc;
use tokio_postgres::types::Type;

pub struct PostgresSenderHistory {
    database: Arc<StateDatabase>,
}

impl PostgresSenderHistory {
    pub fn new(database: Arc<StateDatabase>) -> PostgresSenderHistory {
        PostgresSenderHistory { database }
    }
}

/// The Message-ID as remembered; `None` for none or a blank one.
fn remembered_id(arrival: &Arrival) -> Option<String> {
    arrival
        .message_id
        .as_deref()
        .map(message_id_key)
        .filter(|id| !id.is_empty())
        .map(text)
}

#[async_trait::async_trait]
impl SenderHistoryStore for PostgresSenderHistory {
    async fn record(&self, arrival: &Arrival, window_secs: u64) -> Result<Recorded, StateError> {
        let (sender, id) = (text(&arrival.sender), remembered_id(arrival));
        let (at, window) = (seconds(arrival.at), seconds(window_secs));
        let row = self
            .database
            .with_client(|client| async move {
                client
                    .query_typed_one(
                        "SELECT blocked_until, recent, repeated, counted, new_message_id \
                         FROM supportgate.record_arrival($1, $2, $3, $4)",
                        &[
                            (&sender, Type::TEXT),
                            (&id, Type::TEXT),
                            (&at, Type::INT8),
                            (&window, Type::INT8),
                        ],
                    )
                    .await
            })
            .await?;
        let blocked_until: Option<i64> = row.try_get("blocked_until")?;
        let recent: i32 = row.try_get("recent")?;
        Ok(Recorded {
            history: SenderHistory {
                recent_messages: u32::try_from(recent).unwrap_or(0),
                repeated_message_id: row.try_get("repeated")?,
                blocked_until: blocked_until.map(unix),
            },
            counted: row.try_get("counted")?,
            new_message_id: row.try_get("new_message_id")?,
        })
    }

    async fn forget(&self, arrival: &Arrival, recorded: &Recorded) -> Result<(), StateError> {
        if !recorded.counted {
            return Ok(());
        }
        let (sender, id) = (text(&arrival.sender), remembered_id(arrival));
        let (at, new_id) = (seconds(arrival.at), recorded.new_message_id);
        self.database
            .with_client(|client| async move {
                client
                    .execute_typed(
                        "SELECT supportgate.forget_arrival($1, $2, $3, $4)",
                        &[
                            (&sender, Type::TEXT),
                            (&id, Type::TEXT),
                            (&at, Type::INT8),
                            (&new_id, Type::BOOL),
                        ],
                    )
                    .await
            })
            .await?;
        Ok(())
    }

    async fn block(&self, sender: &str, until: u64) -> Result<bool, StateError> {
        let (sender, until) = (text(sender), seconds(until));
        self.database
            .with_client(|client| async move {
                client
                    .query_typed_one(
                        "SELECT supportgate.block_sender($1, $2)",
                        &[(&sender, Type::TEXT), (&until, Type::INT8)],
                    )
                    .await?
                    .try_get(0)
            })
            .await
    }

    async fn end_blocks(&self, now: u64) -> Result<Vec<String>, StateError> {
        // Whichever gateway deletes a block says that it ended: one log line for the fleet.
        let rows = self
            .database
            .with_client(|client| async move {
                client
                    .query_typed(
                        "DELETE FROM supportgate.sender_blocks WHERE until <= $1 RETURNING sender",
                        &[(&seconds(now), Type::INT8)],
                    )
                    .await
            })
            .await?;
        rows.iter()
            .map(|row| row.try_get(0).map_err(StateError::from))
            .collect()
    }

    async fn prune(&self, before: u64) -> Result<usize, StateError> {
        let removed: i64 = self
            .database
            .with_client(|client| async move {
                client
                    .query_typed_one(
                        "WITH arrivals AS (DELETE FROM supportgate.sender_arrivals \
                           WHERE second < $1 RETURNING 1), \
                         ids AS (DELETE FROM supportgate.sender_message_ids \
                           WHERE first_at < $1 RETURNING 1) \
                         SELECT (SELECT count(*) FROM arrivals) + (SELECT count(*) FROM ids)",
                        &[(&seconds(before), Type::INT8)],
                    )
                    .await?
                    .try_get(0)
            })
            .await?;
        Ok(usize::try_from(removed).unwrap_or(0))
    }

    async fn blocked(&self) -> Result<u64, StateError> {
        let count: i64 = self
            .database
            .with_client(|client| async move {
                client
                    .query_typed_one("SELECT count(*) FROM supportgate.sender_blocks", &[])
                    .await?
                    .try_get(0)
            })
            .await?;
        Ok(unix(count))
    }

    /// Every statement commits on its own: nothing is left to make durable.
    async fn flush(&self) -> Result<(), StateError> {
        Ok(())
    }
}
