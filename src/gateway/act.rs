//! The act stage for one decision: forward, reply (and keep), reject or quarantine (SPEC §4),
//! and the SMTP answer each outcome earns. 250 only when the message is safe.

use super::Gateway;
use crate::authentication::Connection;
use crate::delivery::headers::{forwarded_message, Trace};
use crate::delivery::transport::{DeliveryContext, DeliveryError};
use crate::metrics::TransportRole;
use crate::pipeline::{parse_message, Engine};
use crate::policy::{Action, AuthResult, Decision, Envelope, MessageFacts, Reason, ReplyPlan};
use crate::smtp::{self, SessionInfo, SmtpReply};
use crate::store::quarantine::{DecisionRecord, QuarantineRecord};
use std::time::Instant;

/// One account concerned in a transaction, decided but not yet acted on.
pub(super) struct Decided {
    pub queue_id: String,
    pub recipients: Vec<String>,
    pub facts: MessageFacts,
    pub auth: AuthResult,
    pub decision: Decision,
    pub started: Instant,
    pub now: u64,
}

/// What was done, for the SMTP answer and the decision log.
pub(super) struct Acted {
    pub reply: SmtpReply,
    /// `forwarded`, `quarantined`, `rejected`, `deferred`, ...
    pub outcome: String,
    /// `sent`, `suppressed:<why>`, `failed`, `none`.
    pub auto_reply: String,
}

impl Acted {
    /// The disk (spool or quarantine) refused the write: the client keeps the message and
    /// retries (`452 4.3.1`).
    pub(super) fn storage_unavailable() -> Acted {
        Acted {
            reply: SmtpReply::new(
                452,
                (4, 3, 1),
                "Insufficient system storage, try again later",
            ),
            outcome: "deferred".into(),
            auto_reply: "none".into(),
        }
    }
}

pub(super) fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Authenticate, once per transaction (the result does not depend on the recipients): the
/// only step that may wait on the network (DNS in `verify` mode), done before the pure decide.
pub(super) async fn authenticate(
    engine: &Engine,
    session: &SessionInfo,
    envelope: &smtp::Envelope,
    message: &[u8],
) -> AuthResult {
    let facts = parse_message(message)
        .map(|parsed| engine.facts(&parsed))
        .unwrap_or_default();
    let connection = Connection {
        ip: session.peer.ip(),
        helo: session.helo.as_deref(),
        mail_from: envelope.mail_from.as_deref(),
    };
    engine.authenticate(&facts, message, &connection).await
}

/// Parse → identify → decide with the transaction's `auth`, for the recipients of one
/// account concerned.
pub(super) fn decide(
    gateway: &Gateway,
    engine: &Engine,
    envelope: &smtp::Envelope,
    recipients: Vec<String>,
    message: &[u8],
    auth: &AuthResult,
) -> Decided {
    let started = Instant::now();
    let now = unix_now();
    // A message without any header field still gets a decision: no From, so P7.
    let facts = parse_message(message)
        .map(|parsed| engine.facts(&parsed))
        .unwrap_or_default();
    let policy_envelope = Envelope {
        mail_from: envelope.mail_from.clone(),
        recipients: recipients.clone(),
    };
    let auth = auth.clone();
    let decision = engine.decide(
        &facts,
        &policy_envelope,
        &auth,
        gateway.reply_memory.as_ref(),
        now,
    );
    Decided {
        queue_id: crate::store::new_queue_id(),
        recipients,
        facts,
        auth,
        decision,
        started,
        now,
    }
}

#[allow(clippy::too_many_arguments)]
pub(super) async fn act(
    gateway: &Gateway,
    engine: &Engine,
    session: &SessionInfo,
    envelope: &smtp::Envelope,
    decided: &Decided,
    message: &[u8],
    action: Action,
    mixed: bool,
) -> Acted {
    let decision = &decided.decision;
    if decision.reason == Reason::UnauthenticatedSender && decided.auth.is_temporary_failure() {
        // DNS could not say: never a silent accept, never a final refusal.
        tracing::warn!(queue_id = %decided.queue_id, auth = %decided.auth.summary(), "sender authentication: DNS temporary failure");
        if engine.config.authentication.quarantine_on_temperror {
            let note = "authentication temperror (DNS); quarantined by configuration";
            return keep(gateway, session, envelope, decided, message, note, "none").await;
        }
        return Acted {
            reply: SmtpReply::new(
                451,
                (4, 4, 3),
                "Sender authentication temporarily unavailable, try again later",
            ),
            outcome: "deferred".into(),
            auto_reply: "none".into(),
        };
    }
    match action {
        Action::Forward => {
            let acted = forward(gateway, engine, session, envelope, decided, message).await;
            if mixed && acted.outcome == "refused-upstream" {
                // Other recipients of this transaction get a 250: this part must not be lost
                // behind it, so it is kept for support staff to release.
                let note =
                    "the ticket queue refused it; kept because other recipients were accepted";
                return keep(gateway, session, envelope, decided, message, note, "none").await;
            }
            acted
        }
        Action::Reject => Acted {
            reply: SmtpReply::new(550, (5, 7, 1), decision.reason.short_text()),
            outcome: "rejected".into(),
            auto_reply: "none".into(),
        },
        Action::Quarantine => {
            let note = match &decision.reply {
                ReplyPlan::Suppressed(why) => format!("quarantined; reply suppressed: {why}"),
                _ => "quarantined by configuration".to_string(),
            };
            keep(gateway, session, envelope, decided, message, &note, "none").await
        }
        Action::Reply => reply_and_keep(gateway, engine, session, envelope, decided, message).await,
    }
}

