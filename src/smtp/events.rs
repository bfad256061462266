//! An observer of what sessions do, for metrics: the protocol layer reports, whoever listens
//! counts. Every method has an empty default, so an observer implements only what it needs.

use std::fmt::Debug;

/// A session limit that was hit (SPEC §6 "Limits").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LimitKind {
    /// `max_connections`: `421 4.7.0` at connect.
    Connections,
    /// `max_connections_per_ip`: `421 4.7.0` at connect.
    ConnectionsPerIp,
    /// `max_message_size` (declared SIZE or actual): `552 5.3.4`.
    MessageSize,
    /// `max_recipients`: `452 4.5.3`.
    Recipients,
    /// `max_line_length`: `500 5.5.2`.
    LineLength,
    /// `max_errors`: `421 4.7.0` and close.
    Errors,
    /// `max_junk_commands`: `421 4.7.0` and close.
    JunkCommands,
    /// `max_header_size` or `max_header_count`: `552 5.3.4`.
    HeaderSize,
    /// The command or DATA deadline passed: `421 4.4.2`.
    Timeout,
    /// A client did not read our replies within the command timeout: closed without a reply.
    WriteTimeout,
    /// The handler did not answer within DATA termination: `451 4.4.2`.
    HandlerTimeout,
}

impl LimitKind {
    pub fn as_str(self) -> &'static str {
        match self {
            LimitKind::Connections => "connections",
            LimitKind::ConnectionsPerIp => "connections-per-ip",
            LimitKind::MessageSize => "message-size",
            LimitKind::Recipients => "recipients",
            LimitKind::LineLength => "line-length",
            LimitKind::Errors => "errors",
            LimitKind::JunkCommands => "junk-commands",
            LimitKind::HeaderSize => "header-size",
            LimitKind::Timeout => "timeout",
            LimitKind::WriteTimeout => "write-timeout",
            LimitKind::HandlerTimeout => "handler-timeout",
        }
    }
}

/// Told about sessions by the server; called on the session's task, so it must be quick.
pub trait SessionEvents: Send + Sync + Debug {
    /// A connection was admitted as a session.
    fn session_opened(&self) {}
    /// That session ended.
    fn session_closed(&self) {}
    fn limit_hit(&self, _kind: LimitKind) {}
    /// A reply (any code, greeting included) was queued for a client.
    fn reply_sent(&self, _code: u16) {}
}

/// The observer used when nobody listens.
#[derive(Debug, Default)]
pub struct NoEvents;

impl SessionEvents for NoEvents {}
