//! One kept message: envelope, decision and why, the auto-reply's fate, releases, every
//! header as received, attachments by name, type and size, and the text body as plain text.
//! The message's HTML is never rendered and nothing it names is loaded: every value is text,
//! escaped by the template engine (and its controls made visible by [`shown`]).

use super::render::{shown, when};
use super::visitor::Visitor;
use super::ConsoleState;
use crate::store::quarantine::{QuarantineError, QuarantineRecord};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::Extension;
use mail_parser::{MessageParser, MimeHeaders};
use minijinja::context;
use serde::Serialize;
use std::sync::Arc;

/// The text shown is cut after this many characters.
const MAX_BODY_CHARS: usize = 200_000;

#[derive(Debug, Serialize)]
struct Header {
    name: String,
    value: String,
}

#[derive(Debug, Serialize)]
struct Attachment {
    name: String,
    r#type: String,
    size: usize,
}

#[derive(Debug, Serialize)]
struct ReleaseShown {
    at: String,
    by: String,
    outcome: String,
}

/// The auto-reply kept with the message: who got it, its Subject and its text.
#[derive(Debug, Serialize)]
struct ReplyShown {
    to: String,
    subject: String,
    body: String,
}

fn shown_reply(bytes: &[u8]) -> ReplyShown {
    let parsed = MessageParser::default().parse(bytes);
    let header = |name: &str| {
        raw_headers(bytes)
            .into_iter()
            .find(|h| h.name.eq_ignore_ascii_case(name))
            .map_or(String::new(), |h| h.value)
    };
    ReplyShown {
        to: header("To"),
        subject: parsed
            .as_ref()
            .and_then(|m| m.subject())
            .map_or_else(|| header("Subject"), shown),
        body: parsed
            .as_ref()
            .and_then(|m| m.body_text(0))
            .map_or(String::new(), |text| body_text(&text).0),
    }
}

#[derive(Debug, Serialize)]
struct Shown {
    id: String,
    subject: String,
    received: String,
    peer: String,
    helo: String,
    mail_from: String,
    recipients: Vec<String>,
    from: String,
    message_id: String,
    size: u64,
    verdict: String,
    reason: String,
    why: String,
    action: String,
    account: String,
    agent: String,
    role: String,
    category: String,
    note: String,
    authentication: String,
    reply: String,
    reply_sent: Option<ReplyShown>,
    releases: Vec<ReleaseShown>,
    parsed: bool,
    headers: Vec<Header>,
    attachments: Vec<Attachment>,
    body: String,
    truncated: bool,
}

/// The header section as received, unfolded: `(name, value)` in order.
fn raw_headers(message: &[u8]) -> Vec<Header> {
    let end = message
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map_or(message.len(), |p| p + 2);
    let text = String::from_utf8_lossy(&message[..end]);
    let mut headers: Vec<Header> = Vec::new();
    for line in text.split("\r\n") {
        if line.starts_with([' ', '\t']) {
            if let Some(last) = headers.last_mut() {
                last.value.push(' ');
                last.value.push_str(&shown(line.trim()));
            }
        } else if let Some((name, value)) = line.split_once(':') {
            headers.push(Header {
                name: shown(name.trim()),
                value: shown(value.trim()),
            });
        } else if !line.is_empty() {
            headers.push(Header {
                name: String::new(),
                value: shown(line),
            });
        }
    }
    headers
}

/// The text body with its line breaks kept and every other control made visible.
fn body_text(text: &str) -> (String, bool) {
    let truncated = text.chars().count() > MAX_BODY_CHARS;
    let lines: Vec<String> = text
        .chars()
        .take(MAX_BODY_CHARS)
        .collect::<String>()
        .replace("\r\n", "\n")
        .split('\n')
        .map(shown)
        .collect();
    (lines.join("\n"), truncated)
}

