//! Session limits, with Postfix-like defaults.
//!
//! The one place that owns the protocol layer's numeric defaults; the configuration's `[server]`
//! defaults are derived from these. Everything is a plain field so configuration (owned
//! elsewhere) can override it and tests can shrink it.

use std::time::Duration;

/// How long sessions may go on after shutdown was requested (`ServerConfig::shutdown_grace`).
pub const DEFAULT_SHUTDOWN_GRACE: Duration = Duration::from_secs(30);

/// Resource limits applied to every SMTP session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionLimits {
    /// Largest message accepted, in bytes after dot-unstuffing (Postfix `message_size_limit`).
    /// Larger messages are read to the end and refused with `552 5.3.4`.
    pub max_message_size: usize,
    /// Recipients per transaction (Postfix `smtpd_recipient_limit`); more get `452 4.5.3`.
    pub max_recipients: usize,
    /// Longest command line, CRLF included (Postfix `line_length_limit`); longer lines are
    /// discarded without being buffered and answered with `500 5.5.2`.
    pub max_line_length: usize,
    /// Concurrent sessions on the whole server (Postfix `default_process_limit`).
    pub max_connections: usize,
    /// Concurrent sessions from one client IP (Postfix `smtpd_client_connection_count_limit`).
    pub max_connections_per_ip: usize,
    /// Negative replies after which the session is closed with `421 4.7.0`
    /// (Postfix `smtpd_hard_error_limit`).
    pub max_errors: u32,
    /// Timeouts, see [`Timeouts`].
    pub timeouts: Timeouts,
}

impl Default for SessionLimits {
    fn default() -> Self {
        Self {
            max_message_size: 10_240_000,
            max_recipients: 100,
            max_line_length: 2048,
            max_connections: 100,
            max_connections_per_ip: 20,
            max_errors: 20,
            timeouts: Timeouts::default(),
        }
    }
}

/// Timeouts of RFC 5321 §4.5.3.2, seen from the server.
///
/// The RFC's MAIL, RCPT and DATA-initiation timeouts are how long a *client* waits for our
/// replies; we answer those commands without delay, so the server-side wait for the next command
/// is [`Timeouts::command`] (§4.5.3.2.7). DATA termination (10 min) is how long the client waits
/// for the final reply, so it bounds the handler's `deliver`: when it elapses we answer
/// `451 4.4.2` rather than let the client give up and retry behind our back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// Waiting for the next command line (server timeout, 5 min).
    pub command: Duration,
    /// Waiting for the next block of message data after `354` (data block, 3 min).
    pub data_block: Duration,
    /// Upper bound for the handler's decision after end-of-data (DATA termination, 10 min).
    pub data_termination: Duration,
    /// TLS handshake after `220 2.0.0 Ready to start TLS`.
    pub tls_handshake: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Self {
            command: Duration::from_secs(5 * 60),
            data_block: Duration::from_secs(3 * 60),
            data_termination: Duration::from_secs(10 * 60),
            tls_handshake: Duration::from_secs(60),
        }
    }
}
