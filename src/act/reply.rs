//! `reply`: keep the refused message, then queue the auto-reply and (P4) the owner/admin
//! notifications in the durable spool. The spool delivery sends them with the same retries as
//! forwarded mail and writes their fate into the quarantine record (`queued`, then `sent` or
//! `failed: …`): a reply is never lost silently when the reply transport is down.

use super::budget::Spend;
use super::{Acted, Actor, AutoReply, Decided, Received};
use crate::pipeline::engine::Engine;
use crate::policy::reply_to::reply_memory_key;
use crate::policy::ReplyPlan;
use crate::reply::OutgoingMessage;
use crate::store::reply_memory::{notification_key, reply_key};
use crate::store::spool::{Purpose, SpoolEntry};

impl Actor {
    pub(super) async fn reply_and_keep(
        &self,
        engine: &Engine,
        received: &Received,
        decided: &Decided,
    ) -> Acted {
        let decision = &decided.decision;
        let ReplyPlan::Send { to } = &decision.reply else {
            let why = match &decision.reply {
                ReplyPlan::Suppressed(why) => why.code(),
                _ => "not-applicable",
            };
            let note = format!("auto-reply suppressed: {why}");
            let suppressed = AutoReply::Suppressed(why.to_string());
            return self
                .keep_received(received, decided, &note, suppressed)
                .await;
        };
        let (now, token) = (received.received_at, decided.queue_id.as_str());
        let config = &engine.config;
        let since = now.saturating_sub(config.replies.interval.as_secs());
        let separator = config.address_rules.subaddress_separator;
        // One reply per address (untagged) and reason per interval, claimed atomically: two
        // sessions racing on the same sender, or two accounts of one transaction, send one.
        let reply_claim = reply_key(&reply_memory_key(to, separator), decision.reason);
        match self.claim(&reply_claim, now, since).await {
            Ok(true) => {}
            Ok(false) => {
                let note = "auto-reply suppressed: already-replied";
                let suppressed = AutoReply::Suppressed("already-replied".into());
                return self
                    .keep_received(received, decided, note, suppressed)
                    .await;
            }
            Err(e) => {
                // A missing reply is better than a reply storm.
                tracing::error!(queue_id = %decided.queue_id, error = %e, "reply memory unavailable; reply suppressed");
                let suppressed = AutoReply::Suppressed("reply-memory-unavailable".into());
                let note = "auto-reply suppressed: reply memory unavailable";
                return self
                    .keep_received(received, decided, note, suppressed)
                    .await;
            }
        }
        if !self.within_budget(engine, now, &decided.queue_id) {
            self.unclaim(&reply_claim).await;
            let note = "auto-reply suppressed: [replies] max_per_hour reached";
            let suppressed = AutoReply::Suppressed("rate-limit".into());
            return self
                .keep_received(received, decided, note, suppressed)
                .await;
        }
        let notifications = self
            .notifications_due(engine, received, decided, since)
            .await;
        // Nothing is owed until the message is kept: a failure below gives every claim back.
        let reply = match engine.compose_reply(
            decision,
            to,
            &received.facts,
            notifications.told,
            now,
            token,
        ) {
            Ok(reply) => reply,
            Err(e) => {
                tracing::error!(queue_id = %decided.queue_id, error = %e, "auto-reply not composed");
                self.give_back(&reply_claim, &notifications).await;
                let failed = AutoReply::Failed(format!("not composed: {e}"));
                return self
                    .keep_received(received, decided, "auto-reply not composed", failed)
                    .await;
            }
        };
        let kept = self
            .keep_received_with_reply(
                received,
                decided,
                "auto-reply queued",
                AutoReply::Queued,
                Some(reply.bytes.clone()),
            )
            .await;
        if !kept.outcome.is_safe() {
            // The client retries: neither the reply nor the notifications are owed yet.
            self.give_back(&reply_claim, &notifications).await;
            return kept;
        }
        let quarantine_id = decided.queue_id.clone();
        for (i, note) in notifications.due.iter().enumerate() {
            let id = format!("{}-notify{i}", decided.queue_id);
            let purpose = Purpose::Notification {
                quarantine_id: quarantine_id.clone(),
            };
            let entry = outgoing_entry(id, received, decided, note, purpose);
            if let Err(e) = self.spool_store(entry, note.bytes.clone()).await {
                tracing::error!(queue_id = %decided.queue_id, error = %e, "owner/admin notification not queued: spool not writable");
            }
        }
        let id = format!("{}-reply", decided.queue_id);
        let entry = outgoing_entry(
            id,
            received,
            decided,
            &reply,
            Purpose::AutoReply { quarantine_id },
        );
        match self.spool_store(entry, reply.bytes).await {
            Ok(()) => kept,
            Err(e) => {
                tracing::error!(queue_id = %decided.queue_id, error = %e, "auto-reply not queued: spool not writable; the message stays in the quarantine");
                let failed = AutoReply::Failed(format!("not queued: {e}"));
                let (quarantine, id, text) = (
                    self.quarantine.clone(),
                    decided.queue_id.clone(),
                    failed.to_string(),
                );
                let updated =
                    tokio::task::spawn_blocking(move || quarantine.set_reply(&id, &text)).await;
                if !matches!(updated, Ok(Ok(()))) {
                    tracing::error!(queue_id = %decided.queue_id, "quarantine record not updated with the failed reply");
                }
                Acted {
                    auto_reply: failed,
                    ..kept
                }
            }
        }
    }
}

