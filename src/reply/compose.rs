//! Building the auto-reply to a refused sender and the P4 notification to owner and admins.
//!
//! Pure: the decision, the message facts, the account, the templates, `now` and a unique token
//! come in; a complete RFC 5322 message comes out, ready for any transport.

use super::headers::{self, HeaderBlock, SUBJECT_CHARS};
use super::language::{self, choose_language};
use super::template::Values;
use super::ReplySettings;
use super::Templates;
use crate::address::NormalizedAddress;
use crate::directory::{Account, Language};
use crate::policy::{CategoryRule, Decision, MessageFacts, Reason};

/// How many characters of names and categories copied from the directory or configuration.
const NAME_CHARS: usize = 200;

/// A message ready to hand to a transport.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutgoingMessage {
    /// Envelope `MAIL FROM`; `None` is the null reverse-path `<>` (RFC 3834 §3.3).
    pub mail_from: Option<String>,
    /// Envelope `RCPT TO`.
    pub recipients: Vec<String>,
    /// The Subject, decoded.
    pub subject: String,
    pub language: Language,
    /// The body text, decoded, LF line endings.
    pub body: String,
    /// The whole message: headers and quoted-printable body, CRLF line endings.
    pub bytes: Vec<u8>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ComposeError {
    /// Only `accepted` has no template: there is nothing to reply.
    #[error("no reply template for reason {0}")]
    NoTemplate(Reason),
    #[error("no {0} notification template")]
    NoNotificationTemplate(Language),
    #[error("no {0} template")]
    NoApprovalTemplate(&'static str),
}

/// What a reply to a refused message needs.
#[derive(Debug, Clone, Copy)]
pub struct ReplyInput<'a> {
    pub decision: &'a Decision,
    /// The envelope sender (`ReplyPlan::Send { to }`).
    pub recipient: &'a NormalizedAddress,
    pub facts: &'a MessageFacts,
    /// The account the mail concerns, when known. Ignored for `ambiguous-account`.
    pub account: Option<&'a Account>,
    /// The configured rule of `decision.category`, for its label in the reply's language;
    /// without one the text shows the category's name.
    pub category: Option<&'a CategoryRule>,
    /// The support address to name in the text (without `+tag`).
    pub support_address: &'a NormalizedAddress,
    /// P4: the owner and admins were actually notified; the reply says so only then.
    pub owner_notified: bool,
    /// Unix seconds.
    pub now: u64,
    /// Unique per message: the left part of the Message-ID.
    pub message_token: &'a str,
}

/// What the P4 notification to the owner and admins needs.
#[derive(Debug, Clone, Copy)]
pub struct NotificationInput<'a> {
    /// Its `notify` list gives the recipients.
    pub decision: &'a Decision,
    /// The address that made the request (`Decision::sender`).
    pub sender: &'a str,
    pub facts: &'a MessageFacts,
    pub account: &'a Account,
    /// The configured rule of `decision.category` (see [`ReplyInput::category`]).
    pub category: Option<&'a CategoryRule>,
    pub support_address: &'a NormalizedAddress,
    pub now: u64,
    /// Unique per message; each recipient's Message-ID adds `.N` to it.
    pub message_token: &'a str,
}

/// The auto-reply to the envelope sender (SPEC §5, RFC 3834): `Auto: <subject>`, threaded on
/// the original, `Auto-Submitted: auto-replied`, sent from `<>`.
pub fn compose_reply(
    input: &ReplyInput<'_>,
    templates: &Templates,
    settings: &ReplySettings,
) -> Result<OutgoingMessage, ComposeError> {
    let reason = input.decision.reason;
    // P8 must not reveal which accounts the sender is on: never name one, whatever is passed.
    let account = input.account.filter(|_| reason != Reason::AmbiguousAccount);
    let language = choose_language(
        account.and_then(|a| a.language),
        input.facts.content_language.as_deref(),
        settings.default_language,
    );
    let template = templates
        .reply(language, reason)
        .ok_or(ComposeError::NoTemplate(reason))?;
    // Only an address the directory lists on the account (an agent's, one shared by two of its
    // profiles, its own helpdesk address) learns the account's name and sign-in address: a
    // stranger writing to `support+acme@` must not find out what "acme" is (enumeration).
    let listed_on_account = input.decision.agent.is_some()
        || matches!(reason, Reason::SharedAddress | Reason::HelpdeskAddress);
    let named = account.filter(|_| listed_on_account);
    let mut values = common_values(
        language,
        reason,
        named,
        &input.facts.subject,
        input.support_address,
        settings,
    );
    values.category = category(input.decision, input.category, language);
    values.notified = input.owner_notified && reason == Reason::AuthorizationRequired;
    let body = finish_body(template.render(&values));

    let original = headers::clean_text(&input.facts.subject, SUBJECT_CHARS);
    let shown = if original.is_empty() {
        language::default_subject(language)
    } else {
        &original
    };
    let subject = format!("Auto: {shown}");
    let recipient = headers::clean_text(input.recipient.as_str(), NAME_CHARS);

    let mut head = HeaderBlock::default();
    head.push("Date", &headers::date(input.now));
    head.push("From", settings.from.as_str());
    head.push("To", &recipient);
    head.push(
        "Subject",
        &format!("Auto: {}", headers::unstructured(shown)),
    );
    head.push("Message-ID", &our_message_id(input.message_token, settings));
    if let Some(id) = input
        .facts
        .message_id
        .as_deref()
        .and_then(headers::message_id)
    {
        head.push("In-Reply-To", &id);
    }
    let references =
        headers::references(&input.facts.references, input.facts.message_id.as_deref());
    if !references.is_empty() {
        head.push("References", &references.join("\r\n "));
    }
    head.push("Auto-Submitted", "auto-replied");
    push_common(&mut head, reason, language);

    Ok(OutgoingMessage {
        mail_from: None,
        recipients: vec![recipient],
        subject,
        language,
        bytes: head.finish(&headers::quoted_printable(&body)),
        body,
    })
}

