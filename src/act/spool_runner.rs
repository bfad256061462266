//! The spool delivery, started by `serve`: hands spooled messages to their target — tickets and
//! releases to the ticket queue, auto-replies and notifications to `[replies] transport`.
//!
//! At start everything left in `queue/` is attempted at once (recovery after a crash), as after
//! `queue flush`. Then it scans the spool when something is spooled, when `queue flush` signals
//! (SIGUSR1), and at least every [`RESCAN`]. Success: the entry is marked delivered, then
//! removed, and the quarantine record of a reply or release says so. A temporary failure: the
//! next attempt follows `[spool] retry_schedule`. A permanent refusal or `[spool] max_age`: a
//! ticket goes to the quarantine with the upstream's last answer (never dropped); a reply is
//! given up, logged, counted and recorded as `failed: <answer>` in its message's record.

use super::Actor;
use crate::delivery::{DeliveryContext, DeliveryError, Parcel, Target};
use crate::metrics::TransportRole;
use crate::store::quarantine::{QuarantineError, QuarantineRecord};
use crate::store::spool::{Purpose, SpoolEntry, SpoolError};
use std::collections::HashSet;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Deliveries in flight at once.
pub const CONCURRENCY: usize = 8;
/// The longest wait between two scans (picks up `queue flush` without a signal).
pub const RESCAN: Duration = Duration::from_secs(5);

