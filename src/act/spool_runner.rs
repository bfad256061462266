//! One spooled message's delivery, for the [`super::scheduler`]: tickets and releases to the
//! ticket queue, auto-replies and notifications to `[replies] transport`.
//!
//! Success: the message is marked done, and the quarantine record of a reply or release says
//! so. A temporary failure: the next attempt follows `[spool] retry_schedule`. A permanent
//! refusal or `[spool] max_age`: a ticket goes to the quarantine with the upstream's last
//! answer (never dropped); a reply is given up, logged, counted and recorded as
//! `failed: <answer>` in its message's record.

use super::Actor;
use crate::delivery::{DeliveryContext, DeliveryError, Parcel, Target};
use crate::metrics::TransportRole;
use crate::store::quarantine::{QuarantineError, QuarantineRecord};
use crate::store::spool::index::Location;
use crate::store::spool::{LiveSpool, MessageKey, Purpose, RetryState, SpoolEntry};
use std::sync::Arc;

pub use super::scheduler::{ADOPT_EVERY, CONCURRENCY};

impl Actor {
    /// Delivers everything due now, one after the other (`flush`: whatever its retry time);
    /// returns how many messages were attempted. For tests and tools; `serve` runs
    /// [`super::scheduler::run`].
    pub async fn deliver_waiting(&self, flush: bool) -> usize {
        let Ok(live) = self.live_spool().await else {
            return 0;
        };
        let now = super::unix_now();
        let due: Vec<String> = live
            .waiting_entries()
            .into_iter()
            .filter(|e| flush || e.next_attempt <= now)
            .map(|e| e.id)
            .collect();
        for id in &due {
            self.deliver_id(id, None).await;
        }
        due.len()
    }

    /// How many messages wait in the spool.
    pub async fn spool_waiting(&self) -> usize {
        self.live_spool().await.map_or(0, |live| live.backlog().0)
    }

    fn target_for(&self, purpose: &Purpose) -> (&dyn Target, TransportRole) {
        if purpose.is_reply() {
            (self.replies.as_ref(), TransportRole::Replies)
        } else {
            (self.queue.as_ref(), TransportRole::Queue)
        }
    }

    /// Attempts waiting message `id` once, with its bytes if the caller has them (a new
    /// message: [`super::scheduler::FreshBytes`]), else read from its segment; returns when
    /// it is due again, if it still waits.
    pub(super) async fn deliver_id(&self, id: &str, bytes: Option<Vec<u8>>) -> Option<u64> {
        let live = self.live_spool().await.ok()?;
        // Delivered, deleted (`queue delete`) or given up meanwhile: nothing to do.
        let (key, stored) = live.waiting(id)?;
        let bytes = match bytes {
            Some(bytes) => bytes,
            None => match self.read_stored(&live, id, &key, stored.at).await {
                Ok(bytes) => bytes,
                Err(again) => return again,
            },
        };
        self.attempt(&live, key, stored.entry, bytes).await
    }

    /// A waiting message's bytes from its segment, on the blocking pool. `Err(when)`: not
    /// readable now; tried again then.
    async fn read_stored(
        &self,
        live: &Arc<LiveSpool>,
        id: &str,
        key: &MessageKey,
        at: Location,
    ) -> Result<Vec<u8>, Option<u64>> {
        let read = {
            let (live, key) = (Arc::clone(live), key.clone());
            tokio::task::spawn_blocking(move || live.read_bytes(&key, at)).await
        };
        match read {
            Ok(Ok(bytes)) => Ok(bytes),
            Ok(Err(e)) => {
                // Its segment went with the message's last marker: nothing waits any more.
                if live.waiting(id).is_none() {
                    return Err(None);
                }
                tracing::error!(queue_id = %id, error = %e, "spool: message not readable; will retry");
                Err(Some(
                    super::unix_now() + self.spool.settings.retry_delay(1).as_secs(),
                ))
            }
            Err(e) => {
                tracing::error!(queue_id = %id, error = %e, "spool read task failed");
                Err(Some(
                    super::unix_now() + self.spool.settings.retry_delay(1).as_secs(),
                ))
            }
        }
    }

    async fn attempt(
        &self,
        live: &LiveSpool,
        key: MessageKey,
        mut entry: SpoolEntry,
        bytes: Vec<u8>,
    ) -> Option<u64> {
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
                live.mark_done(&key);
                self.metrics.spool_delivery("delivered");
                tracing::info!(queue_id = %entry.id, kind, target, attempts = entry.attempts, age_seconds = age, "{delivered}");
                None
            }
            Err(DeliveryError::Temporary(why)) if age < self.spool.settings.max_age.as_secs() => {
                self.metrics.transport_error(role, false);
                self.metrics.spool_delivery("deferred");
                let delay = self.spool.settings.retry_delay(entry.attempts);
                let next_attempt = super::unix_now() + delay.as_secs();
                live.record_attempt(RetryState {
                    key,
                    attempts: entry.attempts,
                    next_attempt,
                    last_answer: Some(why.clone()),
                });
                tracing::warn!(queue_id = %entry.id, kind, target, attempts = entry.attempts, retry_in_seconds = delay.as_secs(), error = %why, "{unavailable}");
                Some(next_attempt)
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
                        self.quarantine_ticket(live, key, entry, bytes, note, target)
                            .await
                    }
                    _ => {
                        self.give_up(live, &key, entry, why, target).await;
                        None
                    }
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
        match purpose {
            Purpose::AutoReply { .. } => self.metrics.auto_reply(&fate),
            Purpose::Release { .. } => {}
            // No record to update: no task to hand the nothing to.
            Purpose::Ticket | Purpose::Notification { .. } => return,
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
    async fn give_up(
        &self,
        live: &LiveSpool,
        key: &MessageKey,
        entry: SpoolEntry,
        why: String,
        target: String,
    ) {
        let kind = entry.purpose.as_str();
        tracing::error!(queue_id = %entry.id, kind, target, attempts = entry.attempts, reason = %why, "spool: not deliverable; given up");
        self.record_fate(&entry.purpose, Some(&why)).await;
        live.mark_done(key);
        self.metrics.spool_delivery("failed");
    }

    /// Moves a ticket that cannot be delivered from the spool to the quarantine (stored first,
    /// then done in the spool: a crash in between leaves it in both, never in neither).
    /// Returns when it is due again if the quarantine could not take it.
    async fn quarantine_ticket(
        &self,
        live: &LiveSpool,
        key: MessageKey,
        entry: SpoolEntry,
        bytes: Vec<u8>,
        note: String,
        target: String,
    ) -> Option<u64> {
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
        match self.keep(record, bytes).await {
            Ok(()) => {
                live.mark_done(&key);
                self.metrics.spool_delivery("quarantined");
                tracing::warn!(queue_id = %entry.id, target, attempts = entry.attempts, reason = %note, "spool: not deliverable; moved to the quarantine");
                None
            }
            Err(e) => {
                // Tried again after the schedule's next delay.
                tracing::error!(queue_id = %entry.id, target, error = %e, reason = %note, "spool: not deliverable and not quarantined; stays in the spool");
                let next_attempt =
                    super::unix_now() + self.spool.settings.retry_delay(entry.attempts).as_secs();
                live.record_attempt(RetryState {
                    key,
                    attempts: entry.attempts,
                    next_attempt,
                    last_answer: entry.last_answer,
                });
                Some(next_attempt)
            }
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
