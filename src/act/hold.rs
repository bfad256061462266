//! `hold` (SPEC §11): a sensitive request from a plain agent is kept durably as pending (the
//! approval store commits it, and its bytes, before the `250`), each owner or admin whom the
//! category allows gets an approval request, and the requester is told it is held. Every
//! message goes through the spool, like auto-replies.

use super::{Acted, Actor, AutoReply, Decided, Defer, Outcome, Received};
use crate::address::{AddressRules, NormalizedAddress};
use crate::pipeline::engine::Engine;
use crate::policy::approval::{build_address, ApprovalKind};
use crate::policy::ReplyPlan;
use crate::reply::{ApprovalNotice, ApprovalTemplate};
use crate::store::approvals::{new_token, Pending, PendingState};
use crate::store::spool::Purpose;

impl Actor {
    pub(super) async fn hold(
        &self,
        engine: &Engine,
        received: &Received,
        decided: &Decided,
    ) -> Acted {
        let decision = &decided.decision;
        let Some(store) = self.approvals.clone() else {
            return self.reply_and_keep(engine, received, decided).await;
        };
        if !holds(decision) {
            // Nobody could approve it: refused and kept as with `reply`.
            tracing::warn!(queue_id = %decided.queue_id, "hold: the account has no owner or admin with an address; replied instead");
            return self.reply_and_keep(engine, received, decided).await;
        }
        let mut pending = pending_of(engine, received, decided);
        let (mut held, bytes) = (pending.clone(), received.bytes.clone());
        // The text's start is read from the message here, off the runtime threads: only a
        // held request needs it.
        let stored = tokio::task::spawn_blocking(move || {
            held.text_start = crate::policy::facts::text_start(&bytes);
            store.hold(&held, &bytes).map(|()| held.text_start)
        })
        .await;
        match stored {
            Ok(Ok(text_start)) => pending.text_start = text_start,
            Ok(Err(e)) => {
                tracing::error!(queue_id = %decided.queue_id, error = %e, "approval store not writable; client told to retry");
                return self.acted(decided, Outcome::Deferred(Defer::Storage));
            }
            Err(e) => {
                tracing::error!(queue_id = %decided.queue_id, error = %e, "approval store task failed; client told to retry");
                return self.acted(decided, Outcome::Deferred(Defer::Storage));
            }
        }
        tracing::info!(queue_id = %decided.queue_id, account = %pending.account, category = %pending.category, approvers = pending.approvers.len(), "held for approval");
        self.metrics.approval("held");
        let now = received.received_at;
        for (i, approver) in pending.approvers.iter().enumerate() {
            if !self.within_budget(engine, now, &decided.queue_id) {
                self.metrics.auto_reply("suppressed:rate-limit");
                continue;
            }
            let token = format!("{}-approval{i}", decided.queue_id);
            let composed = notice(
                engine,
                &pending,
                ApprovalTemplate::Request,
                approver,
                now,
                &token,
            );
            self.queue_notice(received, decided, composed, token).await;
        }
        let auto_reply = match &decision.reply {
            ReplyPlan::Send { to } if self.within_budget(engine, now, &decided.queue_id) => {
                let token = format!("{}-reply", decided.queue_id);
                let composed = notice(
                    engine,
                    &pending,
                    ApprovalTemplate::HeldForApproval,
                    to.as_str(),
                    now,
                    &token,
                );
                self.queue_notice(received, decided, composed, token).await
            }
            ReplyPlan::Send { .. } => AutoReply::Suppressed("rate-limit".into()),
            ReplyPlan::Suppressed(why) => AutoReply::Suppressed(why.code().into()),
            ReplyPlan::NotApplicable => AutoReply::None,
        };
        Acted {
            queue_id: decided.queue_id.clone(),
            recipients: decided.recipients.clone(),
            outcome: Outcome::Held,
            auto_reply,
        }
    }

    /// Spools one message of the approval (`Purpose::Notification`: nothing to update in a
    /// quarantine record). A failure is logged: the request stays held whatever happens.
    async fn queue_notice(
        &self,
        received: &Received,
        decided: &Decided,
        composed: Result<crate::reply::OutgoingMessage, crate::reply::ComposeError>,
        id: String,
    ) -> AutoReply {
        let message = match composed {
            Ok(message) => message,
            Err(e) => {
                tracing::error!(queue_id = %decided.queue_id, error = %e, "approval message not composed");
                return AutoReply::Failed(format!("not composed: {e}"));
            }
        };
        let purpose = Purpose::Notification {
            quarantine_id: decided.queue_id.clone(),
        };
        let entry = super::reply::outgoing_entry(id, received, decided, &message, purpose);
        match self.spool_store(entry, message.bytes).await {
            Ok(()) => AutoReply::Queued,
            Err(e) => {
                tracing::error!(queue_id = %decided.queue_id, error = %e, "approval message not queued: spool not writable");
                AutoReply::Failed(format!("not queued: {e}"))
            }
        }
    }
}

/// The pending record of a request just decided `hold`.
fn pending_of(engine: &Engine, received: &Received, decided: &Decided) -> Pending {
    let mut record =
        super::keep::record_of(received, decided, "held for approval", &AutoReply::None);
    record.decision.action = "hold".into();
    let mut pending = pending_for(
        engine,
        &decided.decision,
        &received.facts,
        &decided.recipients,
        received.received_at,
        record,
    );
    pending.id = decided.queue_id.clone();
    pending
}

