//! The interface between the protocol layer and whoever decides what happens to mail.

use std::future::Future;
use std::net::SocketAddr;

use super::reply::SmtpReply;

/// What the handler knows about the client connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionInfo {
    pub peer: SocketAddr,
    pub local: SocketAddr,
    /// The EHLO/HELO argument, once given (forgotten again after STARTTLS).
    pub helo: Option<String>,
    /// True once STARTTLS has completed.
    pub tls: bool,
    /// Random identifier, also present in every log line of the session.
    pub session_id: String,
}

/// The envelope of one transaction.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Envelope {
    /// `None` is the null reverse-path `<>` (bounces).
    pub mail_from: Option<String>,
    /// Accepted recipients, in order.
    pub rcpt_to: Vec<String>,
    /// `MAIL FROM:<...> SMTPUTF8`.
    pub smtputf8: bool,
    /// `MAIL FROM:<...> BODY=8BITMIME`.
    pub body_8bit: bool,
}

/// The handler's verdict on one recipient.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RcptCheck {
    Accept,
    Reject(SmtpReply),
}

/// Implemented by the pipeline; the SMTP server calls it and speaks the protocol around it.
pub trait MessageHandler: Send + Sync + 'static {
    /// Called at RCPT TO with an address that passed the syntax and relay-hack checks
    /// (quotes removed, e.g. `support+acme@vendor.example`).
    fn check_recipient(&self, session: &SessionInfo, address: &str) -> RcptCheck;

    /// Called after end-of-data with the complete message (dot-unstuffed, CRLF line
    /// endings). Its reply is the final reply to DATA, so it must answer 250 only once the
    /// message is safe. Never called for a partial or refused message.
    fn deliver(
        &self,
        session: &SessionInfo,
        envelope: &Envelope,
        message: Vec<u8>,
    ) -> impl Future<Output = SmtpReply> + Send;
}
