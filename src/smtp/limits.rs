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
    /// Concurrent sessions from one client (Postfix `smtpd_client_connection_count_limit`):
    /// an IPv4 address, or an IPv6 /64 (one subscriber's network, handed out whole).
    pub max_connections_per_ip: usize,
    /// Negative replies after which the session is closed with `421 4.7.0`
    /// (Postfix `smtpd_hard_error_limit`).
    pub max_errors: u32,
    /// Commands that move no transaction forward (NOOP, RSET, VRFY, HELP, and HELO/EHLO
    /// repeated) allowed between two accepted messages; the next one is answered
    /// `421 4.7.0` and the session closed (Postfix `smtpd_junk_command_limit`).
    pub max_junk_commands: u32,
    /// Largest header section of a message (everything before the first empty line), in bytes
    /// after dot-unstuffing (Postfix `header_size_limit`); larger: read to the end, `552 5.3.4`.
    pub max_header_size: usize,
    /// Most header fields in one message (continuation lines belong to their field); more:
    /// read to the end, `552 5.3.4`.
    pub max_header_count: usize,
    /// Least average DATA rate, in bytes per second, that keeps extending the DATA deadline
    /// (Postfix `smtpd_min_data_rate`); see [`Timeouts::data_block`].
    pub min_data_rate: u64,
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
            max_junk_commands: 100,
            max_header_size: 102_400,
            max_header_count: 1000,
            min_data_rate: 500,
            timeouts: Timeouts::default(),
        }
    }
}

/// Timeouts of RFC 5321 §4.5.3.2, seen from the server. They are deadlines, not idle timers:
/// a client that trickles one byte at a time gains nothing by it.
///
/// The RFC's MAIL, RCPT and DATA-initiation timeouts are how long a *client* waits for our
/// replies; we answer those commands without delay, so the server-side wait for the next command
/// is [`Timeouts::command`] (§4.5.3.2.7). DATA termination (10 min) is how long the client waits
/// for the final reply, so it bounds the handler's `deliver`: when it elapses we answer
/// `451 4.4.2` rather than let the client give up and retry behind our back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// Deadline for a whole command line, from the moment we wait for it to its LF (server
    /// timeout, 5 min); `421 4.4.2` when it passes. Also bounds every write of our replies:
    /// a client that does not read them is closed (without a reply it would not read).
    pub command: Duration,
    /// Deadline for the DATA phase (data block, 3 min): it starts at `354` + `data_block`;
    /// each chunk of N bytes received pushes it back by N / [`SessionLimits::min_data_rate`]
    /// seconds, never beyond now + `data_block`, and only for the first `max_message_size`
    /// bytes. So no pause is longer than `data_block`, a client that stays under the minimum
    /// rate runs out of time, and a whole DATA never takes longer than
    /// `data_block + max_message_size / min_data_rate`. `421 4.4.2` when it passes.
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