async fn forward(
    gateway: &Gateway,
    engine: &Engine,
    session: &SessionInfo,
    envelope: &smtp::Envelope,
    decided: &Decided,
    message: &[u8],
) -> Acted {
    let date = crate::reply::rfc5322_date(decided.now);
    let trace = Trace {
        hostname: &engine.config.server.hostname,
        queue_id: &decided.queue_id,
        peer_ip: Some(session.peer.ip()),
        helo: session.helo.as_deref(),
        tls: session.tls,
        recipient: decided.recipients.first().map(String::as_str),
        date: &date,
    };
    let bytes = forwarded_message(message, &trace, &decided.auth, &decided.decision);
    let decision = &decided.decision;
    let context = DeliveryContext {
        queue_id: decided.queue_id.clone(),
        account: decision.account.clone(),
        agent: decision.agent.clone(),
        role: decision.role.map(|r| r.as_str().to_string()),
        sender: decision.sender.clone(),
    };
    if let Some((spool, _)) = &gateway.spool {
        return super::spool_write::accept(gateway, spool, session, envelope, decided, &bytes)
            .await;
    }
    let result = gateway
        .queue
        .send_with(
            envelope.mail_from.as_deref(),
            &decided.recipients,
            &bytes,
            &decided.queue_id,
            Some(&context),
        )
        .await;
    match result {
        Ok(()) => Acted {
            reply: SmtpReply::accepted(format!("Queued as {}", decided.queue_id)),
            outcome: "forwarded".into(),
            auto_reply: "none".into(),
        },
        Err(DeliveryError::Temporary(why)) => {
            gateway.metrics.transport_error(TransportRole::Queue, false);
            tracing::warn!(queue_id = %decided.queue_id, target = gateway.queue.description(), error = %why, "ticket queue unavailable; client told to retry");
            Acted {
                reply: SmtpReply::new(451, (4, 4, 1), "Ticket queue unavailable, try again later"),
                outcome: "deferred".into(),
                auto_reply: "none".into(),
            }
        }
        Err(DeliveryError::Refused(why)) => {
            // A pipe command refused it: kept for support staff, logged with its reason.
            gateway.metrics.transport_error(TransportRole::Queue, true);
            tracing::warn!(queue_id = %decided.queue_id, target = gateway.queue.description(), error = %why, "ticket queue command refused the message; kept in the quarantine");
            let note = format!("the ticket queue command refused it: {why}");
            keep(gateway, session, envelope, decided, message, &note, "none").await
        }
        Err(DeliveryError::Permanent(why)) => {
            gateway.metrics.transport_error(TransportRole::Queue, true);
            tracing::warn!(queue_id = %decided.queue_id, target = gateway.queue.description(), error = %why, "ticket queue refused the message");
            Acted {
                reply: SmtpReply::new(554, (5, 0, 0), "The ticket queue refused this message"),
                outcome: "refused-upstream".into(),
                auto_reply: "none".into(),
            }
        }
    }
}

/// Keeps the message in the quarantine first (so it is safe whatever happens next), then sends
/// the auto-reply and, for P4, the notifications.
async fn reply_and_keep(
    gateway: &Gateway,
    engine: &Engine,
    session: &SessionInfo,
    envelope: &smtp::Envelope,
    decided: &Decided,
    message: &[u8],
) -> Acted {
    let decision = &decided.decision;
    let ReplyPlan::Send { to } = &decision.reply else {
        let why = match &decision.reply {
            ReplyPlan::Suppressed(why) => why.code(),
            _ => "not applicable",
        };
        let note = format!("auto-reply suppressed: {why}");
        return keep(
            gateway,
            session,
            envelope,
            decided,
            message,
            &note,
            &format!("suppressed:{why}"),
        )
        .await;
    };
    // Decisions are made for every account of a transaction before any acts: a reply sent
    // for an earlier one in the same transaction counts too.
    let since = decided
        .now
        .saturating_sub(engine.config.replies.interval.as_secs());
    if gateway
        .reply_memory
        .replied_since(to, decision.reason, since)
    {
        let note = "auto-reply suppressed: already-replied";
        let outcome = "suppressed:already-replied";
        return keep(gateway, session, envelope, decided, message, note, outcome).await;
    }
    let kept = keep(
        gateway,
        session,
        envelope,
        decided,
        message,
        "auto-reply sent",
        "sent",
    )
    .await;
    if !kept.reply.is_positive() {
        return kept;
    }
    let notified = notify_privileged(gateway, engine, decided).await;
    let auto_reply = match engine.compose_reply(
        decision,
        to,
        &decided.facts,
        notified,
        decided.now,
        &decided.queue_id,
    ) {
        Ok(reply) => {
            match gateway
                .replies
                .send(
                    None,
                    &reply.recipients,
                    &reply.bytes,
                    &format!("{}-reply", decided.queue_id),
                )
                .await
            {
                Ok(()) => {
                    if let Err(e) = gateway
                        .reply_memory
                        .record(to, decision.reason, decided.now)
                    {
                        tracing::warn!(queue_id = %decided.queue_id, error = %e, "reply memory not updated");
                    }
                    "sent".to_string()
                }
                Err(e) => {
                    let permanent = matches!(e, DeliveryError::Permanent(_));
                    gateway
                        .metrics
                        .transport_error(TransportRole::Replies, permanent);
                    tracing::warn!(queue_id = %decided.queue_id, transport = gateway.replies.description(), error = %e, "auto-reply not sent; the message stays in the quarantine");
                    "failed".to_string()
                }
            }
        }
        Err(e) => {
            tracing::error!(queue_id = %decided.queue_id, error = %e, "auto-reply not composed");
            "failed".to_string()
        }
    };
    Acted { auto_reply, ..kept }
}

