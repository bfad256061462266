//! What the protocol layer is told ([`ServerConfig`]) and the server's lifecycle ([`Phase`]),
//! shared by the listeners (`server`) and the sessions (`session`).

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use super::data::BareLineEndings;
use super::events::{NoEvents, SessionEvents};
use super::limits::{SessionLimits, DEFAULT_SHUTDOWN_GRACE};
use super::reply::{Outcome, SmtpReply};
use super::tls::ReloadableTls;

/// Everything the protocol layer needs to know.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Our name, in the greeting and EHLO reply.
    pub hostname: String,
    pub limits: SessionLimits,
    /// STARTTLS is offered only when set; the certificate inside may be replaced while the
    /// server runs (each STARTTLS reads the current one).
    pub tls: Option<Arc<ReloadableTls>>,
    pub bare_line_endings: BareLineEndings,
    /// How long sessions may continue after shutdown was requested (default 30 s,
    /// [`DEFAULT_SHUTDOWN_GRACE`]).
    pub shutdown_grace: Duration,
    /// Told about sessions, limits and replies (metrics); [`NoEvents`] by default.
    pub events: Arc<dyn SessionEvents>,
    /// The peers (a before-queue proxy) whose XFORWARD we offer and believe; empty by
    /// default: nobody's.
    pub xforward_from: Vec<IpAddr>,
}

impl ServerConfig {
    /// Defaults for everything but the hostname.
    pub fn new(hostname: impl Into<String>) -> Self {
        Self {
            hostname: hostname.into(),
            limits: SessionLimits::default(),
            tls: None,
            bare_line_endings: BareLineEndings::default(),
            shutdown_grace: DEFAULT_SHUTDOWN_GRACE,
            events: Arc::new(NoEvents),
            xforward_from: Vec::new(),
        }
    }

    pub(crate) fn reply(&self, outcome: Outcome) -> SmtpReply {
        outcome.reply(&self.hostname)
    }
}

/// Server lifecycle, broadcast to sessions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Phase {
    Running,
    /// Grace period over: sessions must say `421 4.3.2` and close.
    Closing,
}
