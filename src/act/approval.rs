//! Settling a held request (SPEC §11): approved (the original bytes, with the trace headers of
//! an accepted message and `X-Supportgate-Approved-By`/`-Role`, to the ticket queue through
//! the spool), declined or expired (into the quarantine, with a note saying so), and the
//! requester told. One blocking function, [`settle`], serves the approval message at the SMTP
//! front, `supportgate approval approve|decline`, the console and the expiry timer, so that
//! all four decide the same way; the store's atomic claim makes the first decision win.
//!
//! Everything is written through [`Spool::store`] (a segment of its own that the running
//! server adopts), as `quarantine release` does: the command line and the server write alike.

use super::hold::notice;
use super::release::{accepted_message, spool_entry_of, Attribution};
use super::{Acted, Actor, AutoReply, Outcome, Received};
use crate::pipeline::engine::Engine;
use crate::policy::approval::{ApprovalKind, ApprovalVerdict, Approver};
use crate::reply::ApprovalTemplate;
use crate::store::approvals::{ApprovalStore, ApprovalStoreError, Pending, PendingState};
use crate::store::quarantine::{DecisionRecord, Quarantine, QuarantineError, QuarantineRecord};
use crate::store::spool::{Purpose, Spool, SpoolError};
use std::sync::Arc;

