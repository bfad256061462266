//! `forward`: the message with our trace headers to the ticket queue — into the spool (fsync'd,
//! delivered in the background) when `[spool]` is on, else straight to the target before the
//! final reply.

use super::{Acted, Actor, AutoReply, Decided, Defer, Forwarding, Outcome, Received};
use crate::delivery::headers::{forwarded_message, Trace};
use crate::delivery::{DeliveryContext, DeliveryError, Parcel};
use crate::metrics::TransportRole;
use crate::pipeline::engine::Engine;
use crate::store::quarantine::DecisionRecord;
use crate::store::spool::{Purpose, SpoolEntry};

impl Actor {
    pub(super) async fn forward(
        &self,
        engine: &Engine,
        received: &Received,
        decided: &Decided,
    ) -> Acted {
        if received.forwarding == Forwarding::Mta {
            // The milter front stamps it (`stamp_fields`) and the MTA delivers it.
            return self.acted(decided, Outcome::Passed);
        }
        let date = crate::reply::rfc5322_date(received.received_at);
        let trace = Trace {
            hostname: &engine.config.server.hostname,
            queue_id: &decided.queue_id,
            peer_ip: Some(received.client.peer.ip()),
            helo: received.client.helo.as_deref(),
            tls: received.client.tls,
            recipient: decided.recipients.first().map(String::as_str),
            date: &date,
        };
        let bytes = forwarded_message(&received.bytes, &trace, &received.auth, &decided.decision);
        if self.spool.settings.enabled {
            let entry = spool_entry(received, decided, Purpose::Ticket);
            return match self.spool_store(entry, bytes).await {
                Ok(()) => self.acted(decided, Outcome::Spooled),
                Err(e) => {
                    tracing::error!(queue_id = %decided.queue_id, error = %e, "spool not writable; client told to retry");
                    self.acted(decided, Outcome::Deferred(Defer::Storage))
                }
            };
        }
        let context = context_of(decided);
        let parcel = Parcel {
            mail_from: received.mail_from.as_deref(),
            recipients: &decided.recipients,
            bytes: &bytes,
            unique: &decided.queue_id,
            context: &context,
        };
        let target = self.queue.description();
        match self.queue.deliver(parcel).await {
            Ok(()) => self.acted(decided, Outcome::Forwarded),
            Err(DeliveryError::Temporary(why)) => {
                self.metrics.transport_error(TransportRole::Queue, false);
                tracing::warn!(queue_id = %decided.queue_id, target, error = %why, "ticket queue unavailable; client told to retry");
                self.acted(decided, Outcome::Deferred(Defer::TicketQueue))
            }
            Err(DeliveryError::Refused(why)) => {
                // A pipe command refused it: kept for support staff, logged with its reason.
                self.metrics.transport_error(TransportRole::Queue, true);
                tracing::warn!(queue_id = %decided.queue_id, target, error = %why, "ticket queue command refused the message; kept in the quarantine");
                let note = format!("the ticket queue command refused it: {why}");
                self.keep_received(received, decided, &note, AutoReply::None)
                    .await
            }
            Err(DeliveryError::Permanent(why)) => {
                self.metrics.transport_error(TransportRole::Queue, true);
                tracing::warn!(queue_id = %decided.queue_id, target, error = %why, "ticket queue refused the message");
                self.acted(decided, Outcome::RefusedUpstream)
            }
        }
    }

    /// Writes one entry to the spool; returns once the batch that carries it is fsync'd (its
    /// delivery hears of it from the writer). On failure nothing partial is ever delivered
    /// and the spool's disk error is counted.
    pub(super) async fn spool_store(
        &self,
        entry: SpoolEntry,
        bytes: Vec<u8>,
    ) -> Result<(), String> {
        let stored = match self.live_spool().await {
            Ok(live) => live.store(entry, bytes).await,
            Err(e) => Err(e),
        };
        match stored {
            Ok(()) => Ok(()),
            Err(e) => {
                self.metrics.transport_error(TransportRole::Spool, false);
                Err(e)
            }
        }
    }
}

/// What a `pipe:` command is told about the decision.
pub(super) fn context_of(decided: &Decided) -> DeliveryContext {
    let decision = &decided.decision;
    DeliveryContext {
        queue_id: decided.queue_id.clone(),
        account: decision.account.clone(),
        agent: decision.agent.clone(),
        role: decision.role.map(|r| r.as_str().to_string()),
        sender: decision.sender.clone(),
    }
}

/// The spool entry of a message just decided (the ticket itself; replies change the envelope).
pub(super) fn spool_entry(received: &Received, decided: &Decided, purpose: Purpose) -> SpoolEntry {
    SpoolEntry {
        id: decided.queue_id.clone(),
        received_at: received.received_at,
        mail_from: received.mail_from.clone(),
        recipients: decided.recipients.clone(),
        peer: Some(received.client.peer.to_string()),
        helo: received.client.helo.clone(),
        subject: Some(received.facts.subject.clone()),
        message_id: received.facts.message_id.clone(),
        sender: decided.decision.sender.clone(),
        decision: DecisionRecord::from_decision(&decided.decision),
        attempts: 0,
        next_attempt: received.received_at,
        last_answer: None,
        purpose,
    }
}
