//! The web console for support staff (SPEC §13), served by `supportgate serve` on `[console]
//! listen`: the quarantine, one message, the pending approvals, the spool, the audit log. HTML
//! rendered on the server (minijinja, auto-escaped), one embedded stylesheet, no JavaScript,
//! nothing loaded from elsewhere.
//!
//! | file | what |
//! |---|---|
//! | `server.rs` | the routes and the listener |
//! | `visitor.rs` | session, SSO header, language and security headers on every request; the CSRF check on every POST |
//! | `session.rs`, `rate_limit.rs`, `users.rs` | sessions and cookies; failed sign-ins per user and IP; the argon2id users file |
//! | `sign_in.rs` | the sign-in form, sign-out |
//! | `quarantine_page.rs`, `message_page.rs`, `actions.rs` | the list with its filters and chart; one message; release and delete with confirmation |
//! | `approvals_page.rs`, `approval_actions.rs` | the held requests (SPEC §11); approve or decline on the owner's behalf with confirmation, through `act::approval::settle` as the CLI |
//! | `spool_page.rs` | the spool (through the spool's public listing only) |
//! | `audit.rs`, `audit_page.rs` | the append-only audit log and its page |
//! | `render.rs`, `i18n.rs` | templates; English and French |

mod actions;
mod approval_actions;
mod approvals_page;
pub mod audit;
mod audit_page;
pub mod i18n;
mod message_page;
mod quarantine_page;
pub mod rate_limit;
mod render;
pub mod server;
pub mod session;
mod sign_in;
mod spool_page;
pub mod users;
mod visitor;

use crate::act::Actor;
use crate::config::{Config, ConsoleSettings, ConsoleSignIn};
use crate::gateway::Gateway;
use crate::store::quarantine::{Quarantine, QuarantineError, QuarantineRecord};
use audit::{AuditEntry, AuditLog};
use std::net::IpAddr;
use std::sync::Arc;

/// What every page works with; built once at start.
pub struct ConsoleState {
    pub settings: ConsoleSettings,
    /// The configuration read at start (release stamps with its hostname, spools into its
    /// spool), as the quarantine folder and the spool are.
    pub config: Config,
    pub actor: Arc<Actor>,
    /// The engine in force (a SIGHUP or a directory change swaps it): a decision on a held
    /// request is written with its templates and directory, as an owner's reply would be.
    gateway: Arc<Gateway>,
    pub quarantine: Quarantine,
    pub sessions: session::Sessions,
    pub failed: rate_limit::FailedSignIns,
    pub audit_log: AuditLog,
    pages: render::Pages,
}

impl ConsoleState {
    pub fn new(config: &Config, gateway: Arc<Gateway>) -> Result<Option<ConsoleState>, String> {
        let Some(settings) = config.console.clone() else {
            return Ok(None);
        };
        Ok(Some(ConsoleState {
            sessions: session::Sessions::new(settings.session_lifetime),
            failed: rate_limit::FailedSignIns::new(
                settings.max_failed_sign_ins,
                settings.failed_sign_in_window,
            ),
            audit_log: AuditLog::new(&settings.audit_log),
            quarantine: Quarantine::new(&config.quarantine_path),
            pages: render::Pages::new()?,
            config: config.clone(),
            actor: Arc::clone(gateway.actor()),
            gateway,
            settings,
        }))
    }

    /// Sign-out is offered unless the SSO proxy signs people in.
    fn shows_sign_out(&self) -> bool {
        matches!(self.settings.sign_in, ConsoleSignIn::Users(_))
    }

    /// One audit entry (blocking: appended and fsync'd). A failure to write it is logged.
    fn audit(&self, user: &str, client: IpAddr, action: &str, target: Option<&str>, outcome: &str) {
        let at = crate::act::unix_now();
        let entry = AuditEntry {
            at,
            time: render::when(at),
            user: user.to_string(),
            action: action.to_string(),
            target: target.map(str::to_string),
            outcome: outcome.to_string(),
            client: client.to_string(),
        };
        if let Err(e) = self.audit_log.append(&entry) {
            tracing::error!(target: "supportgate::console", error = %e, path = %self.audit_log.path().display(), "console: audit entry not written");
        }
    }

    async fn audit_async(
        self: &Arc<Self>,
        user: String,
        client: IpAddr,
        action: &'static str,
        target: Option<String>,
        outcome: &'static str,
    ) {
        let state = Arc::clone(self);
        let _ = tokio::task::spawn_blocking(move || {
            state.audit(&user, client, action, target.as_deref(), outcome)
        })
        .await;
    }

    /// Runs a blocking read off the runtime; `None` (logged as `what` not readable) when it
    /// failed, for the page that says so.
    async fn read<T: Send + 'static, E: std::fmt::Display + Send + 'static>(
        &self,
        what: &str,
        read: impl FnOnce() -> Result<T, E> + Send + 'static,
    ) -> Option<T> {
        match tokio::task::spawn_blocking(read).await {
            Ok(Ok(value)) => Some(value),
            Ok(Err(e)) => {
                tracing::error!(target: "supportgate::console", error = %e, "console: {what} not readable");
                None
            }
            Err(e) => {
                tracing::error!(target: "supportgate::console", error = %e, "console: {what} task failed");
                None
            }
        }
    }

    /// Every kept message still within `[quarantine] retention`, oldest first, and how many
    /// records could not be read.
    async fn kept_messages(&self) -> Result<(Vec<QuarantineRecord>, usize), QuarantineError> {
        let quarantine = self.quarantine.clone();
        let oldest =
            crate::act::unix_now().saturating_sub(self.config.quarantine_retention.as_secs());
        let listed = tokio::task::spawn_blocking(move || quarantine.list())
            .await
            .map_err(|e| QuarantineError::Damaged {
                path: self.quarantine.root().display().to_string(),
                message: e.to_string(),
            })??;
        let mut damaged = 0;
        let mut records = Vec::with_capacity(listed.len());
        for record in listed {
            match record {
                Ok(r) if r.received_at >= oldest => records.push(r),
                Ok(_) | Err(QuarantineError::NotFound(_)) => {}
                Err(_) => damaged += 1,
            }
        }
        Ok((records, damaged))
    }
}