/// The P4 notifications (SPEC §3): one message per address in `Decision::notify`, so that no
/// admin's address is shown to another; in the account's language; `Auto-Submitted:
/// auto-generated`. Empty when there is nobody to notify.
pub fn compose_notification(
    input: &NotificationInput<'_>,
    templates: &Templates,
    settings: &ReplySettings,
) -> Result<Vec<OutgoingMessage>, ComposeError> {
    if input.decision.notify.is_empty() {
        return Ok(Vec::new());
    }
    let language = input.account.language.unwrap_or(settings.default_language);
    let template = templates
        .notification(language)
        .ok_or(ComposeError::NoNotificationTemplate(language))?;
    let reason = Reason::AuthorizationRequired;
    let mut values = common_values(
        language,
        reason,
        Some(input.account),
        &input.facts.subject,
        input.support_address,
        settings,
    );
    values.category = category(input.decision, input.category, language);
    values.sender = headers::clean_text(input.sender, NAME_CHARS);
    values.notified = true;
    let body = finish_body(template.render(&values));
    let subject = language::notification_subject(language, &values.account_name);
    let encoded_body = headers::quoted_printable(&body);

    let messages = input
        .decision
        .notify
        .iter()
        .enumerate()
        .map(|(i, address)| {
            let recipient = headers::clean_text(address, NAME_CHARS);
            let token = format!("{}.{}", headers::id_token(input.message_token), i + 1);
            let mut head = HeaderBlock::default();
            head.push("Date", &headers::date(input.now));
            head.push("From", settings.from.as_str());
            head.push("To", &recipient);
            head.push("Subject", &headers::unstructured(&subject));
            head.push("Message-ID", &our_message_id(&token, settings));
            head.push("Auto-Submitted", "auto-generated");
            push_common(&mut head, reason, language);
            OutgoingMessage {
                mail_from: None,
                recipients: vec![recipient],
                subject: subject.clone(),
                language,
                body: body.clone(),
                bytes: head.finish(&encoded_body),
            }
        })
        .collect();
    Ok(messages)
}

/// The values every template shares, sanitised (`subject`: the original message's Subject).
pub(super) fn common_values(
    language: Language,
    reason: Reason,
    account: Option<&Account>,
    subject: &str,
    support: &NormalizedAddress,
    settings: &ReplySettings,
) -> Values {
    let account_name = account
        .map(|a| headers::clean_text(&a.name, NAME_CHARS))
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| language::unknown_account_name(language).to_string());
    let sign_in_url = account
        .and_then(|a| a.sign_in_url.as_deref())
        .unwrap_or(&settings.sign_in_url);
    let subject = headers::clean_text(subject, SUBJECT_CHARS);
    Values {
        account_name,
        sign_in_url: headers::clean_text(sign_in_url, 500),
        reason: reason.code().to_string(),
        reason_text: language::reason_text(reason, language).to_string(),
        original_subject: if subject.is_empty() {
            language::no_subject(language).to_string()
        } else {
            subject
        },
        support_address: support.as_str().to_string(),
        support_local: support.local_part().to_string(),
        support_domain: support.domain().to_string(),
        billing_contact: headers::clean_text(&settings.billing_contact, NAME_CHARS),
        ..Values::default()
    }
}

/// `{{category}}`: the decision's category as people read it in `language` — the rule's label,
/// else its name.
fn category(decision: &Decision, rule: Option<&CategoryRule>, language: Language) -> String {
    let Some(name) = decision.category.as_deref() else {
        return String::new();
    };
    let shown = rule
        .filter(|r| r.name == name)
        .map_or(name, |r| r.label(language));
    headers::clean_text(shown, NAME_CHARS)
}

/// Rendered text with one final newline.
fn finish_body(rendered: String) -> String {
    let mut body = rendered.trim_end().to_string();
    body.push('\n');
    body
}

/// `<token@domain-of-replies.from>`.
fn our_message_id(token: &str, settings: &ReplySettings) -> String {
    format!("<{}@{}>", headers::id_token(token), settings.from.domain())
}

/// The headers both kinds of message end with: RFC 3834 loop protection, our reason, MIME.
fn push_common(head: &mut HeaderBlock, reason: Reason, language: Language) {
    // Exchange and Outlook honour this: no out-of-office answer to our automatic mail.
    head.push("X-Auto-Response-Suppress", "All");
    head.push("X-Supportgate-Reason", reason.code());
    head.push("Content-Language", language.as_str());
    head.push("MIME-Version", "1.0");
    head.push("Content-Type", "text/plain; charset=utf-8");
    head.push("Content-Transfer-Encoding", "quoted-printable");
}
