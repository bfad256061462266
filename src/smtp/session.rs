//! One SMTP session: the read loop, command sequencing and the DATA phase.
//!
//! Commands are parsed by smtp-proto from complete lines; this module only decides what each
//! one means in the current state. Lines are cut from a buffer that never holds more than
//! `max_line_length` bytes of an unfinished line.
//!
//! Time is bounded by deadlines, not idle timers: a whole command line must arrive within the
//! command timeout, the whole DATA within the data deadline (`deadline`), and every write of
//! our replies within the command timeout.

use std::io;
use std::sync::Arc;
use std::time::Duration;

use smtp_proto::{Error as ParseError, Request};
use tokio::sync::watch;
use tokio::time::Instant;
use tracing::{debug, info, warn};

use super::address::declares_huge_size;
use super::config::{Phase, ServerConfig};
use super::connection::Connection;
use super::deadline::later;
use super::events::LimitKind;
use super::handler::{Envelope, MessageHandler, SessionInfo};
use super::reply::{Outcome, SmtpReply};
use super::xforward::{self, Forwarded};

/// What the loop does after a command.
enum Next {
    Continue,
    Data,
    StartTls,
    /// Close the session, for the reason given (logged).
    Close(&'static str),
}

/// What the input buffer holds.
enum NextLine {
    Line(Vec<u8>),
    /// An over-long line was dropped (and answered).
    Skipped,
    NeedMore,
}

/// How waiting for input ended, when it did not bring bytes.
pub(crate) enum Interrupted {
    Eof,
    Timeout,
    /// The client did not take our replies in time.
    WriteTimeout,
    ShuttingDown,
}

/// Once the server is closing, how long the last replies (`421 4.3.2`) may take to write;
/// shorter than the server's own wait for sessions to close, so none needs aborting.
const CLOSING_WRITE_TIMEOUT: Duration = Duration::from_secs(2);

pub(crate) struct Session<H> {
    pub(crate) info: SessionInfo,
    pub(crate) config: Arc<ServerConfig>,
    pub(crate) handler: Arc<H>,
    pub(crate) conn: Connection,
    phase: watch::Receiver<Phase>,
    /// `Some` between MAIL and the end of the transaction.
    pub(crate) envelope: Option<Envelope>,
    /// What a trusted proxy said about its client (XFORWARD), for the next transaction.
    pub(crate) forwarded: Forwarded,
    /// A command line longer than the limit is being skipped up to its LF.
    skipping_long_line: bool,
    /// When the command line being received must be complete; `None` between lines.
    command_deadline: Option<Instant>,
    errors: u32,
    /// Commands that moved no transaction forward since the last accepted message.
    junk: u32,
}

impl<H: MessageHandler> Session<H> {
    pub(crate) fn new(
        info: SessionInfo,
        config: Arc<ServerConfig>,
        handler: Arc<H>,
        conn: Connection,
        phase: watch::Receiver<Phase>,
    ) -> Self {
        Self {
            info,
            config,
            handler,
            conn,
            phase,
            envelope: None,
            forwarded: Forwarded::default(),
            skipping_long_line: false,
            command_deadline: None,
            errors: 0,
            junk: 0,
        }
    }

    pub(crate) async fn run(mut self) {
        info!(session = %self.info.session_id, peer = %self.info.peer, local = %self.info.local, "connect");
        self.reply_outcome(Outcome::Greeting);
        let reason = self.command_loop().await;
        self.last_flush().await;
        info!(session = %self.info.session_id, reason, errors = self.errors, "disconnect");
    }

    /// Returns why the session ended, for the log.
    async fn command_loop(&mut self) -> &'static str {
        loop {
            if self.errors >= self.config.limits.max_errors {
                warn!(session = %self.info.session_id, errors = self.errors, "error limit hit");
                self.config.events.limit_hit(LimitKind::Errors);
                self.reply_outcome(Outcome::TooManyErrors);
                return "too many errors";
            }
            let line = match self.next_line() {
                NextLine::Line(line) => {
                    self.command_deadline = None;
                    line
                }
                NextLine::Skipped => {
                    self.command_deadline = None;
                    continue;
                }
                NextLine::NeedMore => {
                    let timeout = self.config.limits.timeouts.command;
                    let deadline = *self
                        .command_deadline
                        .get_or_insert_with(|| later(Instant::now(), timeout));
                    match self.wait_for_input(deadline).await {
                        Ok(_) => continue,
                        Err(interrupted) => return self.interrupted(interrupted),
                    }
                }
            };
            match self.command(&line).await {
                Next::Continue => {}
                Next::Close(reason) => return reason,
                Next::Data => {
                    if let Err(interrupted) = self.data().await {
                        return self.interrupted(interrupted);
                    }
                }
                Next::StartTls => {
                    let Some(tls) = self.config.tls.as_ref().map(|tls| tls.current()) else {
                        return "tls not configured";
                    };
                    let handshake = self.config.limits.timeouts.tls_handshake;
                    match tokio::time::timeout(handshake, self.conn.start_tls(tls)).await {
                        Ok(Ok(discarded)) => {
                            info!(session = %self.info.session_id, discarded, "tls established");
                            self.info.tls = true;
                            self.info.helo = None;
                            self.envelope = None;
                            self.forwarded = Forwarded::default();
                        }
                        Ok(Err(e)) => {
                            warn!(session = %self.info.session_id, error = %e, "tls handshake failed");
                            return "tls handshake failed";
                        }
                        Err(_) => {
                            warn!(session = %self.info.session_id, "tls handshake timeout");
                            return "tls handshake timeout";
                        }
                    }
                }
            }
        }
    }

