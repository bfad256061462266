//! `forward` with the spool on: the forwarded bytes, envelope and decision are written to the
//! spool (fsync'd) before the `250`; the spool delivery hands them to the ticket queue later.

use super::act::Acted;
use super::act::Decided;
use super::Gateway;
use crate::metrics::TransportRole;
use crate::smtp::{self, SessionInfo, SmtpReply};
use crate::store::quarantine::DecisionRecord;
use crate::store::spool::{Spool, SpoolEntry};

/// `250 Queued as ID` once the message is in the spool; `452 4.3.1` if the disk refuses
/// (nothing partial is left; the client keeps the message and retries).
pub(super) async fn accept(
    gateway: &Gateway,
    spool: &Spool,
    session: &SessionInfo,
    envelope: &smtp::Envelope,
    decided: &Decided,
    forwarded: &[u8],
) -> Acted {
    let entry = SpoolEntry {
        id: decided.queue_id.clone(),
        received_at: decided.now,
        mail_from: envelope.mail_from.clone(),
        recipients: decided.recipients.clone(),
        peer: Some(session.peer.to_string()),
        helo: session.helo.clone(),
        subject: Some(decided.facts.subject.clone()),
        message_id: decided.facts.message_id.clone(),
        sender: decided.decision.sender.clone(),
        decision: DecisionRecord::from_decision(&decided.decision),
        attempts: 0,
        next_attempt: decided.now,
        last_answer: None,
    };
    let (spool_copy, bytes) = (spool.clone(), forwarded.to_vec());
    let stored = tokio::task::spawn_blocking(move || {
        spool_copy.create()?;
        spool_copy.store(&entry, &bytes)
    })
    .await
    .map_err(|e| e.to_string())
    .and_then(|r| r.map_err(|e| e.to_string()));
    match stored {
        Ok(()) => {
            gateway.wake_spool_delivery();
            Acted {
                reply: SmtpReply::accepted(format!("Queued as {}", decided.queue_id)),
                outcome: "spooled".into(),
                auto_reply: "none".into(),
            }
        }
        Err(e) => {
            gateway.metrics.transport_error(TransportRole::Spool, false);
            tracing::error!(queue_id = %decided.queue_id, error = %e, "spool not writable; client told to retry");
            Acted::storage_unavailable()
        }
    }
}
