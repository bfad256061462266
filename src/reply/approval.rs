//! The messages of an approval (SPEC §11): the notice to the requester that their request is
//! held, the approval request to each owner or admin (with the approve and decline addresses,
//! `Reply-To` the approve address), the requester's notices of the outcome, and the short
//! "no longer pending" answer to an approver who came too late. Pure, like [`super::compose`].

use super::headers::{self, HeaderBlock, SUBJECT_CHARS};
use super::template::Values;
use super::{ComposeError, OutgoingMessage, ReplySettings, Templates};
use crate::address::NormalizedAddress;
use crate::directory::{Account, Language};
use crate::policy::Reason;

/// How much of the request's text the approval request quotes.
pub const TEXT_START_CHARS: usize = 600;
const NAME_CHARS: usize = 200;

/// Which message of an approval; each is a template file `LANG/<code>.txt`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ApprovalTemplate {
    /// To the requester: held, the owner or an admin has been asked.
    HeldForApproval,
    /// To each owner or admin allowed by the category.
    Request,
    /// To the requester: approved, passed on to support.
    Granted,
    Declined,
    Expired,
    /// To an approver writing about a request already decided or expired.
    NotPending,
}

impl ApprovalTemplate {
    pub const ALL: [ApprovalTemplate; 6] = [
        ApprovalTemplate::HeldForApproval,
        ApprovalTemplate::Request,
        ApprovalTemplate::Granted,
        ApprovalTemplate::Declined,
        ApprovalTemplate::Expired,
        ApprovalTemplate::NotPending,
    ];

    pub fn code(self) -> &'static str {
        match self {
            ApprovalTemplate::HeldForApproval => "held-for-approval",
            ApprovalTemplate::Request => "approval-request",
            ApprovalTemplate::Granted => "approval-granted",
            ApprovalTemplate::Declined => "approval-declined",
            ApprovalTemplate::Expired => "approval-expired",
            ApprovalTemplate::NotPending => "approval-not-pending",
        }
    }

    fn subject(self, language: Language, original: &str) -> String {
        let fr = language == Language::Fr;
        match self {
            ApprovalTemplate::HeldForApproval if fr => format!("En attente d'accord : {original}"),
            ApprovalTemplate::HeldForApproval => format!("Waiting for approval: {original}"),
            ApprovalTemplate::Request if fr => format!("Votre accord est demandé : {original}"),
            ApprovalTemplate::Request => format!("Your approval is needed: {original}"),
            ApprovalTemplate::Granted if fr => format!("Demande approuvée : {original}"),
            ApprovalTemplate::Granted => format!("Request approved: {original}"),
            ApprovalTemplate::Declined if fr => format!("Demande refusée : {original}"),
            ApprovalTemplate::Declined => format!("Request declined: {original}"),
            ApprovalTemplate::Expired if fr => format!("Demande expirée : {original}"),
            ApprovalTemplate::Expired => format!("Request expired: {original}"),
            ApprovalTemplate::NotPending if fr => format!("Plus en attente : {original}"),
            ApprovalTemplate::NotPending => format!("No longer pending: {original}"),
        }
    }

    /// Answers a message (the request, or the approver's own): RFC 3834 `auto-replied`; the
    /// others start a conversation of their own.
    fn auto_submitted(self) -> &'static str {
        match self {
            ApprovalTemplate::HeldForApproval | ApprovalTemplate::NotPending => "auto-replied",
            _ => "auto-generated",
        }
    }
}

/// What one approval message needs; values from the message are sanitised here.
#[derive(Debug, Clone, Copy)]
pub struct ApprovalNotice<'a> {
    pub template: ApprovalTemplate,
    pub to: &'a str,
    pub language: Language,
    pub account: Option<&'a Account>,
    /// The category as people read it in `language`.
    pub category: &'a str,
    /// The request's Subject.
    pub subject: &'a str,
    /// The requester's address (the approval request names it).
    pub requester: &'a str,
    pub text_start: &'a str,
    /// The approve and decline addresses (the approval request only).
    pub approve_address: Option<&'a str>,
    pub decline_address: Option<&'a str>,
    pub support_address: &'a NormalizedAddress,
    /// The Message-ID this message answers, if any.
    pub in_reply_to: Option<&'a str>,
    pub now: u64,
    /// Unique per message: the left part of the Message-ID.
    pub message_token: &'a str,
}

pub fn compose_approval(
    notice: &ApprovalNotice<'_>,
    templates: &Templates,
    settings: &ReplySettings,
) -> Result<OutgoingMessage, ComposeError> {
    let language = notice.language;
    let template = templates
        .approval(language, notice.template)
        .ok_or(ComposeError::NoApprovalTemplate(notice.template.code()))?;
    let values = Values {
        category: headers::clean_text(notice.category, NAME_CHARS),
        sender: headers::clean_text(notice.requester, NAME_CHARS),
        approve_address: notice.approve_address.unwrap_or_default().to_string(),
        decline_address: notice.decline_address.unwrap_or_default().to_string(),
        text_start: quoted(notice.text_start),
        notified: true,
        ..super::compose::common_values(
            language,
            Reason::AuthorizationRequired,
            notice.account,
            notice.subject,
            notice.support_address,
            settings,
        )
    };
    let original = headers::clean_text(notice.subject, SUBJECT_CHARS);
    let mut body = template.render(&values).trim_end().to_string();
    body.push('\n');
    let shown = if original.is_empty() {
        super::language::default_subject(language)
    } else {
        &original
    };
    let subject = notice.template.subject(language, shown);
    let recipient = headers::clean_text(notice.to, NAME_CHARS);
    let mut head = HeaderBlock::default();
    head.push("Date", &headers::date(notice.now));
    head.push("From", settings.from.as_str());
    head.push("To", &recipient);
    if let Some(approve) = notice.approve_address {
        // "Reply" with any text approves (SPEC §11).
        head.push("Reply-To", approve);
    }
    head.push("Subject", &headers::unstructured(&subject));
    head.push(
        "Message-ID",
        &format!(
            "<{}@{}>",
            headers::id_token(notice.message_token),
            settings.from.domain()
        ),
    );
    if let Some(id) = notice.in_reply_to.and_then(headers::message_id) {
        head.push("In-Reply-To", &id);
        head.push("References", &id);
    }
    head.push("Auto-Submitted", notice.template.auto_submitted());
    head.push("X-Auto-Response-Suppress", "All");
    head.push("X-Supportgate-Reason", Reason::AuthorizationRequired.code());
    head.push("Content-Language", language.as_str());
    head.push("MIME-Version", "1.0");
    head.push("Content-Type", "text/plain; charset=utf-8");
    head.push("Content-Transfer-Encoding", "quoted-printable");
    Ok(OutgoingMessage {
        mail_from: None,
        recipients: vec![recipient],
        subject,
        language,
        bytes: head.finish(&headers::quoted_printable(&body)),
        body,
    })
}

/// The start of the request's text, each line quoted with `> `, control characters removed.
fn quoted(text: &str) -> String {
    let lines: Vec<String> = text
        .lines()
        .map(|line| headers::clean_text(line, TEXT_START_CHARS))
        .collect();
    let mut out = Vec::new();
    let mut used = 0;
    for line in lines {
        if used >= TEXT_START_CHARS || out.len() >= 15 {
            out.push("> […]".to_string());
            break;
        }
        used += line.chars().count();
        out.push(if line.is_empty() {
            ">".to_string()
        } else {
            format!("> {line}")
        });
    }
    while out.last().is_some_and(|l| l == ">") {
        out.pop();
    }
    out.join("\n")
}