#[derive(Debug, thiserror::Error)]
pub enum ApprovalError {
    #[error("no pending approval {0:?}")]
    NotFound(String),
    #[error("approval {id} is no longer pending: {state}")]
    NotPending { id: String, state: String },
    #[error("approval {0}: the held message is missing from the store")]
    MessageMissing(String),
    #[error("{0}")]
    Store(#[from] ApprovalStoreError),
    #[error("spool: {0}")]
    Spool(#[from] SpoolError),
    #[error("quarantine: {0}")]
    Quarantine(#[from] QuarantineError),
}

/// What is decided about a held request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Settlement {
    /// `by`: the approver's primary address (or the operator's name, from the CLI or the
    /// console); `role`: `owner`, `admin` or `operator`.
    Approve {
        by: String,
        role: String,
    },
    Decline {
        by: String,
        role: String,
    },
    Expire,
}

impl Settlement {
    fn closing(&self, now: u64) -> PendingState {
        match self.clone() {
            Settlement::Approve { by, role } => PendingState::Approved { by, role, at: now },
            Settlement::Decline { by, role } => PendingState::Declined { by, role, at: now },
            Settlement::Expire => PendingState::Expired { at: now },
        }
    }

    /// The metrics label.
    pub fn as_str(&self) -> &'static str {
        match self {
            Settlement::Approve { .. } => "approved",
            Settlement::Decline { .. } => "declined",
            Settlement::Expire => "expired",
        }
    }
}

/// Decides held request `id`: claims it (the first decision wins; a later one is
/// [`ApprovalError::NotPending`]), stores its follow-up and tells the requester. If the
/// follow-up cannot be stored the request is pending again.
pub fn settle(
    engine: &Engine,
    store: &dyn ApprovalStore,
    id: &str,
    settlement: &Settlement,
    now: u64,
) -> Result<Pending, ApprovalError> {
    let Some(claimed) = store.claim(id, settlement.closing(now))? else {
        return Err(match store.get(id)? {
            None => ApprovalError::NotFound(id.to_string()),
            Some(pending) => ApprovalError::NotPending {
                id: id.to_string(),
                state: pending.state.as_str().to_string(),
            },
        });
    };
    if let Err(e) = follow_up(engine, store, &claimed, now) {
        if let Err(again) = store.unclaim(id) {
            tracing::error!(queue_id = %id, error = %again, "approval: claim not given back");
        }
        return Err(e);
    }
    store.finish(id)?;
    tell_requester(engine, &claimed, now);
    tracing::info!(queue_id = %id, outcome = settlement.as_str(), by = %by_of(&claimed.state), "approval settled");
    Ok(claimed)
}

/// Approved: the ticket into the spool. Declined or expired: the request into the quarantine.
pub(super) fn follow_up(
    engine: &Engine,
    store: &dyn ApprovalStore,
    pending: &Pending,
    now: u64,
) -> Result<(), ApprovalError> {
    let config = &engine.config;
    let bytes = store
        .message(&pending.id)?
        .ok_or_else(|| ApprovalError::MessageMissing(pending.id.clone()))?;
    let mut record = pending.record.clone();
    let note = match &pending.state {
        PendingState::Approved { by, role, .. } => {
            let ticket = accepted_message(
                config,
                &record,
                &bytes,
                now,
                Attribution::Approved { by, role },
            );
            record.decision.verdict = "accept".into();
            record.decision.action = "forward".into();
            // A ticket: if the queue never takes it, the spool delivery quarantines it.
            let entry = spool_entry_of(&record, pending.id.clone(), Purpose::Ticket, now);
            Spool::new(&config.spool.path).store(&entry, &ticket)?;
            return Ok(());
        }
        PendingState::Declined { by, role, at } => format!(
            "held for approval; declined by {by} ({role}) at {}",
            crate::reply::rfc5322_date(*at)
        ),
        PendingState::Expired { .. } => format!(
            "held for approval; expired: no decision within {}",
            crate::config::format_duration(config.approval.expiry)
        ),
        PendingState::Pending => return Ok(()),
    };
    record.note = note;
    record.decision.action = "quarantine".into();
    let quarantine = Quarantine::new(&config.quarantine_path);
    std::fs::create_dir_all(quarantine.root()).map_err(|e| QuarantineError::Io {
        path: quarantine.root().display().to_string(),
        source: e,
    })?;
    if quarantine.record(&record.id).is_err() {
        quarantine.store(&record, &bytes)?;
    }
    Ok(())
}

/// The requester's notice of the outcome, through the spool. Not told: no address (the
/// requester's reply was suppressed at the hold), or the notice could not be queued (logged).
fn tell_requester(engine: &Engine, pending: &Pending, now: u64) {
    let Some(to) = pending.notify_requester.as_deref() else {
        return;
    };
    let template = match pending.state {
        PendingState::Approved { .. } => ApprovalTemplate::Granted,
        PendingState::Declined { .. } => ApprovalTemplate::Declined,
        PendingState::Expired { .. } => ApprovalTemplate::Expired,
        PendingState::Pending => return,
    };
    let id = format!("{}-{}", pending.id, pending.state.as_str());
    if let Err(e) = queue_outgoing(engine, pending, template, to, &id, now) {
        tracing::error!(queue_id = %pending.id, error = %e, "approval: requester not told");
    }
}

/// One message of an approval into the spool, as a notification of request `pending`.
fn queue_outgoing(
    engine: &Engine,
    pending: &Pending,
    template: ApprovalTemplate,
    to: &str,
    id: &str,
    now: u64,
) -> Result<(), String> {
    let message = notice(engine, pending, template, to, now, id).map_err(|e| e.to_string())?;
    let purpose = Purpose::Notification {
        quarantine_id: pending.id.clone(),
    };
    let mut entry = spool_entry_of(&pending.record, id.to_string(), purpose, now);
    entry.mail_from = message.mail_from.clone();
    entry.recipients = message.recipients.clone();
    entry.peer = None;
    entry.helo = None;
    entry.subject = Some(message.subject.clone());
    entry.message_id = None;
    Spool::new(&engine.config.spool.path)
        .store(&entry, &message.bytes)
        .map_err(|e| e.to_string())
}

fn by_of(state: &PendingState) -> String {
    match state {
        PendingState::Approved { by, .. } | PendingState::Declined { by, .. } => by.clone(),
        _ => String::new(),
    }
}

impl Actor {
    /// Acts on a message to an approve or decline address, decided by the approval rule.
    /// `request`: the held request its token names, if any.
    pub async fn act_on_approval(
        &self,
        engine: &Engine,
        received: &Received,
        queue_id: &str,
        recipients: &[String],
        verdict: &ApprovalVerdict,
        request: Option<&Pending>,
    ) -> Acted {
        let acted = |outcome, auto_reply| Acted {
            queue_id: queue_id.to_string(),
            recipients: recipients.to_vec(),
            outcome,
            auto_reply,
        };
        let (Some(store), Some(request)) = (self.approvals.clone(), request) else {
            return self
                .keep_ignored(received, queue_id, recipients, verdict.code())
                .await;
        };
        let now = received.received_at;
        match verdict {
            ApprovalVerdict::Decide { kind, approver } => {
                let settlement = settlement_of(*kind, approver);
                let (owned, id) = (
                    engine.with_directory(Arc::clone(&engine.directory)),
                    request.id.clone(),
                );
                let label = settlement.as_str();
                let settled = tokio::task::spawn_blocking(move || {
                    settle(&owned, store.as_ref(), &id, &settlement, now)
                })
                .await;
                match settled {
                    Ok(Ok(_)) => {
                        self.metrics.approval(label);
                        self.adopt_written_segments().await;
                        acted(Outcome::Consumed, AutoReply::None)
                    }
                    // Another approver (or the timer) was first: this one is too late.
                    Ok(Err(ApprovalError::NotPending { .. })) => {
                        self.no_longer_pending(engine, request, approver, queue_id, now)
                            .await;
                        acted(Outcome::Consumed, AutoReply::Queued)
                    }
                    Ok(Err(e)) => {
                        tracing::error!(queue_id, request = %request.id, error = %e, "approval not settled; client told to retry");
                        acted(Outcome::Deferred(super::Defer::Storage), AutoReply::None)
                    }
                    Err(e) => {
                        tracing::error!(queue_id, error = %e, "approval task failed; client told to retry");
                        acted(Outcome::Deferred(super::Defer::Storage), AutoReply::None)
                    }
                }
            }
            ApprovalVerdict::NoLongerPending { approver } => {
                self.no_longer_pending(engine, request, approver, queue_id, now)
                    .await;
                acted(Outcome::Consumed, AutoReply::Queued)
            }
            ApprovalVerdict::Ignored(why) => {
                self.keep_ignored(received, queue_id, recipients, why).await
            }
        }
    }

