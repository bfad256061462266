//! The state schema, as ordered steps (`sql/state/NNN_*.sql`). [`migrate`] applies the steps a
//! database lacks, each at most once, in one transaction under an advisory lock: two gateways
//! starting together, or `supportgate state migrate` beside a running fleet, do it once between
//! them. A shipped step is never edited; a new store adds the next one.

use crate::store::state_error::StateError;
use tokio_postgres::Client;

/// One step of the schema.
pub struct Migration {
    pub version: i32,
    pub name: &'static str,
    pub sql: &'static str,
}

/// Every step, in order; versions are 1, 2, 3… with no gap.
pub const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "reply memory",
        sql: include_str!("../../../sql/state/001_reply_memory.sql"),
    },
    Migration {
        version: 2,
        name: "sender history",
        sql: include_str!("../../../sql/state/002_sender_history.sql"),
    },
    Migration {
        version: 3,
        name: "pending approvals",
        sql: include_str!("../../../sql/state/003_approvals.sql"),
    },
];

/// The key of the advisory lock that serialises migrations (any constant, ours alone).
const MIGRATION_LOCK: i64 = 0x5347_5354_4154_4531; // "SGSTATE1"

/// What [`migrate`] found and did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Migrated {
    /// The steps applied now, by name.
    pub applied: Vec<&'static str>,
    /// The database's version afterwards.
    pub version: i32,
}

impl Migrated {
    /// One log line.
    pub fn log(&self) {
        let known = latest();
        if self.version > known {
            tracing::warn!(
                version = self.version,
                known,
                "state database: its schema is newer than this gateway knows (a newer gateway migrated it); continuing"
            );
        } else if self.applied.is_empty() {
            tracing::info!(version = self.version, "state database: schema up to date");
        } else {
            tracing::info!(version = self.version, applied = ?self.applied, "state database: schema migrated");
        }
    }
}

/// The version of the last step this build knows.
pub fn latest() -> i32 {
    MIGRATIONS.last().map_or(0, |m| m.version)
}

/// Brings the `supportgate` schema up to date; idempotent.
pub async fn migrate(client: &mut Client) -> Result<Migrated, StateError> {
    let transaction = client.transaction().await?;
    transaction
        .execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
        .await?;
    transaction
        .batch_execute(
            "SET LOCAL client_min_messages = warning; \
             CREATE SCHEMA IF NOT EXISTS supportgate; \
             CREATE TABLE IF NOT EXISTS supportgate.state_migrations ( \
               version integer PRIMARY KEY, name text NOT NULL, \
               applied_at timestamptz NOT NULL DEFAULT now())",
        )
        .await?;
    let row = transaction
        .query_one(
            "SELECT COALESCE(max(version), 0) FROM supportgate.state_migrations",
            &[],
        )
        .await?;
    let found: i32 = row.try_get(0)?;
    let mut version = found;
    let mut applied = Vec::new();
    for step in MIGRATIONS.iter().filter(|m| m.version > found) {
        transaction.batch_execute(step.sql).await.map_err(|e| {
            StateError::Unavailable(format!("migration {} ({}): {e}", step.version, step.name))
        })?;
        transaction
            .execute(
                "INSERT INTO supportgate.state_migrations (version, name) VALUES ($1, $2)",
                &[&step.version, &step.name],
            )
            .await?;
        version = step.version;
        applied.push(step.name);
    }
    transaction.commit().await?;
    Ok(Migrated { applied, version })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_are_numbered_in_order_without_gaps() {
        for (i, step) in MIGRATIONS.iter().enumerate() {
            assert_eq!(step.version, i32::try_from(i).unwrap() + 1, "{}", step.name);
            assert!(step.sql.contains("supportgate."), "{}", step.name);
        }
        assert_eq!(latest(), 3);
    }
}
