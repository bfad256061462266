//! One milter connection as a state machine, without IO: commands in, [`Step`]s out. It
//! negotiates only the steps it needs, rebuilds the message of the recipients its handler is
//! concerned with (byte for byte: header values keep their leading space), enforces the
//! message limits, and lets everything else through untouched (`SMFIR_ACCEPT` at the end of
//! the header section).

use super::codec::{actions, protocol, ClientAddress, Command, Response, VERSION};
use super::verdict::Verdict;
use super::{MilterLimits, MilterMessage};
use crate::smtp::SmtpReply;
use std::collections::HashMap;

/// The modifications we ask for: our header fields, removing forged ones, dropping the
/// recipients we keep.
const ACTIONS: u32 = actions::ADD_HEADERS | actions::CHANGE_HEADERS | actions::DELETE_RECIPIENTS;

/// The steps we do not need, and those we do not answer (taken only as far as offered). The
/// end of the header section is answered: that is where mail for others is let go.
const PROTOCOL: u32 = protocol::NO_UNKNOWN
    | protocol::NO_DATA
    | protocol::NO_REPLY_CONNECT
    | protocol::NO_REPLY_HELO
    | protocol::NO_REPLY_MAIL
    | protocol::NO_REPLY_RCPT
    | protocol::NO_REPLY_HEADER
    | protocol::NO_REPLY_BODY
    | protocol::HEADER_LEADING_SPACE;

/// What the IO loop does after one command.
#[derive(Debug, PartialEq, Eq)]
pub enum Step {
    /// Send these (possibly none).
    Reply(Vec<Response>),
    /// Hand the message to the handler and send its verdict's responses.
    Decide(Box<MilterMessage>),
    /// Close the connection: the MTA quit, or it broke the protocol (the reason is logged).
    Close(Option<String>),
}

/// Which limit a message went over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Overflow {
    Header,
    Message,
    Recipients,
}

#[derive(Debug, Default)]
struct Message {
    mail_from: Option<String>,
    /// As the MTA gave them (with angle brackets) and unquoted.
    recipients: Vec<(String, String)>,
    concerned: bool,
    headers: Vec<(String, String)>,
    bytes: Vec<u8>,
    header_count: usize,
    overflow: Option<Overflow>,
}

pub struct Session {
    session_id: String,
    limits: MilterLimits,
    negotiated: Option<u32>,
    macros: HashMap<String, String>,
    hostname: String,
    client: ClientAddress,
    helo: Option<String>,
    message: Option<Message>,
}

impl Session {
    pub fn new(session_id: String, limits: MilterLimits) -> Session {
        Session {
            session_id,
            limits,
            negotiated: None,
            macros: HashMap::new(),
            hostname: String::new(),
            client: ClientAddress::Unknown,
            helo: None,
            message: None,
        }
    }

    /// True between MAIL and the end (or abort) of a message.
    pub fn in_message(&self) -> bool {
        self.message.is_some()
    }

    fn has(&self, flag: u32) -> bool {
        self.negotiated.is_some_and(|p| p & flag != 0)
    }

    /// `Continue`, unless the negotiation said that this step gets no reply.
    fn ack(&self, no_reply: u32) -> Step {
        if self.has(no_reply) {
            Step::Reply(Vec::new())
        } else {
            Step::Reply(vec![Response::Continue])
        }
    }

    /// `concerns`: whether the handler decides for this recipient (unquoted address).
    pub fn on_command(&mut self, command: Command, concerns: &dyn Fn(&str) -> bool) -> Step {
        if self.negotiated.is_none() && !matches!(command, Command::Negotiate { .. }) {
            return Step::Close(Some("command before option negotiation".into()));
        }
        match command {
            Command::Negotiate {
                version,
                actions,
                protocol,
            } => self.negotiate(version, actions, protocol),
            Command::Macros { pairs, .. } => {
                for (name, value) in pairs.into_iter().take(self.limits.max_macros) {
                    if self.macros.len() < self.limits.max_macros || self.macros.contains_key(&name)
                    {
                        self.macros.insert(name, value);
                    }
                }
                Step::Reply(Vec::new())
            }
            Command::Connect { hostname, address } => {
                self.hostname = hostname;
                self.client = address;
                self.ack(protocol::NO_REPLY_CONNECT)
            }
            Command::Helo(helo) => {
                self.helo = Some(helo);
                self.ack(protocol::NO_REPLY_HELO)
            }
            Command::Mail(args) => {
                let path = unquote(args.first().map_or("", String::as_str));
                self.message = Some(Message {
                    mail_from: (!path.is_empty()).then_some(path),
                    ..Message::default()
                });
                self.ack(protocol::NO_REPLY_MAIL)
            }
            Command::Recipient(args) => {
                let Some(message) = self.message.as_mut() else {
                    return Step::Close(Some("RCPT outside a message".into()));
                };
                let given = args.into_iter().next().unwrap_or_default();
                let address = unquote(&given);
                if message.recipients.len() < self.limits.max_recipients {
                    message.concerned |= concerns(&address);
                    message.recipients.push((given, address));
                } else {
                    // Never let a recipient we did not look at through.
                    message.concerned = true;
                    message.overflow.get_or_insert(Overflow::Recipients);
                }
                self.ack(protocol::NO_REPLY_RCPT)
            }
            Command::Header { name, value } => {
                self.header(name, value);
                self.ack(protocol::NO_REPLY_HEADER)
            }
            Command::EndOfHeaders => match self.message.as_mut() {
                Some(message) if message.concerned => {
                    message.bytes.extend_from_slice(b"\r\n");
                    Step::Reply(vec![Response::Continue])
                }
                // Nothing for us: Postfix delivers it as it came and sends no more of it.
                _ => {
                    self.message = None;
                    Step::Reply(vec![Response::Accept])
                }
            },
            Command::Body(chunk) => {
                self.body(&chunk);
                self.ack(protocol::NO_REPLY_BODY)
            }
            Command::EndOfMessage(chunk) => {
                self.body(&chunk);
                self.end_of_message()
            }
            Command::Abort => {
                self.message = None;
                Step::Reply(Vec::new())
            }
            Command::Quit => Step::Close(None),
            Command::QuitNewConnection => {
                self.message = None;
                self.macros.clear();
                self.helo = None;
                self.client = ClientAddress::Unknown;
                Step::Reply(Vec::new())
            }
            Command::Data | Command::Unknown(_) => Step::Reply(vec![Response::Continue]),
        }
    }

