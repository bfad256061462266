//! SMTP replies, and the one place that maps protocol outcomes to reply codes and texts.
//!
//! Client-facing texts stay generic; the detail goes to the log (tracing) instead.
//! Every reply carries an RFC 3463 enhanced status code, except the greeting and the
//! HELO/EHLO replies, which RFC 2034 §3 exempts.

use std::fmt;

use super::address::RelayHack;
use crate::act::{Acted, Defer, Outcome as Acting};

/// A reply to an SMTP command: code, optional enhanced status code (class, subject, detail)
/// and human-readable text. Text may span several lines (`\n`); they are sent as a multiline
/// reply, with any control characters removed so a handler cannot inject protocol lines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmtpReply {
    pub code: u16,
    pub enhanced: Option<(u8, u16, u16)>,
    pub text: String,
}

impl SmtpReply {
    /// A reply with an enhanced status code, e.g. `SmtpReply::new(550, (5, 1, 1), "No such user")`.
    pub fn new(code: u16, enhanced: (u8, u16, u16), text: impl Into<String>) -> Self {
        Self {
            code,
            enhanced: Some(enhanced),
            text: text.into(),
        }
    }

    /// A reply without an enhanced status code (greeting, HELO).
    pub fn plain(code: u16, text: impl Into<String>) -> Self {
        Self {
            code,
            enhanced: None,
            text: text.into(),
        }
    }

    /// `250 2.0.0 <text>`: the message is safe (queued, spooled or quarantined).
    pub fn accepted(text: impl Into<String>) -> Self {
        Self::new(250, (2, 0, 0), text)
    }

    /// `451 4.4.1 <text>`: try again later, the client keeps the message.
    pub fn temporary_failure(text: impl Into<String>) -> Self {
        Self::new(451, (4, 4, 1), text)
    }

    /// `550 5.1.1 <text>`: recipient refused.
    pub fn no_such_recipient(text: impl Into<String>) -> Self {
        Self::new(550, (5, 1, 1), text)
    }

    /// `550 5.7.1 <text>`: message refused by policy (SPEC §4, action `reject`).
    pub fn rejected(text: impl Into<String>) -> Self {
        Self::new(550, (5, 7, 1), text)
    }

    /// The final reply to DATA for what the act stage did with one decision.
    pub fn for_outcome(acted: &Acted) -> Self {
        match acted.outcome {
            Acting::Forwarded | Acting::Spooled | Acting::Passed => {
                Self::accepted(format!("Queued as {}", acted.queue_id))
            }
            Acting::Quarantined | Acting::Held | Acting::Consumed => {
                Self::accepted(format!("Received as {}", acted.queue_id))
            }
            Acting::Rejected(reason) => Self::rejected(reason.short_text()),
            Acting::Deferred(Defer::TicketQueue) => {
                Self::temporary_failure("Ticket queue unavailable, try again later")
            }
            Acting::Deferred(Defer::Storage) => Self::new(
                452,
                (4, 3, 1),
                "Insufficient system storage, try again later",
            ),
            Acting::Deferred(Defer::Authentication) => Self::new(
                451,
                (4, 4, 3),
                "Sender authentication temporarily unavailable, try again later",
            ),
            Acting::RefusedUpstream => {
                Self::new(554, (5, 0, 0), "The ticket queue refused this message")
            }
        }
    }

    /// One answer for a transaction that concerned several accounts: a temporary failure of
    /// any wins (the client retries the whole; a group already delivered may arrive twice, as
    /// with any MTA), then success, then the first refusal.
    pub fn combine(replies: Vec<SmtpReply>) -> Self {
        let first_with = |class: u16| replies.iter().find(|r| r.code / 100 == class).cloned();
        first_with(4)
            .or_else(|| first_with(2))
            .or_else(|| replies.first().cloned())
            .unwrap_or_else(|| Self::new(554, (5, 5, 1), "No valid recipients"))
    }

    /// 2xx or 3xx.
    pub fn is_positive(&self) -> bool {
        self.code < 400
    }

    /// Appends the wire form (one or more CRLF-terminated lines) to `out`, control characters
    /// left out; written in place (seven replies a message: no allocation for any of them).
    pub fn write_to(&self, out: &mut Vec<u8>) {
        use std::io::Write as _;
        let code = self.code.clamp(200, 599);
        let mut lines = self.text.split('\n').peekable();
        while let Some(line) = lines.next() {
            let sep = if lines.peek().is_none() { ' ' } else { '-' };
            // Writing to a Vec cannot fail.
            let _ = match self.enhanced {
                Some((class, subject, detail)) => {
                    write!(out, "{code}{sep}{class}.{subject}.{detail} ")
                }
                None => write!(out, "{code}{sep}"),
            };
            if line.chars().any(char::is_control) {
                for c in line.chars().filter(|c| !c.is_control()) {
                    out.extend_from_slice(c.encode_utf8(&mut [0; 4]).as_bytes());
                }
            } else {
                out.extend_from_slice(line.as_bytes());
            }
            out.extend_from_slice(b"\r\n");
        }
    }
}

impl fmt::Display for SmtpReply {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut out = Vec::new();
        self.write_to(&mut out);
        f.write_str(String::from_utf8_lossy(&out).trim_end())
    }
}

