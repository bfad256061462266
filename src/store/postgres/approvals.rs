//! Pending approvals in PostgreSQL (`sql/state/003_approvals.sql`): every gateway of a fleet,
//! and the CLI or the console on any of them, sees the same held requests. A claim is one
//! statement (`UPDATE … WHERE id = $1 AND state = 'pending' RETURNING`): of two approvers, or
//! an approver and an expiry timer, on any gateways, one gets the row back.
//!
//! [`ApprovalStore`] is synchronous and is called from the blocking pool (and from the CLI's
//! main thread). Each operation is spawned onto the gateway's runtime and its answer awaited
//! over a channel, bounded by `[state] timeout`: no `block_on` (which panics when called from
//! an async task by mistake), nothing that can hang, and the async client stays the one the
//! other state stores share.

use super::{seconds, StateDatabase};
use crate::store::approvals::{ApprovalStore, ApprovalStoreError, Pending, PendingState};
use crate::store::state_error::StateError;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio_postgres::types::{ToSql, Type};
use tokio_postgres::{Client, Row};

/// Beyond `[state] timeout`: the time a busy runtime may take to start the operation.
const SCHEDULING_MARGIN: Duration = Duration::from_secs(1);

pub struct PostgresApprovalStore {
    database: Arc<StateDatabase>,
    runtime: tokio::runtime::Handle,
}

impl PostgresApprovalStore {
    /// `runtime` runs the operations; it must be a multi-threaded one (the gateway's, or the
    /// CLI's own): a caller's thread waits while a worker drives the query.
    pub fn new(
        database: Arc<StateDatabase>,
        runtime: tokio::runtime::Handle,
    ) -> PostgresApprovalStore {
        PostgresApprovalStore { database, runtime }
    }

    fn error(&self, e: impl std::fmt::Display) -> ApprovalStoreError {
        ApprovalStoreError::Database {
            path: self.database.settings.redacted_url(),
            message: e.to_string(),
        }
    }

    /// Runs `work` with a client of the pool and waits for its answer.
    fn run<T, F, Fut>(&self, work: F) -> Result<T, ApprovalStoreError>
    where
        T: Send + 'static,
        F: FnOnce(Arc<Client>) -> Fut + Send + 'static,
        Fut: Future<Output = Result<T, tokio_postgres::Error>> + Send + 'static,
    {
        let (answer, answered) = std::sync::mpsc::sync_channel::<Result<T, StateError>>(1);
        let database = Arc::clone(&self.database);
        self.runtime.spawn(async move {
            // The caller may have given up (timeout): nobody to tell then.
            let _ = answer.send(database.with_client(work).await);
        });
        let wait = self.database.settings.timeout + SCHEDULING_MARGIN;
        match answered.recv_timeout(wait) {
            Ok(result) => result.map_err(|e| self.error(e)),
            Err(_) => Err(self.error(StateError::Timeout(wait))),
        }
    }

    fn decode(&self, id: &str, json: &str) -> Result<Pending, ApprovalStoreError> {
        serde_json::from_str(json).map_err(|e| ApprovalStoreError::Corrupt {
            id: id.to_string(),
            message: e.to_string(),
        })
    }

    fn decode_rows(&self, rows: Vec<(String, String)>) -> Result<Vec<Pending>, ApprovalStoreError> {
        rows.iter()
            .map(|(id, json)| self.decode(id, json))
            .collect()
    }

    /// One record by a key column (`id` or `token`).
    fn record_where(
        &self,
        sql: &'static str,
        key: &str,
    ) -> Result<Option<Pending>, ApprovalStoreError> {
        let key = key.to_string();
        let rows = self.run(move |client| async move { id_and_record(&client, sql, key).await })?;
        Ok(self.decode_rows(rows)?.pop())
    }
}

/// `(id, record::text)` rows of a query with one text parameter.
async fn id_and_record(
    client: &Client,
    sql: &str,
    key: String,
) -> Result<Vec<(String, String)>, tokio_postgres::Error> {
    pairs(client.query_typed(sql, &[(&key, Type::TEXT)]).await?)
}

/// Rows of `(id, record::text)` as strings.
fn pairs(rows: Vec<Row>) -> Result<Vec<(String, String)>, tokio_postgres::Error> {
    rows.iter()
        .map(|row| Ok((row.try_get(0)?, row.try_get(1)?)))
        .collect()
}

/// The fields of the record that say its state (`PendingState` is flattened into it).
/// A new claim, or an unclaim, forgets an earlier take-over too.
const STATE_FIELDS: &str = "(record - 'state' - 'by' - 'role' - 'at' - 'taken_over_at')";

impl ApprovalStore for PostgresApprovalStore {
    fn hold(&self, pending: &Pending, message: &[u8]) -> Result<(), ApprovalStoreError> {
        let record = serde_json::to_string(pending).map_err(|e| self.error(e))?;
        let (id, token, state) = (
            pending.id.clone(),
            pending.token.clone(),
            pending.state.as_str(),
        );
        let closed_at = pending.state.closed_at().map(seconds);
        let message = message.to_vec();
        // Committed (PostgreSQL's synchronous commit) before the answer comes back.
        self.run(move |client| async move {
            client
                .execute_typed(
                    "INSERT INTO supportgate.approvals AS a \
                       (id, token, state, closed_at, settled, record, message) \
                     VALUES ($1, $2, $3, $4, $5, $6::text::jsonb, $7) \
                     ON CONFLICT (id) DO UPDATE SET token = EXCLUDED.token, \
                       state = EXCLUDED.state, closed_at = EXCLUDED.closed_at, \
                       settled = EXCLUDED.settled, record = EXCLUDED.record, \
                       message = EXCLUDED.message",
                    &[
                        (&id, Type::TEXT),
                        (&token, Type::TEXT),
                        (&state, Type::TEXT),
                        (&closed_at, Type::INT8),
                        (&false, Type::BOOL),
                        (&record, Type::TEXT),
                        (&message, Type::BYTEA),
                    ],
                )
                .await
        })
        .map(|_| ())
    }

