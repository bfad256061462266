//! The decision log: one line per message and account concerned (SPEC §7), with the queue id
//! that also appears in our `Received:` header, the spool and the quarantine. Never the body.
//! And the same decision, counted in the metrics.

use super::{Acted, Decided, Received};
use crate::metrics::Metrics;
use crate::policy::{AuthOutcome, Verdict};

/// The SMTP (or milter) code the front answered, for the log line.
pub fn decision(received: &Received, decided: &Decided, acted: &Acted, front_code: u16) {
    let decision = &decided.decision;
    tracing::info!(
        target: "supportgate::decision",
        queue_id = %decided.queue_id,
        session = %received.client.session_id,
        message_id = received.facts.message_id.as_deref().unwrap_or(""),
        peer = %received.client.peer.ip(),
        helo = received.client.helo.as_deref().unwrap_or(""),
        mail_from = received.mail_from.as_deref().unwrap_or("<>"),
        from = decision.sender.as_deref().unwrap_or(""),
        recipients = %decided.recipients.join(","),
        account = decision.account.as_deref().unwrap_or(""),
        agent = decision.agent.as_deref().unwrap_or(""),
        role = decision.role.map_or("", |r| r.as_str()),
        verdict = verdict(decision.verdict),
        reason = decision.reason.code(),
        category = decision.category.as_deref().unwrap_or(""),
        duplicated_headers = %received.facts.duplicated_headers.join(","),
        action = decision.action.as_str(),
        outcome = acted.outcome.as_str(),
        auth = %received.auth.summary(),
        reply = %acted.auto_reply,
        smtp_code = front_code,
        size = received.bytes.len(),
        duration_ms = received.started.elapsed().as_millis() as u64,
        "decision"
    );
}

/// The line of a message to an approve or decline address (SPEC §11): its own queue id, and
/// `request`, the queue id of the held request it is about (the original decision's).
pub fn approval(
    received: &Received,
    handled: &crate::pipeline::approval_route::ApprovalHandled,
    front_code: u16,
) {
    tracing::info!(
        target: "supportgate::decision",
        queue_id = %handled.queue_id,
        request = handled.request.as_deref().unwrap_or(""),
        session = %received.client.session_id,
        peer = %received.client.peer.ip(),
        mail_from = received.mail_from.as_deref().unwrap_or("<>"),
        from = %from_header(received),
        recipients = %handled.recipients.join(","),
        approval = handled.address.kind.as_str(),
        verdict = "approval",
        reason = handled.verdict.code(),
        outcome = handled.acted.outcome.as_str(),
        auth = %received.auth.summary(),
        reply = %handled.acted.auto_reply,
        smtp_code = front_code,
        duration_ms = received.started.elapsed().as_millis() as u64,
        "approval"
    );
}

fn from_header(received: &Received) -> String {
    match &received.facts.from {
        Some(crate::policy::FromHeader::Mailbox(from)) => {
            crate::printable::one_line(from).into_owned()
        }
        _ => String::new(),
    }
}

fn verdict(verdict: Verdict) -> &'static str {
    match verdict {
        Verdict::Accept => "accept",
        Verdict::Refuse => "refuse",
    }
}

/// The same decision, counted: verdict, reason, the action taken (a `reject` kept in the
/// quarantine in a mixed transaction counts as `quarantine`), the auto-reply and the
/// authentication result of each method.
pub fn count(metrics: &Metrics, received: &Received, decided: &Decided, acted: &Acted) {
    let decision = &decided.decision;
    metrics.decision(
        verdict(decision.verdict),
        decision.reason.code(),
        decided.action.as_str(),
    );
    metrics.auto_reply(&acted.auto_reply.to_string());
    let auth = &received.auth;
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