/// P4: tells the owner and admins at their primary addresses. True if at least one was told.
async fn notify_privileged(gateway: &Gateway, engine: &Engine, decided: &Decided) -> bool {
    let notifications = match engine.compose_notifications(
        &decided.decision,
        &decided.facts,
        decided.now,
        &decided.queue_id,
    ) {
        Ok(list) => list,
        Err(e) => {
            tracing::error!(queue_id = %decided.queue_id, error = %e, "notification not composed");
            return false;
        }
    };
    let mut any = false;
    for (i, note) in notifications.iter().enumerate() {
        let unique = format!("{}-notify{i}", decided.queue_id);
        match gateway
            .replies
            .send(None, &note.recipients, &note.bytes, &unique)
            .await
        {
            Ok(()) => any = true,
            Err(e) => {
                let permanent = matches!(e, DeliveryError::Permanent(_));
                gateway
                    .metrics
                    .transport_error(TransportRole::Replies, permanent);
                tracing::warn!(queue_id = %decided.queue_id, error = %e, "owner/admin notification not sent")
            }
        }
    }
    any
}

/// Stores the message in the quarantine; 250 once it is fsync'd, `452 4.3.1` if the disk
/// refuses (the client keeps the message and retries).
async fn keep(
    gateway: &Gateway,
    session: &SessionInfo,
    envelope: &smtp::Envelope,
    decided: &Decided,
    message: &[u8],
    note: &str,
    auto_reply: &str,
) -> Acted {
    let facts = &decided.facts;
    let record = QuarantineRecord {
        id: decided.queue_id.clone(),
        received_at: decided.now,
        peer: Some(session.peer.to_string()),
        helo: session.helo.clone(),
        mail_from: envelope.mail_from.clone().unwrap_or_default(),
        recipients: decided.recipients.clone(),
        from_header: decided.decision.sender.clone(),
        subject: Some(facts.subject.clone()),
        message_id: facts.message_id.clone(),
        size: message.len() as u64,
        decision: DecisionRecord {
            reply: match auto_reply {
                "none" => DecisionRecord::from_decision(&decided.decision).reply,
                done => done.to_string(),
            },
            ..DecisionRecord::from_decision(&decided.decision)
        },
        note: note.to_string(),
        released: None,
    };
    let root = gateway.quarantine.root().to_path_buf();
    let bytes = message.to_vec();
    let stored = tokio::task::spawn_blocking(move || {
        std::fs::create_dir_all(&root).map_err(|e| e.to_string())?;
        crate::store::quarantine::Quarantine::new(root)
            .store(&record, &bytes)
            .map_err(|e| e.to_string())
    })
    .await
    .map_err(|e| e.to_string())
    .and_then(|r| r);
    match stored {
        Ok(_) => Acted {
            reply: SmtpReply::accepted(format!("Received as {}", decided.queue_id)),
            outcome: "quarantined".into(),
            auto_reply: auto_reply.to_string(),
        },
        Err(e) => {
            tracing::error!(queue_id = %decided.queue_id, error = %e, "quarantine not writable; client told to retry");
            Acted::storage_unavailable()
        }
    }
}

/// One answer for a transaction that concerned several accounts: a temporary failure of any
/// wins (the client retries the whole; a group already delivered may arrive twice, as with
/// any MTA), then success, then the first refusal.
pub(super) fn combine(replies: Vec<SmtpReply>) -> SmtpReply {
    let first_with = |class: u16| replies.iter().find(|r| r.code / 100 == class).cloned();
    first_with(4)
        .or_else(|| first_with(2))
        .or_else(|| replies.first().cloned())
        .unwrap_or_else(|| SmtpReply::new(554, (5, 5, 1), "No valid recipients"))
}
