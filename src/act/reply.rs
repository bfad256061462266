//! `reply`: keep the refused message, then queue the auto-reply and (P4) the owner/admin
//! notifications in the durable spool. The spool delivery sends them with the same retries as
//! forwarded mail and writes their fate into the quarantine record (`queued`, then `sent` or
//! `failed: …`): a reply is never lost silently when the reply transport is down.

use super::{Acted, Actor, AutoReply, Decided, Received};
use crate::pipeline::engine::Engine;
use crate::policy::ReplyPlan;
use crate::reply::OutgoingMessage;
use crate::store::quarantine::DecisionRecord;
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
        // Decisions are made for every account of a transaction before any acts: a reply
        // queued for an earlier one in the same transaction counts too.
        let since = received
            .received_at
            .saturating_sub(engine.config.replies.interval.as_secs());
        if self.reply_memory.replied_since(to, decision.reason, since) {
            let note = "auto-reply suppressed: already-replied";
            let suppressed = AutoReply::Suppressed("already-replied".into());
            return self
                .keep_received(received, decided, note, suppressed)
                .await;
        }
        let (now, token) = (received.received_at, decided.queue_id.as_str());
        let notifications = engine
            .compose_notifications(decision, &received.facts, now, token)
            .unwrap_or_else(|e| {
                tracing::error!(queue_id = %decided.queue_id, error = %e, "notification not composed");
                Vec::new()
            });
        let notified = !notifications.is_empty();
        let reply = match engine.compose_reply(decision, to, &received.facts, notified, now, token)
        {
            Ok(reply) => reply,
            Err(e) => {
                tracing::error!(queue_id = %decided.queue_id, error = %e, "auto-reply not composed");
                let failed = AutoReply::Failed(format!("not composed: {e}"));
                return self
                    .keep_received(received, decided, "auto-reply not composed", failed)
                    .await;
            }
        };
        let kept = self
            .keep_received(received, decided, "auto-reply queued", AutoReply::Queued)
            .await;
        if !kept.outcome.is_safe() {
            return kept;
        }
        // Claimed before it is queued: one reply per address and reason per interval, even
        // if the process stops before the spool delivers it.
        if let Err(e) = self.reply_memory.record(to, decision.reason, now) {
            tracing::warn!(queue_id = %decided.queue_id, error = %e, "reply memory not updated");
        }
        let quarantine_id = decided.queue_id.clone();
        for (i, note) in notifications.iter().enumerate() {
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

/// A spool entry for a message we send ourselves (null reverse-path, our own recipients).
fn outgoing_entry(
    id: String,
    received: &Received,
    decided: &Decided,
    message: &OutgoingMessage,
    purpose: Purpose,
) -> SpoolEntry {
    SpoolEntry {
        id,
        received_at: received.received_at,
        mail_from: message.mail_from.clone(),
        recipients: message.recipients.clone(),
        peer: None,
        helo: None,
        subject: Some(message.subject.clone()),
        message_id: None,
        sender: decided.decision.sender.clone(),
        decision: DecisionRecord::from_decision(&decided.decision),
        attempts: 0,
        next_attempt: received.received_at,
        last_answer: None,
        purpose,
    }
}