impl Actor {
    /// [`crate::store::reply_memory::ReplyMemory::claim`]; a store error is counted.
    async fn claim(
        &self,
        key: &str,
        at: u64,
        since: u64,
    ) -> Result<bool, crate::store::state_error::StateError> {
        let claimed = self.reply_memory.claim(key, at, since).await;
        if claimed.is_err() {
            self.metrics.state_error("reply_memory");
        }
        claimed
    }

    /// The reply's claim and the notifications', when what they were taken for did not happen.
    async fn give_back(&self, reply_claim: &str, notifications: &Notifications) {
        self.unclaim(reply_claim).await;
        if let Some(claim) = &notifications.claim {
            self.unclaim(claim).await;
        }
    }

    async fn unclaim(&self, key: &str) {
        if let Err(e) = self.reply_memory.unclaim(key).await {
            self.metrics.state_error("reply_memory");
            tracing::warn!(
                key = %crate::printable::one_line(key),
                error = %e,
                "reply memory: claim not given back"
            );
        }
    }

    /// One message out of `[replies] max_per_hour`; the first refusal of the hour is logged.
    pub(super) fn within_budget(&self, engine: &Engine, now: u64, queue_id: &str) -> bool {
        let max = engine.config.replies.max_per_hour;
        match self.budget.take(now, max) {
            Spend::Granted => true,
            Spend::Refused { first } => {
                if first {
                    tracing::warn!(queue_id, max_per_hour = max, "auto-reply cap reached ([replies] max_per_hour); replies and notifications suppressed until the hour ends");
                }
                false
            }
        }
    }

    /// P4: the notifications to send now. At most one per requester, category and interval,
    /// claimed here; each one is taken from the hourly cap.
    async fn notifications_due(
        &self,
        engine: &Engine,
        received: &Received,
        decided: &Decided,
        since: u64,
    ) -> Notifications {
        let none = Notifications::default();
        let decision = &decided.decision;
        let (Some(requester), Some(category)) = (&decision.sender, &decision.category) else {
            return none;
        };
        let now = received.received_at;
        let composed = engine
            .compose_notifications(decision, &received.facts, now, &decided.queue_id)
            .unwrap_or_else(|e| {
                tracing::error!(queue_id = %decided.queue_id, error = %e, "notification not composed");
                Vec::new()
            });
        if composed.is_empty() {
            return none;
        }
        let key = notification_key(requester, category);
        match self.claim(&key, now, since).await {
            Ok(true) => {}
            // Told about the same request within the interval.
            Ok(false) => return Notifications { told: true, ..none },
            Err(e) => {
                tracing::error!(queue_id = %decided.queue_id, error = %e, "reply memory unavailable; owner/admin notification suppressed");
                return none;
            }
        }
        let mut due = Vec::with_capacity(composed.len());
        for note in composed {
            if self.within_budget(engine, now, &decided.queue_id) {
                due.push(note);
            } else {
                self.metrics.auto_reply("suppressed:rate-limit");
            }
        }
        if due.is_empty() {
            self.unclaim(&key).await;
            return none;
        }
        Notifications {
            due,
            told: true,
            claim: Some(key),
        }
    }
}

/// What [`Actor::notifications_due`] found for one P4 decision.
#[derive(Default)]
struct Notifications {
    /// To queue now.
    due: Vec<OutgoingMessage>,
    /// The owner and admins are told (now, or about the same request within the interval):
    /// the reply says so.
    told: bool,
    /// The claim taken for `due`, given back if the message cannot be kept after all.
    claim: Option<String>,
}

/// A spool entry for a message we send ourselves (null reverse-path, our own recipients).
pub(super) fn outgoing_entry(
    id: String,
    received: &Received,
    decided: &Decided,
    message: &OutgoingMessage,
    purpose: Purpose,
) -> SpoolEntry {
    SpoolEntry {
        id,
        mail_from: message.mail_from.clone(),
        recipients: message.recipients.clone(),
        peer: None,
        helo: None,
        subject: Some(message.subject.clone()),
        message_id: None,
        ..super::forward::spool_entry(received, decided, purpose)
    }
}
