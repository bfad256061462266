//! The spool delivery, started by `serve`: hands spooled messages to the ticket queue.
//!
//! At start everything left in `queue/` is attempted at once (recovery after a crash), as after
//! `queue flush`. Then it scans the
//! spool when a message is spooled, when `queue flush` signals (SIGUSR1), and at least every
//! [`RESCAN`]. Success: the entry is marked delivered, then removed. A temporary failure: the
//! next attempt follows `[spool] retry_schedule`. A permanent refusal or `[spool] max_age`:
//! the message goes to the quarantine with the reason and the upstream's last answer — never
//! dropped. Each outcome is one log line with the queue id.

use super::Gateway;
use crate::config::SpoolSettings;
use crate::delivery::transport::{DeliveryContext, DeliveryError};
use crate::metrics::TransportRole;
use crate::store::quarantine::{Quarantine, QuarantineRecord};
use crate::store::spool::{Spool, SpoolEntry};
use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Deliveries in flight at once.
pub const CONCURRENCY: usize = 8;
/// The longest wait between two scans (picks up `queue flush` without a signal).
pub const RESCAN: Duration = Duration::from_secs(5);

/// Runs until the process stops; returns at once if the spool is off.
pub async fn run(gateway: Arc<Gateway>) {
    let Some((spool, settings)) = gateway.spool.clone() else {
        return;
    };
    let recovered = {
        let spool = spool.clone();
        tokio::task::spawn_blocking(move || spool.recover()).await
    };
    match recovered {
        Ok(Ok(partial)) => {
            let waiting = spool.list().map_or(0, |l| l.len());
            tracing::info!(spool = %spool.root().display(), waiting, partial_removed = partial, "spool recovered; delivering what is waiting");
        }
        Ok(Err(e)) => tracing::error!(error = %e, "spool recovery failed; will retry at each scan"),
        Err(e) => tracing::error!(error = %e, "spool recovery task failed"),
    }
    let permits = Arc::new(tokio::sync::Semaphore::new(CONCURRENCY));
    let in_flight: Arc<Mutex<HashSet<String>>> = Arc::default();
    gateway.flush_spool();
    loop {
        let flush = gateway
            .spool_flush
            .swap(false, std::sync::atomic::Ordering::SeqCst);
        let now = super::act::unix_now();
        let listed = {
            let spool = spool.clone();
            tokio::task::spawn_blocking(move || spool.list()).await
        };
        let entries = match listed {
            Ok(Ok(entries)) => entries,
            Ok(Err(e)) => {
                tracing::error!(error = %e, "spool not readable");
                Vec::new()
            }
            Err(e) => {
                tracing::error!(error = %e, "spool scan task failed");
                Vec::new()
            }
        };
        let mut wait = RESCAN;
        for entry in entries {
            let entry = match entry {
                Ok(entry) => entry,
                Err(e) => {
                    tracing::error!(error = %e, "damaged spool entry left in place");
                    continue;
                }
            };
            if !flush && entry.next_attempt > now {
                wait = wait.min(Duration::from_secs(entry.next_attempt - now));
                continue;
            }
            if !lock(&in_flight).insert(entry.id.clone()) {
                continue;
            }
            let Ok(permit) = Arc::clone(&permits).acquire_owned().await else {
                return;
            };
            let (gateway, spool, settings) =
                (Arc::clone(&gateway), spool.clone(), settings.clone());
            let in_flight = Arc::clone(&in_flight);
            tokio::spawn(async move {
                let id = entry.id.clone();
                deliver_one(&gateway, &spool, &settings, entry).await;
                lock(&in_flight).remove(&id);
                drop(permit);
                // A finished delivery may leave others due: look again soon.
                gateway.wake_spool_delivery();
            });
        }
        tokio::select! {
            _ = gateway.spool_wakeup.notified() => {}
            _ = tokio::time::sleep(wait.max(Duration::from_millis(50))) => {}
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

async fn deliver_one(
    gateway: &Gateway,
    spool: &Spool,
    settings: &SpoolSettings,
    entry: SpoolEntry,
) {
    let id = entry.id.clone();
    let read = {
        let spool = spool.clone();
        tokio::task::spawn_blocking(move || spool.read(&id)).await
    };
    let (mut entry, bytes) = match read {
        Ok(Ok(read)) => read,
        // Deleted meanwhile (`queue delete`) or unreadable: nothing to deliver now.
        Ok(Err(e)) => {
            tracing::warn!(queue_id = %entry.id, error = %e, "spool entry not readable; skipped");
            return;
        }
        Err(e) => {
            tracing::error!(queue_id = %entry.id, error = %e, "spool read task failed");
            return;
        }
    };
    let context = DeliveryContext {
        queue_id: entry.id.clone(),
        account: entry.decision.account.clone(),
        agent: entry.decision.agent.clone(),
        role: entry.decision.role.clone(),
        sender: entry.sender.clone(),
    };
    let result = gateway
        .queue
        .send_with(
            entry.mail_from.as_deref(),
            &entry.recipients,
            &bytes,
            &entry.id,
            Some(&context),
        )
        .await;
    entry.attempts += 1;
    let target = gateway.queue.description().to_string();
    let age = super::act::unix_now().saturating_sub(entry.received_at);
    let spool = spool.clone();
    match result {
        Ok(()) => {
            let id = entry.id.clone();
            match tokio::task::spawn_blocking(move || spool.mark_delivered(&id)).await {
                Ok(Ok(())) => {
                    tracing::info!(queue_id = %entry.id, target, attempts = entry.attempts, age_seconds = age, "spool: delivered to the ticket queue")
                }
                Ok(Err(e)) => {
                    tracing::error!(queue_id = %entry.id, target, error = %e, "spool: delivered, but not removed from the spool; may be delivered again")
                }
                Err(e) => tracing::error!(queue_id = %entry.id, error = %e, "spool task failed"),
            }
        }
        Err(DeliveryError::Temporary(why)) if age < settings.max_age.as_secs() => {
            gateway.metrics.transport_error(TransportRole::Queue, false);
            let delay = settings.retry_delay(entry.attempts);
            entry.next_attempt = super::act::unix_now() + delay.as_secs();
            entry.last_answer = Some(why.clone());
            let (attempts, queue_id) = (entry.attempts, entry.id.clone());
            match tokio::task::spawn_blocking(move || spool.update(&entry)).await {
                Ok(Ok(())) => {
                    tracing::warn!(queue_id = %queue_id, target, attempts, retry_in_seconds = delay.as_secs(), error = %why, "spool: ticket queue unavailable; will retry")
                }
                Ok(Err(e)) => {
                    tracing::error!(queue_id = %queue_id, error = %e, "spool: retry not recorded; will retry at the next scan")
                }
                Err(e) => tracing::error!(queue_id = %queue_id, error = %e, "spool task failed"),
            }
        }
        Err(error) => {
            let permanent = !matches!(error, DeliveryError::Temporary(_));
            gateway
                .metrics
                .transport_error(TransportRole::Queue, permanent);
            let note = match &error {
                DeliveryError::Temporary(why) => format!(
                    "not delivered to the ticket queue within the spool's max_age ({} attempts); last answer: {why}",
                    entry.attempts
                ),
                DeliveryError::Permanent(why) => {
                    format!("the ticket queue refused it (5xx); answer: {why}")
                }
                DeliveryError::Refused(why) => {
                    format!("the ticket queue command refused it: {why}")
                }
            };
            entry.last_answer = Some(error.to_string());
            quarantine(gateway, spool, entry, bytes, note, target, settings).await;
        }
    }
}

/// Moves a message that cannot be delivered from the spool to the quarantine (stored first,
/// then removed from the spool: a crash in between leaves it in both, never in neither).
async fn quarantine(
    gateway: &Gateway,
    spool: Spool,
    entry: SpoolEntry,
    bytes: Vec<u8>,
    note: String,
    target: String,
    settings: &SpoolSettings,
) {
    let record = QuarantineRecord {
        id: entry.id.clone(),
        received_at: entry.received_at,
        peer: entry.peer.clone(),
        helo: entry.helo.clone(),
        mail_from: entry.mail_from.clone().unwrap_or_default(),
        recipients: entry.recipients.clone(),
        from_header: entry.sender.clone(),
        subject: entry.subject.clone(),
        message_id: entry.message_id.clone(),
        size: bytes.len() as u64,
        decision: entry.decision.clone(),
        note: note.clone(),
        released: None,
    };
    let root = gateway.quarantine.root().to_path_buf();
    let id = entry.id.clone();
    let spool_copy = spool.clone();
    let moved = tokio::task::spawn_blocking(move || {
        std::fs::create_dir_all(&root).map_err(|e| e.to_string())?;
        let quarantine = Quarantine::new(root);
        // Already there: a crash came after the quarantine took it, before the spool let go.
        if quarantine.record(&record.id).is_err() {
            quarantine
                .store(&record, &bytes)
                .map_err(|e| e.to_string())?;
        }
        spool_copy.remove(&id).map_err(|e| e.to_string())
    })
    .await
    .map_err(|e| e.to_string())
    .and_then(|r| r);
    match moved {
        Ok(()) => {
            tracing::warn!(queue_id = %entry.id, target, attempts = entry.attempts, reason = %note, "spool: not deliverable; moved to the quarantine")
        }
        Err(e) => {
            tracing::error!(queue_id = %entry.id, target, error = %e, reason = %note, "spool: not deliverable and not quarantined; stays in the spool");
            postpone(spool, entry, settings).await;
        }
    }
}

/// The quarantine could not take it: tried again after the schedule's next delay, not at once.
async fn postpone(spool: Spool, mut entry: SpoolEntry, settings: &SpoolSettings) {
    entry.next_attempt = super::act::unix_now() + settings.retry_delay(entry.attempts).as_secs();
    let queue_id = entry.id.clone();
    if let Ok(Err(e)) = tokio::task::spawn_blocking(move || spool.update(&entry)).await {
        tracing::error!(queue_id = %queue_id, error = %e, "spool: next attempt not recorded");
    }
}