    fn by_token(&self, token: &str) -> Result<Option<Pending>, ApprovalStoreError> {
        self.record_where(
            "SELECT id, record::text FROM supportgate.approvals WHERE token = $1",
            token,
        )
    }

    fn get(&self, id: &str) -> Result<Option<Pending>, ApprovalStoreError> {
        self.record_where(
            "SELECT id, record::text FROM supportgate.approvals WHERE id = $1",
            id,
        )
    }

    fn message(&self, id: &str) -> Result<Option<Vec<u8>>, ApprovalStoreError> {
        let id = id.to_string();
        self.run(move |client| async move {
            let row = client
                .query_typed_opt(
                    "SELECT message FROM supportgate.approvals WHERE id = $1",
                    &[(&id, Type::TEXT)],
                )
                .await?;
            match row {
                Some(row) => row.try_get::<_, Option<Vec<u8>>>(0),
                None => Ok(None),
            }
        })
    }

    fn list(&self) -> Result<Vec<Pending>, ApprovalStoreError> {
        let rows = self.run(|client| async move {
            pairs(
                client
                    .query_typed(
                        "SELECT id, record::text FROM supportgate.approvals ORDER BY id",
                        &[],
                    )
                    .await?,
            )
        })?;
        self.decode_rows(rows)
    }

    fn claim(
        &self,
        id: &str,
        closing: PendingState,
    ) -> Result<Option<Pending>, ApprovalStoreError> {
        let state = serde_json::to_string(&closing).map_err(|e| self.error(e))?;
        let (id, name, closed_at) = (
            id.to_string(),
            closing.as_str(),
            closing.closed_at().map(seconds),
        );
        let sql = format!(
            "UPDATE supportgate.approvals \
             SET state = $2, closed_at = $3, record = {STATE_FIELDS} || $4::text::jsonb \
             WHERE id = $1 AND state = 'pending' \
             RETURNING id, record::text"
        );
        let rows = self.run(move |client| async move {
            let params: [(&(dyn ToSql + Sync), Type); 4] = [
                (&id, Type::TEXT),
                (&name, Type::TEXT),
                (&closed_at, Type::INT8),
                (&state, Type::TEXT),
            ];
            pairs(client.query_typed(&sql, &params).await?)
        })?;
        Ok(self.decode_rows(rows)?.pop())
    }

    fn take_over(
        &self,
        id: &str,
        stale_before: u64,
        now: u64,
    ) -> Result<Option<Pending>, ApprovalStoreError> {
        let (id, stale_before, now) = (id.to_string(), seconds(stale_before), seconds(now));
        let rows = self.run(move |client| async move {
            let params: [(&(dyn ToSql + Sync), Type); 3] = [
                (&id, Type::TEXT),
                (&stale_before, Type::INT8),
                (&now, Type::INT8),
            ];
            let sql = "UPDATE supportgate.approvals \
                 SET record = record || jsonb_build_object('taken_over_at', $3::bigint) \
                 WHERE id = $1 AND NOT settled AND state <> 'pending' AND closed_at < $2 \
                   AND COALESCE((record->>'taken_over_at')::bigint, 0) < $2 \
                 RETURNING id, record::text";
            pairs(client.query_typed(sql, &params).await?)
        })?;
        Ok(self.decode_rows(rows)?.pop())
    }

    fn unclaim(&self, id: &str) -> Result<(), ApprovalStoreError> {
        let id = id.to_string();
        let sql = format!(
            "UPDATE supportgate.approvals \
             SET state = 'pending', closed_at = NULL, \
               record = {STATE_FIELDS} || '{{\"state\":\"pending\"}}'::jsonb \
             WHERE id = $1 AND NOT settled"
        );
        self.run(
            move |client| async move { client.execute_typed(&sql, &[(&id, Type::TEXT)]).await },
        )
        .map(|_| ())
    }

    fn finish(&self, id: &str) -> Result<(), ApprovalStoreError> {
        let id = id.to_string();
        self.run(move |client| async move {
            client
                .execute_typed(
                    "UPDATE supportgate.approvals \
                     SET settled = true, message = NULL, \
                       record = record || '{\"settled\":true}'::jsonb \
                     WHERE id = $1",
                    &[(&id, Type::TEXT)],
                )
                .await
        })
        .map(|_| ())
    }

    fn prune(&self, before: u64) -> Result<usize, ApprovalStoreError> {
        let before = seconds(before);
        let removed = self.run(move |client| async move {
            client
                .execute_typed(
                    "DELETE FROM supportgate.approvals WHERE settled AND closed_at < $1",
                    &[(&before, Type::INT8)],
                )
                .await
        })?;
        Ok(usize::try_from(removed).unwrap_or(usize::MAX))
    }
}