    fn interrupted(&mut self, interrupted: Interrupted) -> &'static str {
        match interrupted {
            Interrupted::Eof => "client closed connection",
            Interrupted::Timeout => {
                warn!(session = %self.info.session_id, "timeout");
                self.config.events.limit_hit(LimitKind::Timeout);
                self.reply_outcome(Outcome::Timeout);
                "timeout"
            }
            Interrupted::WriteTimeout => {
                warn!(session = %self.info.session_id, "client does not read replies");
                self.config.events.limit_hit(LimitKind::WriteTimeout);
                // It would not read a 421 either.
                self.conn.discard_output();
                "write timeout"
            }
            Interrupted::ShuttingDown => {
                self.reply_outcome(Outcome::ShuttingDown);
                "server shutting down"
            }
        }
    }

    /// Cuts the next complete command line from the input, enforcing the line length limit
    /// before the line ends.
    fn next_line(&mut self) -> NextLine {
        let max = self.config.limits.max_line_length;
        let Some(lf) = self.conn.input.iter().position(|&b| b == b'\n') else {
            if self.conn.input.len() >= max {
                self.conn.input.clear();
                self.skipping_long_line = true;
            }
            return NextLine::NeedMore;
        };
        let line: Vec<u8> = self.conn.input.drain(..=lf).collect();
        if self.skipping_long_line || line.len() > max {
            self.skipping_long_line = false;
            warn!(session = %self.info.session_id, "command line too long");
            self.config.events.limit_hit(LimitKind::LineLength);
            self.reply_outcome(Outcome::LineTooLong);
            return NextLine::Skipped;
        }
        NextLine::Line(line)
    }

    /// Flushes pending replies (within the command timeout, and by `deadline`), then waits for
    /// more input until `deadline`. Returns how many bytes arrived.
    pub(crate) async fn wait_for_input(&mut self, deadline: Instant) -> Result<usize, Interrupted> {
        let command = self.config.limits.timeouts.command;
        let write_deadline = deadline.min(later(Instant::now(), command));
        let mut phase = self.phase.clone();
        tokio::select! {
            flushed = self.conn.flush_by(write_deadline) => match flushed {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::TimedOut => {
                    return Err(Interrupted::WriteTimeout)
                }
                Err(_) => return Err(Interrupted::Eof),
            },
            _ = phase.wait_for(|p| *p == Phase::Closing) => return Err(Interrupted::ShuttingDown),
        }
        tokio::select! {
            read = tokio::time::timeout_at(deadline, self.conn.read_more()) => match read {
                Ok(Ok(0)) | Ok(Err(_)) => Err(Interrupted::Eof),
                Ok(Ok(n)) => Ok(n),
                Err(_) => Err(Interrupted::Timeout),
            },
            _ = phase.wait_for(|p| *p == Phase::Closing) => Err(Interrupted::ShuttingDown),
        }
    }

    /// Writes the last replies and closes, within the command timeout, or within
    /// [`CLOSING_WRITE_TIMEOUT`] once the server is closing.
    async fn last_flush(&mut self) {
        let deadline = later(Instant::now(), self.config.limits.timeouts.command);
        let mut phase = self.phase.clone();
        let closing = async move {
            let _ = phase.wait_for(|p| *p == Phase::Closing).await;
            tokio::time::sleep(CLOSING_WRITE_TIMEOUT).await;
        };
        let conn = &mut self.conn;
        let close = async move {
            let _ = conn.flush_by(deadline).await;
            conn.shutdown_by(deadline).await;
        };
        tokio::select! {
            _ = close => {}
            _ = closing => {}
        }
    }

    /// Queues the reply for `outcome`, counting negative ones against `max_errors`.
    pub(crate) fn reply_outcome(&mut self, outcome: Outcome) {
        let reply = self.config.reply(outcome);
        self.reply(reply);
    }

    pub(crate) fn reply(&mut self, reply: SmtpReply) {
        if !reply.is_positive() {
            self.errors += 1;
        }
        self.config.events.reply_sent(reply.code);
        self.conn.queue(&reply);
    }

    /// Handles one command line.
    async fn command(&mut self, line: &[u8]) -> Next {
        if line.contains(&0) {
            warn!(session = %self.info.session_id, "NUL in command line");
            self.reply_outcome(Outcome::NulInCommand);
            return Next::Continue;
        }
        if xforward::is_xforward(line) {
            self.xforward(line);
            return Next::Continue;
        }
        let parsed = Request::parse(&mut line.iter());
        debug!(session = %self.info.session_id, request = ?parsed, "command");
        let junk = match &parsed {
            Ok(
                Request::Noop { .. } | Request::Rset | Request::Vrfy { .. } | Request::Help { .. },
            ) => true,
            Ok(Request::Ehlo { .. } | Request::Helo { .. }) => self.info.helo.is_some(),
            _ => false,
        };
        if junk && self.too_much_junk() {
            return Next::Close("too many junk commands");
        }
        match parsed {
            Ok(Request::Ehlo { host }) => self.ehlo(host),
            Ok(Request::Helo { host }) => {
                self.info.helo = Some(host);
                self.envelope = None;
                self.reply_outcome(Outcome::Helo);
            }
            Ok(Request::Mail { from }) => self.mail(line, from),
            Err(ParseError::InvalidParameter { param: "SIZE" }) if declares_huge_size(line) => {
                self.mail_too_large()
            }
            Ok(Request::Rcpt { to }) => self.rcpt(line, Some(to)),
            Err(ParseError::InvalidRecipientAddress) => self.rcpt(line, None),
            Ok(Request::Data) => return self.data_command(),
            Ok(Request::Rset) => {
                self.envelope = None;
                self.forwarded = Forwarded::default();
                self.reply_outcome(Outcome::Ok);
            }
            Ok(Request::Noop { .. }) => self.reply_outcome(Outcome::Ok),
            Ok(Request::Vrfy { .. }) => self.reply_outcome(Outcome::CannotVerify),
            Ok(Request::Help { .. }) => self.reply_outcome(Outcome::Help),
            Ok(Request::Quit) => {
                self.reply_outcome(Outcome::Quit);
                return Next::Close("quit");
            }
            Ok(Request::StartTls) => return self.starttls(),
            Ok(
                Request::Bdat { .. }
                | Request::Auth { .. }
                | Request::Etrn { .. }
                | Request::Expn { .. }
                | Request::Atrn { .. }
                | Request::Burl { .. }
                | Request::Lhlo { .. },
            ) => self.reply_outcome(Outcome::NotImplemented),
            Err(ParseError::UnknownCommand) => self.reply_outcome(Outcome::UnknownCommand),
            Err(ParseError::InvalidSenderAddress) => self.reply_outcome(Outcome::BadSenderSyntax),
            Err(ParseError::InvalidParameter { .. } | ParseError::UnsupportedParameter { .. }) => {
                self.reply_outcome(Outcome::UnsupportedParameter)
            }
            Err(_) => self.reply_outcome(Outcome::SyntaxError),
        }
        Next::Continue
    }

    /// The session as the handler sees it: with the original client's address and HELO name
    /// when a trusted proxy passed them on (XFORWARD).
    pub(crate) fn client(&self) -> SessionInfo {
        self.forwarded.apply(self.info.clone())
    }

    /// As Postfix: junk commands are counted between accepted messages.
    pub(crate) fn message_accepted(&mut self) {
        self.junk = 0;
    }

    /// Counts a command that moves no transaction forward; true (and `421` queued) once there
    /// are more than `max_junk_commands` since the last accepted message.
    fn too_much_junk(&mut self) -> bool {
        self.junk = self.junk.saturating_add(1);
        if self.junk <= self.config.limits.max_junk_commands {
            return false;
        }
        warn!(session = %self.info.session_id, junk = self.junk, "junk command limit hit");
        self.config.events.limit_hit(LimitKind::JunkCommands);
        self.reply_outcome(Outcome::TooManyJunkCommands);
        true
    }

    fn starttls(&mut self) -> Next {
        if self.conn.is_tls() {
            self.reply_outcome(Outcome::BadSequence("TLS already active"));
            Next::Continue
        } else if self.envelope.is_some() {
            self.reply_outcome(Outcome::StartTlsInTransaction);
            Next::Continue
        } else if self.config.tls.is_none() {
            self.reply_outcome(Outcome::TlsUnavailable);
            Next::Continue
        } else {
            self.reply_outcome(Outcome::StartTls);
            Next::StartTls
        }
    }

    fn data_command(&mut self) -> Next {
        match &self.envelope {
            None => self.reply_outcome(Outcome::BadSequence("need MAIL command")),
            Some(envelope) if envelope.rcpt_to.is_empty() => {
                self.reply_outcome(Outcome::BadSequence("need RCPT command"))
            }
            Some(_) => {
                self.reply_outcome(Outcome::StartData);
                return Next::Data;
            }
        }
        Next::Continue
    }
}