/// Runs until the process stops.
pub async fn run(actor: Arc<Actor>) {
    let spool = actor.spool.spool.clone();
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
    actor.flush_spool();
    loop {
        let flush = actor.spool.flush.swap(false, Ordering::SeqCst);
        let (due, wait) = actor.due_entries(flush).await;
        for entry in due {
            if !lock(&in_flight).insert(entry.id.clone()) {
                continue;
            }
            let Ok(permit) = Arc::clone(&permits).acquire_owned().await else {
                return;
            };
            let (actor, in_flight) = (Arc::clone(&actor), Arc::clone(&in_flight));
            tokio::spawn(async move {
                let id = entry.id.clone();
                actor.deliver_one(entry).await;
                lock(&in_flight).remove(&id);
                drop(permit);
                // A finished delivery may leave others due: look again soon.
                actor.wake_spool_delivery();
            });
        }
        tokio::select! {
            _ = actor.spool.wakeup.notified() => {}
            _ = tokio::time::sleep(wait.max(Duration::from_millis(50))) => {}
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Actor {
    /// Delivers everything due now, one after the other (`flush`: whatever its retry time);
    /// returns how many entries were attempted. For tests and tools; `serve` runs [`run`].
    pub async fn deliver_waiting(&self, flush: bool) -> usize {
        let (due, _) = self.due_entries(flush).await;
        let count = due.len();
        for entry in due {
            self.deliver_one(entry).await;
        }
        count
    }

    /// The entries due now, and how long until the next one is.
    async fn due_entries(&self, flush: bool) -> (Vec<SpoolEntry>, Duration) {
        let now = super::unix_now();
        let listed = {
            let spool = self.spool.spool.clone();
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
        let mut due = Vec::new();
        for entry in entries {
            match entry {
                Ok(entry) if !flush && entry.next_attempt > now => {
                    wait = wait.min(Duration::from_secs(entry.next_attempt - now));
                }
                Ok(entry) => due.push(entry),
                // Delivered or deleted between the listing and the read: nothing is wrong.
                Err(SpoolError::NotFound(_)) => {}
                Err(e) => tracing::error!(error = %e, "damaged spool entry left in place"),
            }
        }
        (due, wait)
    }

    fn target_for(&self, purpose: &Purpose) -> (&dyn Target, TransportRole) {
        if purpose.is_reply() {
            (self.replies.as_ref(), TransportRole::Replies)
        } else {
            (self.queue.as_ref(), TransportRole::Queue)
        }
    }

    async fn deliver_one(&self, entry: SpoolEntry) {
        let id = entry.id.clone();
        let read = {
            let spool = self.spool.spool.clone();
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
            queue_id: match &entry.purpose {
                Purpose::Release { quarantine_id } => quarantine_id.clone(),
                _ => entry.id.clone(),
            },
            account: entry.decision.account.clone(),
            agent: entry.decision.agent.clone(),
            role: entry.decision.role.clone(),
            sender: entry.sender.clone(),
        };
        let (target, role) = self.target_for(&entry.purpose);
        let parcel = Parcel {
            mail_from: entry.mail_from.as_deref(),
            recipients: &entry.recipients,
            bytes: &bytes,
            unique: &entry.id,
            context: &context,
        };
        let result = target.deliver(parcel).await;
        entry.attempts += 1;
        let target = target.description().to_string();
        let age = super::unix_now().saturating_sub(entry.received_at);
        let kind = entry.purpose.as_str();
        let (delivered, unavailable) = if entry.purpose.is_reply() {
            (
                "spool: delivered to the reply transport",
                "spool: reply transport unavailable; will retry",
            )
        } else {
            (
                "spool: delivered to the ticket queue",
                "spool: ticket queue unavailable; will retry",
            )
        };
        match result {
            Ok(()) => {
                // The record first: once the entry leaves the spool, its fate is written.
                self.record_fate(&entry.purpose, None).await;
                let spool = self.spool.spool.clone();
                let id = entry.id.clone();
                match tokio::task::spawn_blocking(move || spool.mark_delivered(&id)).await {
                    Ok(Ok(())) => {
                        tracing::info!(queue_id = %entry.id, kind, target, attempts = entry.attempts, age_seconds = age, "{delivered}")
                    }
                    Ok(Err(e)) => {
                        tracing::error!(queue_id = %entry.id, kind, target, error = %e, "spool: delivered, but not removed from the spool; may be delivered again")
                    }
                    Err(e) => {
                        tracing::error!(queue_id = %entry.id, error = %e, "spool task failed")
                    }
                }
            }
            Err(DeliveryError::Temporary(why)) if age < self.spool.settings.max_age.as_secs() => {
                self.metrics.transport_error(role, false);
                let delay = self.spool.settings.retry_delay(entry.attempts);
                entry.next_attempt = super::unix_now() + delay.as_secs();
                entry.last_answer = Some(why.clone());
                let (attempts, queue_id) = (entry.attempts, entry.id.clone());
                let spool = self.spool.spool.clone();
                match tokio::task::spawn_blocking(move || spool.update(&entry)).await {
                    Ok(Ok(())) => {
                        tracing::warn!(queue_id = %queue_id, kind, target, attempts, retry_in_seconds = delay.as_secs(), error = %why, "{unavailable}")
                    }
                    Ok(Err(e)) => {
                        tracing::error!(queue_id = %queue_id, error = %e, "spool: retry not recorded; will retry at the next scan")
                    }
                    Err(e) => {
                        tracing::error!(queue_id = %queue_id, error = %e, "spool task failed")
                    }
                }
            }
            Err(error) => {
                self.metrics.transport_error(role, !error.is_temporary());
                let why = match &error {
                    DeliveryError::Temporary(why) => format!(
                        "not delivered within the spool's max_age ({} attempts); last answer: {why}",
                        entry.attempts
                    ),
                    DeliveryError::Permanent(why) => format!("refused (5xx): {why}"),
                    DeliveryError::Refused(why) => format!("the command refused it: {why}"),
                };
                entry.last_answer = Some(error.to_string());
                match entry.purpose {
                    Purpose::Ticket => {
                        let note = ticket_note(&error, entry.attempts);
                        self.quarantine_ticket(entry, bytes, note, target).await
                    }
                    _ => self.give_up(entry, why, target).await,
                }
            }
        }
    }

    /// A reply's or release's fate in its message's quarantine record: delivered (`None`: the
    /// record says `sent` for a reply, `delivered` for a release) or `failed: <why>`.
    async fn record_fate(&self, purpose: &Purpose, failed: Option<&str>) {
        let fate = match (failed, purpose) {
            (Some(why), _) => format!("failed: {why}"),
            (None, Purpose::Release { .. }) => "delivered".to_string(),
            (None, _) => "sent".to_string(),
        };
        if let Purpose::AutoReply { .. } = purpose {
            self.metrics.auto_reply(&fate);
        }
        let (quarantine, purpose) = (self.quarantine.clone(), purpose.clone());
        let updated = tokio::task::spawn_blocking(move || match &purpose {
            Purpose::AutoReply { quarantine_id } => quarantine.set_reply(quarantine_id, &fate),
            Purpose::Release { quarantine_id } => quarantine.update(quarantine_id, |record| {
                set_release_outcome(record, &fate);
                Ok(())
            }),
            Purpose::Ticket | Purpose::Notification { .. } => Ok(()),
        })
        .await;
        match updated {
            Ok(Ok(())) => {}
            // Deleted by support staff meanwhile: nothing left to update.
            Ok(Err(QuarantineError::NotFound(_))) => {}
            Ok(Err(e)) => tracing::error!(error = %e, "quarantine record not updated"),
            Err(e) => tracing::error!(error = %e, "quarantine update task failed"),
        }
    }

    /// A reply, notification or release that can never be delivered: removed from the spool,
    /// logged, counted, and its fate written to its message's record.
    async fn give_up(&self, entry: SpoolEntry, why: String, target: String) {
        let kind = entry.purpose.as_str();
        tracing::error!(queue_id = %entry.id, kind, target, attempts = entry.attempts, reason = %why, "spool: not deliverable; given up");
        self.record_fate(&entry.purpose, Some(&why)).await;
        let spool = self.spool.spool.clone();
        let id = entry.id.clone();
        if let Ok(Err(e)) = tokio::task::spawn_blocking(move || spool.remove(&id)).await {
            tracing::error!(queue_id = %entry.id, error = %e, "spool: given-up entry not removed");
        }
    }

    /// Moves a ticket that cannot be delivered from the spool to the quarantine (stored first,
    /// then removed from the spool: a crash in between leaves it in both, never in neither).
    async fn quarantine_ticket(
        &self,
        entry: SpoolEntry,
        bytes: Vec<u8>,
        note: String,
        target: String,
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
            authentication: None,
            released: None,
            release_attempts: Vec::new(),
        };
        let kept = self.keep(record, bytes).await;
        let spool = self.spool.spool.clone();
        let id = entry.id.clone();
        let removed = match kept {
            Ok(()) => tokio::task::spawn_blocking(move || spool.remove(&id))
                .await
                .map_err(|e| e.to_string())
                .and_then(|r| r.map_err(|e| e.to_string())),
            Err(e) => Err(e),
        };
        match removed {
            Ok(()) => {
                tracing::warn!(queue_id = %entry.id, target, attempts = entry.attempts, reason = %note, "spool: not deliverable; moved to the quarantine")
            }
            Err(e) => {
                tracing::error!(queue_id = %entry.id, target, error = %e, reason = %note, "spool: not deliverable and not quarantined; stays in the spool");
                self.postpone(entry).await;
            }
        }
    }

    /// The quarantine could not take it: tried again after the schedule's next delay.
    async fn postpone(&self, mut entry: SpoolEntry) {
        entry.next_attempt =
            super::unix_now() + self.spool.settings.retry_delay(entry.attempts).as_secs();
        let queue_id = entry.id.clone();
        let spool = self.spool.spool.clone();
        if let Ok(Err(e)) = tokio::task::spawn_blocking(move || spool.update(&entry)).await {
            tracing::error!(queue_id = %queue_id, error = %e, "spool: next attempt not recorded");
        }
    }
}

/// Why a ticket is in the quarantine instead of the ticket queue.
fn ticket_note(error: &DeliveryError, attempts: u32) -> String {
    match error {
        DeliveryError::Temporary(why) => format!(
            "not delivered to the ticket queue within the spool's max_age ({attempts} attempts); last answer: {why}"
        ),
        DeliveryError::Permanent(why) => {
            format!("the ticket queue refused it (5xx); answer: {why}")
        }
        DeliveryError::Refused(why) => format!("the ticket queue command refused it: {why}"),
    }
}

/// The effective release's outcome; a failed release no longer counts as released, so that
/// support staff can release the message again.
fn set_release_outcome(record: &mut QuarantineRecord, outcome: &str) {
    if let Some(release) = record.released.as_mut() {
        release.outcome = outcome.to_string();
        if let Some(attempt) = record
            .release_attempts
            .iter_mut()
            .rev()
            .find(|a| a.by == release.by && a.at == release.at)
        {
            attempt.outcome = outcome.to_string();
        }
    }
    if outcome.starts_with("failed") {
        record.released = None;
    }
}