    /// The short answer to an allowed approver whose request is closed, at their primary
    /// address (never where the message claims to come from).
    async fn no_longer_pending(
        &self,
        engine: &Engine,
        request: &Pending,
        approver: &Approver,
        queue_id: &str,
        now: u64,
    ) {
        self.metrics.approval("no-longer-pending");
        if !self.within_budget(engine, now, queue_id) {
            return;
        }
        let (owned, request, to, id) = (
            engine.with_directory(Arc::clone(&engine.directory)),
            request.clone(),
            approver.primary.clone(),
            format!("{queue_id}-not-pending"),
        );
        let queued = tokio::task::spawn_blocking(move || {
            queue_outgoing(
                &owned,
                &request,
                ApprovalTemplate::NotPending,
                &to,
                &id,
                now,
            )
        })
        .await;
        match queued {
            Ok(Ok(())) => self.adopt_written_segments().await,
            Ok(Err(e)) => {
                tracing::error!(queue_id, error = %e, "approval: no-longer-pending answer not queued")
            }
            Err(e) => {
                tracing::error!(queue_id, error = %e, "approval: no-longer-pending task failed")
            }
        }
    }

    /// A message to an approval address that changes nothing: quarantined, no reply.
    async fn keep_ignored(
        &self,
        received: &Received,
        queue_id: &str,
        recipients: &[String],
        why: &str,
    ) -> Acted {
        self.metrics.approval("ignored");
        let facts = &received.facts;
        let record = QuarantineRecord {
            id: queue_id.to_string(),
            received_at: received.received_at,
            peer: Some(received.client.peer.to_string()),
            helo: received.client.helo.clone(),
            mail_from: received.mail_from.clone().unwrap_or_default(),
            recipients: recipients.to_vec(),
            from_header: match &facts.from {
                Some(crate::policy::FromHeader::Mailbox(from)) => Some(from.clone()),
                _ => None,
            },
            subject: Some(facts.subject.clone()),
            message_id: facts.message_id.clone(),
            size: received.bytes.len() as u64,
            decision: DecisionRecord {
                verdict: "refuse".into(),
                reason: why.to_string(),
                account: None,
                agent: None,
                role: None,
                action: "quarantine".into(),
                category: None,
                reply: "none".into(),
            },
            note: format!("message to an approval address changed nothing: {why}"),
            authentication: Some(crate::delivery::headers::authentication_results_value(
                &received.auth,
            )),
            released: None,
            release_attempts: Vec::new(),
        };
        let outcome = match self.keep(record, received.bytes.clone()).await {
            Ok(()) => Outcome::Quarantined,
            Err(e) => {
                tracing::error!(queue_id, error = %e, "quarantine not writable; client told to retry");
                Outcome::Deferred(super::Defer::Storage)
            }
        };
        Acted {
            queue_id: queue_id.to_string(),
            recipients: recipients.to_vec(),
            outcome,
            auto_reply: AutoReply::None,
        }
    }
}

fn settlement_of(kind: ApprovalKind, approver: &Approver) -> Settlement {
    let (by, role) = (approver.primary.clone(), approver.role.as_str().to_string());
    match kind {
        ApprovalKind::Approve => Settlement::Approve { by, role },
        ApprovalKind::Decline => Settlement::Decline { by, role },
    }
}
