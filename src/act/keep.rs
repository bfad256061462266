//! The one `keep`: a message into the quarantine, fsync'd, with its envelope, decision and why.
//! Used for refused mail at reception and by the spool delivery for what cannot be delivered.

use super::{Acted, Actor, AutoReply, Decided, Defer, Outcome, Received};
use crate::delivery::headers::authentication_results_value;
use crate::store::quarantine::{DecisionRecord, QuarantineRecord};

impl Actor {
    /// Stores `record` and `bytes`; returns once both are on disk. A message already there (a
    /// crash came after the quarantine took it, before the spool let go) is left as it is.
    pub(super) async fn keep(
        &self,
        record: QuarantineRecord,
        bytes: Vec<u8>,
    ) -> Result<(), String> {
        self.keep_with_reply(record, bytes, None).await
    }

    /// [`Actor::keep`], with the auto-reply composed for the message beside it.
    async fn keep_with_reply(
        &self,
        record: QuarantineRecord,
        bytes: Vec<u8>,
        reply: Option<Vec<u8>>,
    ) -> Result<(), String> {
        let quarantine = self.quarantine.clone();
        tokio::task::spawn_blocking(move || {
            std::fs::create_dir_all(quarantine.root())
                .map_err(|e| format!("{}: {e}", quarantine.root().display()))?;
            if quarantine.record(&record.id).is_ok() {
                return Ok(());
            }
            quarantine
                .store_with_reply(&record, &bytes, reply.as_deref())
                .map(|_| ())
                .map_err(|e| e.to_string())
        })
        .await
        .map_err(|e| e.to_string())?
    }

    /// Keeps a message just decided; `Quarantined` once it is fsync'd, `Deferred(Storage)` if
    /// the disk refuses (the client keeps the message and retries).
    pub(super) async fn keep_received(
        &self,
        received: &Received,
        decided: &Decided,
        note: &str,
        auto_reply: AutoReply,
    ) -> Acted {
        self.keep_received_with_reply(received, decided, note, auto_reply, None)
            .await
    }

    /// [`Actor::keep_received`], with the auto-reply about to be queued (its bytes).
    pub(super) async fn keep_received_with_reply(
        &self,
        received: &Received,
        decided: &Decided,
        note: &str,
        auto_reply: AutoReply,
        reply: Option<Vec<u8>>,
    ) -> Acted {
        let record = record_of(received, decided, note, &auto_reply);
        match self
            .keep_with_reply(record, received.bytes.clone(), reply)
            .await
        {
            Ok(()) => Acted {
                queue_id: decided.queue_id.clone(),
                recipients: decided.recipients.clone(),
                outcome: Outcome::Quarantined,
                auto_reply,
            },
            Err(e) => {
                tracing::error!(queue_id = %decided.queue_id, error = %e, "quarantine not writable; client told to retry");
                self.acted(decided, Outcome::Deferred(Defer::Storage))
            }
        }
    }
}

/// The quarantine record of a message just decided.
pub(super) fn record_of(
    received: &Received,
    decided: &Decided,
    note: &str,
    auto_reply: &AutoReply,
) -> QuarantineRecord {
    let facts = &received.facts;
    let mut decision = DecisionRecord::from_decision(&decided.decision);
    decision.reply = auto_reply.to_string();
    QuarantineRecord {
        id: decided.queue_id.clone(),
        received_at: received.received_at,
        peer: Some(received.client.peer.to_string()),
        helo: received.client.helo.clone(),
        mail_from: received.mail_from.clone().unwrap_or_default(),
        recipients: decided.recipients.clone(),
        from_header: decided.decision.sender.clone(),
        subject: Some(facts.subject.clone()),
        message_id: facts.message_id.clone(),
        size: received.bytes.len() as u64,
        decision,
        note: note.to_string(),
        authentication: Some(authentication_results_value(&received.auth)),
        released: None,
        release_attempts: Vec::new(),
    }
}