/// Everything the protocol layer itself can answer. The handler's own replies
/// ([`super::RcptCheck::Reject`], `deliver`) are passed through unchanged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Greeting,
    Helo,
    Ok,
    SenderOk,
    RecipientOk,
    StartData,
    StartTls,
    Quit,
    Help,
    CannotVerify,
    UnknownCommand,
    NotImplemented,
    BadSequence(&'static str),
    SyntaxError,
    BadSenderSyntax,
    BadRecipientSyntax,
    UnsupportedParameter,
    LineTooLong,
    /// A NUL byte in a command line.
    NulInCommand,
    /// A non-ASCII MAIL or RCPT address in a transaction without `SMTPUTF8` (RFC 6531 §3.5).
    NonAsciiAddress,
    /// STARTTLS after MAIL: TLS must come before a transaction (RFC 3207 §4).
    StartTlsInTransaction,
    MessageTooLarge,
    /// The header section is over `max_header_size` or `max_header_count`.
    HeaderTooLarge,
    TooManyRecipients,
    RelayRefused(RelayHack),
    BareLineEnding,
    TooManyConnections,
    TooManyErrors,
    /// More than `max_junk_commands` commands that move no transaction forward.
    TooManyJunkCommands,
    Timeout,
    HandlerTimeout,
    ShuttingDown,
    TlsUnavailable,
}

impl Outcome {
    /// The reply for this outcome; `hostname` is our own name.
    pub fn reply(&self, hostname: &str) -> SmtpReply {
        use Outcome::*;
        fn new(code: u16, enhanced: (u8, u16, u16), text: impl Into<String>) -> SmtpReply {
            SmtpReply::new(code, enhanced, text)
        }
        match self {
            Greeting => SmtpReply::plain(220, format!("{hostname} ESMTP")),
            Helo => SmtpReply::plain(250, hostname.to_string()),
            Ok => new(250, (2, 0, 0), "Ok"),
            SenderOk => new(250, (2, 1, 0), "Sender ok"),
            RecipientOk => new(250, (2, 1, 5), "Recipient ok"),
            StartData => new(354, (2, 0, 0), "End data with <CR><LF>.<CR><LF>"),
            StartTls => new(220, (2, 0, 0), "Ready to start TLS"),
            Quit => new(221, (2, 0, 0), format!("{hostname} closing connection")),
            Help => new(214, (2, 0, 0), "See RFC 5321"),
            CannotVerify => new(
                252,
                (2, 5, 0),
                "Cannot VRFY user, but will accept message and attempt delivery",
            ),
            UnknownCommand => new(500, (5, 5, 1), "Command unrecognized"),
            NotImplemented => new(502, (5, 5, 1), "Command not implemented"),
            BadSequence(what) => new(503, (5, 5, 1), format!("Bad sequence of commands: {what}")),
            SyntaxError => new(501, (5, 5, 4), "Syntax error in parameters or arguments"),
            BadSenderSyntax => new(553, (5, 1, 7), "Bad sender address syntax"),
            BadRecipientSyntax => new(553, (5, 1, 3), "Bad recipient address syntax"),
            UnsupportedParameter => new(555, (5, 5, 4), "Unsupported parameter"),
            LineTooLong => new(500, (5, 5, 2), "Line too long"),
            NulInCommand => new(500, (5, 5, 2), "NUL character in command line"),
            NonAsciiAddress => new(553, (5, 6, 7), "Non-ASCII address requires SMTPUTF8"),
            StartTlsInTransaction => new(
                503,
                (5, 5, 1),
                "Bad sequence of commands: STARTTLS inside a transaction",
            ),
            MessageTooLarge => new(552, (5, 3, 4), "Message size exceeds fixed limit"),
            HeaderTooLarge => new(552, (5, 3, 4), "Message header exceeds fixed limit"),
            TooManyRecipients => new(452, (4, 5, 3), "Too many recipients"),
            // One generic text for every relay hack: the log says which one it was.
            RelayRefused(_) => new(550, (5, 1, 1), "Recipient address rejected"),
            BareLineEnding => new(
                550,
                (5, 5, 2),
                "Message refused: bare CR, bare LF or NUL in message data",
            ),
            TooManyConnections => new(
                421,
                (4, 7, 0),
                format!("{hostname} Too many connections, try again later"),
            ),
            TooManyErrors => new(421, (4, 7, 0), format!("{hostname} Too many errors")),
            TooManyJunkCommands => new(
                421,
                (4, 7, 0),
                format!("{hostname} Too many commands without a message"),
            ),
            Timeout => new(421, (4, 4, 2), format!("{hostname} Timeout exceeded")),
            HandlerTimeout => new(
                451,
                (4, 4, 2),
                "Timeout while processing message, try again later",
            ),
            ShuttingDown => new(421, (4, 3, 2), format!("{hostname} Service shutting down")),
            TlsUnavailable => new(454, (4, 7, 0), "TLS not available"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn single_line_with_enhanced_code() {
        let mut out = Vec::new();
        SmtpReply::new(550, (5, 1, 1), "No").write_to(&mut out);
        assert_eq!(out, b"550 5.1.1 No\r\n");
    }

    #[test]
    fn multiline_and_control_characters_are_neutralised() {
        let mut out = Vec::new();
        SmtpReply::new(250, (2, 0, 0), "a\r\nb\r\n250 injected\x00").write_to(&mut out);
        assert_eq!(
            out,
            b"250-2.0.0 a\r\n250-2.0.0 b\r\n250 2.0.0 250 injected\r\n"
        );
    }

    #[test]
    fn greeting_has_no_enhanced_code() {
        assert_eq!(Outcome::Greeting.reply("mx").to_string(), "220 mx ESMTP");
    }
}