fn shown_record(record: &QuarantineRecord, message: &[u8], reply: Option<&[u8]>) -> Shown {
    let parsed = MessageParser::default().parse(message);
    // The first text part; a message with HTML alone shows that HTML's source, as text.
    let (body, truncated) = parsed
        .as_ref()
        .and_then(|m| m.text_part(0))
        .and_then(|part| match &part.body {
            mail_parser::PartType::Text(text) | mail_parser::PartType::Html(text) => {
                Some(body_text(text))
            }
            _ => None,
        })
        .unwrap_or((String::new(), false));
    let attachments = parsed
        .as_ref()
        .map(|m| {
            m.attachments()
                .map(|part| Attachment {
                    name: shown(part.attachment_name().unwrap_or("")),
                    r#type: part.content_type().map_or(String::new(), |ct| {
                        shown(&match ct.subtype() {
                            Some(sub) => format!("{}/{sub}", ct.ctype()),
                            None => ct.ctype().to_string(),
                        })
                    }),
                    size: part.contents().len(),
                })
                .collect()
        })
        .unwrap_or_default();
    let decision = &record.decision;
    let opt = |v: &Option<String>| shown(v.as_deref().unwrap_or(""));
    Shown {
        id: record.id.clone(),
        subject: opt(&record.subject),
        received: when(record.received_at),
        peer: opt(&record.peer),
        helo: opt(&record.helo),
        mail_from: shown(&record.mail_from),
        recipients: record.recipients.iter().map(|r| shown(r)).collect(),
        from: opt(&record.from_header),
        message_id: opt(&record.message_id),
        size: record.size,
        verdict: shown(&decision.verdict),
        reason: shown(&decision.reason),
        why: decision
            .reason
            .parse::<crate::policy::Reason>()
            .map_or(String::new(), |r| r.short_text().to_string()),
        action: shown(&decision.action),
        account: opt(&decision.account),
        agent: opt(&decision.agent),
        role: opt(&decision.role),
        category: opt(&decision.category),
        note: shown(&record.note),
        authentication: opt(&record.authentication),
        reply: shown(&decision.reply),
        reply_sent: reply.map(shown_reply),
        releases: record
            .release_attempts
            .iter()
            .map(|r| ReleaseShown {
                at: when(r.at),
                by: shown(&r.by),
                outcome: shown(&r.outcome),
            })
            .collect(),
        parsed: parsed.is_some(),
        headers: raw_headers(message),
        attachments,
        body,
        truncated,
    }
}

pub async fn page(
    State(state): State<Arc<ConsoleState>>,
    Extension(visitor): Extension<Visitor>,
    Path(id): Path<String>,
) -> Response {
    let quarantine = state.quarantine.clone();
    let loaded = tokio::task::spawn_blocking(move || {
        Ok::<_, QuarantineError>((
            quarantine.record(&id)?,
            quarantine.message(&id)?,
            quarantine.reply(&id)?,
        ))
    })
    .await;
    match loaded {
        Ok(Ok((record, message, reply))) => state.pages.render(
            StatusCode::OK,
            "message.html",
            &visitor,
            context! { m => shown_record(&record, &message, reply.as_deref()), show_sign_out => state.shows_sign_out() },
        ),
        Ok(Err(QuarantineError::NotFound(_) | QuarantineError::BadId(_))) => {
            state.pages.error(StatusCode::NOT_FOUND, &visitor, "not_found")
        }
        Ok(Err(e)) => {
            tracing::error!(target: "supportgate::console", error = %e, "console: message not readable");
            state.pages.error(StatusCode::INTERNAL_SERVER_ERROR, &visitor, "error")
        }
        Err(e) => {
            tracing::error!(target: "supportgate::console", error = %e, "console: message task failed");
            state.pages.error(StatusCode::INTERNAL_SERVER_ERROR, &visitor, "error")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_unfolded_and_controls_visible() {
        let message = b"Subject: a\r\n b\x1b[2J\r\nX-Y: <script>\r\n\r\nbody\r\n";
        let headers = raw_headers(message);
        assert_eq!(headers.len(), 2);
        assert_eq!(headers[0].value, "a b\\x1b[2J");
        assert_eq!(headers[1].value, "<script>");
        let (body, truncated) = body_text("one\r\ntwo\u{1b}]52;c;x\u{7}\n");
        assert_eq!(body, "one\ntwo\\x1b]52;c;x\\x07\n");
        assert!(!truncated);
    }
}
