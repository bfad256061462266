//! The milter front's protocol layer (SPEC §15): Postfix (or Sendmail) keeps the SMTP session
//! and its queue and asks us about each message. Like [`crate::smtp`], it decides nothing
//! about mail itself: it calls a [`MilterHandler`] ([`crate::gateway::milter`]).
//!
//! * [`codec`] — the wire format, sans IO (frames, commands, responses); fuzzed.
//! * [`session`] — one connection's state machine: negotiation, the message rebuilt for the
//!   recipients the handler is concerned with, limits.
//! * [`verdict`] — [`Verdict`], and the one mapping from the act stage's outcomes to replies.
//! * `listener` — TCP and Unix listeners, the connection limit, timeouts and shutdown; [`run`].

pub mod codec;
mod connection;
mod listener;
pub mod session;
pub mod verdict;

pub use codec::ClientAddress;
pub use listener::{bind, run, MilterAddress, MilterListener};
pub use session::{Session, Step};
pub use verdict::{Edits, Verdict};

use std::future::Future;
use std::time::Duration;

/// The largest frame accepted: a body chunk is at most 64 KiB, a header field is bounded by
/// the MTA (Postfix: `header_size_limit`, 100 KiB by default).
pub const MAX_FRAME: usize = 1 << 20;

/// Bounds on one connection and on the messages it carries.
#[derive(Debug, Clone, Copy)]
pub struct MilterLimits {
    pub max_frame: usize,
    pub max_message_size: usize,
    pub max_header_size: usize,
    pub max_header_count: usize,
    pub max_recipients: usize,
    /// Distinct macros remembered per connection.
    pub max_macros: usize,
    pub max_connections: usize,
    /// Silence from the MTA longer than this closes the connection.
    pub idle_timeout: Duration,
    /// How long open connections may finish their message on shutdown.
    pub shutdown_grace: Duration,
}

/// One message as the milter steps gave it, for the recipients the handler is concerned with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MilterMessage {
    pub session_id: String,
    /// The SMTP client of the MTA (`SMFIC_CONNECT`), not the MTA itself.
    pub client: ClientAddress,
    /// The client's name as the MTA resolved it.
    pub hostname: String,
    pub helo: Option<String>,
    /// None: the null reverse-path.
    pub mail_from: Option<String>,
    /// Every recipient: as the MTA gave it (`<a@b>`, what `SMFIR_DELRCPT` names) and unquoted.
    pub recipients: Vec<(String, String)>,
    /// Header fields in order; values keep their leading space.
    pub headers: Vec<(String, String)>,
    /// The message rebuilt: header fields, blank line, body, CRLF line endings.
    pub bytes: Vec<u8>,
    /// The MTA's queue id (macro `i`).
    pub mta_queue_id: Option<String>,
    /// The SASL login of the client (macro `{auth_authen}`).
    pub authenticated_as: Option<String>,
    /// The MTA's own name (macro `j`).
    pub mta_hostname: Option<String>,
    /// The client used TLS (macro `{tls_version}`).
    pub tls: bool,
}

/// Implemented by the milter front; the protocol layer calls it.
pub trait MilterHandler: Send + Sync + 'static {
    /// Whether this recipient (unquoted) is one we decide for; mail for no such recipient is
    /// let through untouched.
    fn concerns(&self, recipient: &str) -> bool;

    /// The verdict on a complete message with at least one recipient we are concerned with.
    /// `Continue` or `Discard` only once the message is safe (the MTA answers `250`).
    fn decide(&self, message: MilterMessage) -> impl Future<Output = Verdict> + Send;
}
