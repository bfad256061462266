//! `[quarantine] retention` (default 14 days, as Zendesk keeps suspended tickets): the running
//! server purges kept messages received longer ago than that, at start and every
//! [`PURGE_EVERY`]; one log line per message purged and one per run, and a metric. A message
//! whose release is still on its way (`queued`) waits for its outcome to be recorded.

use crate::metrics::Metrics;
use crate::store::quarantine::{Quarantine, QuarantineError};
use std::sync::Arc;
use std::time::Duration;

pub const PURGE_EVERY: Duration = Duration::from_secs(3600);

/// What one run did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Purged {
    pub removed: Vec<String>,
    pub kept: usize,
    pub failed: usize,
}

/// Deletes every message received before `before` (Unix seconds). Blocking.
pub fn purge(quarantine: &Quarantine, before: u64) -> Result<Purged, QuarantineError> {
    let mut purged = Purged::default();
    for record in quarantine.list()? {
        let record = match record {
            Ok(record) => record,
            Err(QuarantineError::NotFound(_)) => continue,
            Err(e) => {
                tracing::warn!(error = %e, "quarantine retention: record not readable, left in place");
                purged.failed += 1;
                continue;
            }
        };
        let releasing = record
            .released
            .as_ref()
            .is_some_and(|r| r.outcome == "queued");
        if record.received_at >= before || releasing {
            purged.kept += 1;
            continue;
        }
        match quarantine.delete(&record.id) {
            Ok(()) => {
                tracing::info!(
                    id = %record.id,
                    received_at = record.received_at,
                    reason = %record.decision.reason,
                    "quarantine retention: message purged"
                );
                purged.removed.push(record.id);
            }
            Err(QuarantineError::NotFound(_)) => {}
            Err(e) => {
                tracing::warn!(id = %record.id, error = %e, "quarantine retention: message not purged");
                purged.failed += 1;
            }
        }
    }
    Ok(purged)
}

/// Runs until the process stops: a purge at start, then every [`PURGE_EVERY`].
pub async fn run(quarantine: Quarantine, retention: Duration, metrics: Arc<Metrics>) {
    let mut tick = tokio::time::interval(PURGE_EVERY);
    loop {
        tick.tick().await;
        let before = super::unix_now().saturating_sub(retention.as_secs());
        let quarantine = quarantine.clone();
        match tokio::task::spawn_blocking(move || purge(&quarantine, before)).await {
            Ok(Ok(purged)) => {
                metrics.quarantine_purged(purged.removed.len());
                tracing::info!(
                    removed = purged.removed.len(),
                    kept = purged.kept,
                    failed = purged.failed,
                    retention = %crate::config::format_duration(retention),
                    "quarantine retention: purge run"
                );
            }
            Ok(Err(e)) => tracing::error!(error = %e, "quarantine retention: purge failed"),
            Err(e) => tracing::error!(error = %e, "quarantine retention: purge task failed"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::quarantine::{QuarantineRecord, Release};

    fn record(id: &str, received_at: u64) -> QuarantineRecord {
        QuarantineRecord {
            received_at,
            ..crate::store::quarantine::sample_record(id)
        }
    }

    #[test]
    fn purges_what_is_older_than_the_cut_only() {
        let dir = tempfile::tempdir().unwrap();
        let q = Quarantine::new(dir.path());
        q.store(&record("OLD1", 100), b"x").unwrap();
        q.store(&record("NEW1", 1000), b"x").unwrap();
        let mut releasing = record("OLD2", 100);
        releasing.released = Some(Release {
            by: "jdoe".into(),
            at: 100,
            outcome: "queued".into(),
        });
        q.store(&releasing, b"x").unwrap();
        let purged = purge(&q, 500).unwrap();
        assert_eq!(purged.removed, ["OLD1"]);
        assert_eq!(purged.kept, 2);
        assert!(matches!(
            q.record("OLD1"),
            Err(QuarantineError::NotFound(_))
        ));
        assert!(q.record("NEW1").is_ok());
        assert!(q.record("OLD2").is_ok());
        assert_eq!(purge(&q, 500).unwrap().removed.len(), 0);
    }
}
