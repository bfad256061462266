//! The decision log: one line per message and account concerned (SPEC §7), with the queue id
//! that also appears in our `Received:` header and in the quarantine. Never the body.

use super::act::{Acted, Decided};
use crate::metrics::Metrics;
use crate::policy::{Action, AuthOutcome};
use crate::smtp::{Envelope, SessionInfo};

pub(super) fn decision(
    session: &SessionInfo,
    envelope: &Envelope,
    decided: &Decided,
    acted: &Acted,
    size: usize,
) {
    let decision = &decided.decision;
    tracing::info!(
        target: "supportgate::decision",
        queue_id = %decided.queue_id,
        session = %session.session_id,
        message_id = decided.facts.message_id.as_deref().unwrap_or(""),
        peer = %session.peer.ip(),
        helo = session.helo.as_deref().unwrap_or(""),
        mail_from = envelope.mail_from.as_deref().unwrap_or("<>"),
        from = decision.sender.as_deref().unwrap_or(""),
        recipients = %decided.recipients.join(","),
        account = decision.account.as_deref().unwrap_or(""),
        agent = decision.agent.as_deref().unwrap_or(""),
        role = decision.role.map_or("", |r| r.as_str()),
        verdict = if decision.verdict == crate::policy::Verdict::Accept { "accept" } else { "refuse" },
        reason = decision.reason.code(),
        category = decision.category.as_deref().unwrap_or(""),
        action = decision.action.as_str(),
        outcome = %acted.outcome,
        auth = %decided.auth.summary(),
        reply = %acted.auto_reply,
        smtp_code = acted.reply.code,
        size,
        duration_ms = decided.started.elapsed().as_millis() as u64,
        "decision"
    );
}

/// The same decision, counted: verdict, reason, the action taken (a `reject` kept in the
/// quarantine in a mixed transaction counts as `quarantine`), the auto-reply and the
/// authentication result of each method.
pub(super) fn count(metrics: &Metrics, decided: &Decided, action: Action, acted: &Acted) {
    let decision = &decided.decision;
    let verdict = if decision.verdict == crate::policy::Verdict::Accept {
        "accept"
    } else {
        "refuse"
    };
    metrics.decision(verdict, decision.reason.code(), action.as_str());
    metrics.auto_reply(&acted.auto_reply);
    let auth = &decided.auth;
    let dkim = if auth.dkim.is_empty() {
        AuthOutcome::None
    } else if auth.dkim.iter().any(|d| d.result == AuthOutcome::Pass) {
        AuthOutcome::Pass
    } else {
        auth.dkim[0].result
    };
    metrics.authentication("spf", auth.spf.result.as_str());
    metrics.authentication("dkim", dkim.as_str());
    metrics.authentication("dmarc", auth.dmarc.result.as_str());
}