    fn negotiate(&mut self, version: u32, offered_actions: u32, offered: u32) -> Step {
        if version < VERSION {
            return Step::Close(Some(format!(
                "the MTA speaks milter protocol {version}; 6 is needed (Postfix: milter_protocol = 6)"
            )));
        }
        if offered_actions & ACTIONS != ACTIONS {
            return Step::Close(Some(format!(
                "the MTA does not offer the header and recipient changes needed (offered 0x{offered_actions:x})"
            )));
        }
        let protocol = PROTOCOL & offered;
        self.negotiated = Some(protocol);
        Step::Reply(vec![Response::Negotiate {
            version: VERSION,
            actions: ACTIONS,
            protocol,
        }])
    }

    fn header(&mut self, name: String, value: String) {
        let leading_space = self.has(protocol::HEADER_LEADING_SPACE);
        let limits = self.limits;
        let Some(message) = self.message.as_mut().filter(|m| m.concerned) else {
            return;
        };
        message.header_count += 1;
        // Folded lines come with LF or CRLF: the message we rebuild has CRLF only.
        let value = value.replace("\r\n", "\n").replace('\n', "\r\n");
        let field = if leading_space {
            format!("{name}:{value}\r\n")
        } else {
            format!("{name}: {value}\r\n")
        };
        if message.header_count > limits.max_header_count
            || message.bytes.len() + field.len() > limits.max_header_size
        {
            message.overflow.get_or_insert(Overflow::Header);
            return;
        }
        if message.overflow.is_none() {
            message.bytes.extend_from_slice(field.as_bytes());
        }
        let value = if leading_space {
            value
        } else {
            format!(" {value}")
        };
        message.headers.push((name, value));
    }

    fn body(&mut self, chunk: &[u8]) {
        let max = self.limits.max_message_size;
        let Some(message) = self.message.as_mut().filter(|m| m.concerned) else {
            return;
        };
        if message.overflow.is_some() {
            return;
        }
        if message.bytes.len() + chunk.len() > max {
            message.overflow = Some(Overflow::Message);
            message.bytes = Vec::new();
            return;
        }
        message.bytes.extend_from_slice(chunk);
    }

    fn end_of_message(&mut self) -> Step {
        let Some(message) = self.message.take() else {
            // Accepted at the end of the headers, or never begun: nothing of ours.
            return Step::Reply(vec![Response::Continue]);
        };
        if !message.concerned {
            return Step::Reply(vec![Response::Continue]);
        }
        if let Some(overflow) = message.overflow {
            let reply = match overflow {
                Overflow::Header => {
                    SmtpReply::new(552, (5, 3, 4), "Message header exceeds fixed limit")
                }
                Overflow::Message => {
                    SmtpReply::new(552, (5, 3, 4), "Message size exceeds fixed limit")
                }
                Overflow::Recipients => SmtpReply::new(452, (4, 5, 3), "Too many recipients"),
            };
            tracing::info!(session = %self.session_id, queue_id = %self.macro_value("i").unwrap_or(""), limit = ?overflow, "milter: message over the limit refused");
            return Step::Reply(Verdict::Reply(reply).responses());
        }
        Step::Decide(Box::new(MilterMessage {
            session_id: self.session_id.clone(),
            client: self.client.clone(),
            hostname: self.hostname.clone(),
            helo: self.helo.clone(),
            mail_from: message.mail_from,
            recipients: message.recipients,
            headers: message.headers,
            bytes: message.bytes,
            mta_queue_id: self.macro_value("i").map(str::to_string),
            authenticated_as: self
                .macro_value("{auth_authen}")
                .filter(|v| !v.is_empty())
                .map(str::to_string),
            mta_hostname: self.macro_value("j").map(str::to_string),
            tls: self
                .macro_value("{tls_version}")
                .is_some_and(|v| !v.is_empty()),
        }))
    }

    /// The replies for the handler's verdict: header values as this MTA takes them (folded
    /// with LF; with the leading space when the negotiation keeps it).
    pub fn verdict_responses(&self, verdict: &Verdict) -> Vec<Response> {
        let leading_space = self.has(protocol::HEADER_LEADING_SPACE);
        verdict
            .responses()
            .into_iter()
            .map(|response| match response {
                Response::InsertHeader { index, name, value } => {
                    let value = value.replace("\r\n", "\n");
                    let value = if leading_space {
                        format!(" {value}")
                    } else {
                        value
                    };
                    Response::InsertHeader { index, name, value }
                }
                other => other,
            })
            .collect()
    }

    fn macro_value(&self, name: &str) -> Option<&str> {
        self.macros.get(name).map(String::as_str)
    }
}

/// `<a@b.example>` → `a@b.example`; `<>` → empty.
fn unquote(path: &str) -> String {
    let path = path.trim();
    path.strip_prefix('<')
        .and_then(|p| p.strip_suffix('>'))
        .unwrap_or(path)
        .to_string()
}

#[cfg(test)]
#[path = "session_tests.rs"]
mod tests;