/// The pending record `decision` (a `hold`) makes of a message with `facts`, written to
/// `recipients` at `now`; `record` is what the quarantine keeps if it is declined or expires.
/// Its id and the start of its text are empty: the caller fills them in (the requester's
/// notice does not quote the text).
fn pending_for(
    engine: &Engine,
    decision: &crate::policy::Decision,
    facts: &crate::policy::MessageFacts,
    recipients: &[String],
    now: u64,
    record: crate::store::quarantine::QuarantineRecord,
) -> Pending {
    let config = &engine.config;
    let category = decision.category.clone().unwrap_or_default();
    let requires = config
        .policy
        .categories
        .get(&category)
        .map_or("admin", |rule| rule.requires.as_str());
    let account = decision.account.clone().unwrap_or_default();
    let language = engine
        .directory
        .account_by_id(&account)
        .and_then(|a| engine.directory.account(a).language)
        .unwrap_or(config.replies.default_language);
    Pending {
        id: String::new(),
        token: new_token(),
        account,
        category,
        requires: requires.to_string(),
        requester: decision.sender.clone().unwrap_or_default(),
        notify_requester: match &decision.reply {
            ReplyPlan::Send { to } => Some(to.to_string()),
            _ => None,
        },
        approvers: decision.notify.clone(),
        support_address: support_address(engine, recipients).to_string(),
        language: language.as_str().to_string(),
        subject: facts.subject.clone(),
        text_start: String::new(),
        message_id: facts.message_id.clone(),
        held_at: now,
        expires_at: now + config.approval.expiry.as_secs(),
        record,
        state: PendingState::Pending,
        settled: false,
        taken_over_at: None,
    }
}

/// Whether the act stage holds a message decided `decision`: the action is `hold` and someone
/// can approve it (else it is refused and kept as with `reply`).
pub fn holds(decision: &crate::policy::Decision) -> bool {
    decision.action == crate::policy::Action::Hold && !decision.notify.is_empty()
}

/// The `held-for-approval` reply that holding a message decided `decision` would send to
/// `to` (what `supportgate check` shows), composed as [`Actor::hold`] composes it.
pub fn held_notice(
    engine: &Engine,
    decision: &crate::policy::Decision,
    facts: &crate::policy::MessageFacts,
    recipients: &[String],
    to: &str,
    now: u64,
    token: &str,
) -> Result<crate::reply::OutgoingMessage, crate::reply::ComposeError> {
    let record = crate::store::quarantine::QuarantineRecord::default();
    let pending = pending_for(engine, decision, facts, recipients, now, record);
    notice(
        engine,
        &pending,
        ApprovalTemplate::HeldForApproval,
        to,
        now,
        token,
    )
}

/// The support address (or per-account mailbox) the request was written to, without `+tag`;
/// the first configured support address if none parses.
fn support_address(engine: &Engine, recipients: &[String]) -> NormalizedAddress {
    let rules = AddressRules {
        strip_subaddress: false,
        ..engine.config.address_rules.clone()
    };
    let separator = rules.subaddress_separator;
    recipients
        .iter()
        .find_map(|r| NormalizedAddress::parse(r, &rules).ok())
        .map(|a| a.without_subaddress(separator))
        .unwrap_or_else(|| engine.config.support_addresses[0].clone())
}

/// One message of the approval of `pending`, to `to`, in the account's language.
pub(crate) fn notice(
    engine: &Engine,
    pending: &Pending,
    template: ApprovalTemplate,
    to: &str,
    now: u64,
    token: &str,
) -> Result<crate::reply::OutgoingMessage, crate::reply::ComposeError> {
    let config = &engine.config;
    let language = crate::directory::Language::from_tag(&pending.language)
        .unwrap_or(config.replies.default_language);
    let account = engine
        .directory
        .account_by_id(&pending.account)
        .map(|a| engine.directory.account(a));
    let category = config
        .policy
        .categories
        .get(&pending.category)
        .map_or(pending.category.as_str(), |rule| rule.label(language));
    let rules = AddressRules {
        strip_subaddress: false,
        ..config.address_rules.clone()
    };
    let support = NormalizedAddress::parse(&pending.support_address, &rules)
        .unwrap_or_else(|_| config.support_addresses[0].clone());
    let separator = rules.subaddress_separator;
    let (approve, decline) = match template {
        ApprovalTemplate::Request => (
            Some(build_address(
                &support,
                separator,
                ApprovalKind::Approve,
                &pending.token,
            )),
            Some(build_address(
                &support,
                separator,
                ApprovalKind::Decline,
                &pending.token,
            )),
        ),
        _ => (None, None),
    };
    let in_reply_to = match template {
        ApprovalTemplate::HeldForApproval => pending.message_id.as_deref(),
        _ => None,
    };
    let input = ApprovalNotice {
        template,
        to,
        language,
        account,
        category,
        subject: &pending.subject,
        requester: &pending.requester,
        text_start: &pending.text_start,
        approve_address: approve.as_deref(),
        decline_address: decline.as_deref(),
        support_address: &support,
        in_reply_to,
        now,
        message_token: token,
    };
    crate::reply::compose_approval(&input, &engine.templates, &config.replies)
}
