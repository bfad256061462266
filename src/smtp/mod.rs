//! The SMTP front (SPEC §6): speaks RFC 5321 and hands complete messages to a
//! [`MessageHandler`]; it decides nothing about mail itself.
//!
//! * [`server`] — listeners, admission (connection limits), graceful shutdown; [`run`].
//! * `config` — [`ServerConfig`], what the layer is told, and the lifecycle sessions watch.
//! * `session` / `transaction` / `data_phase` — the per-connection state machine (commands
//!   parsed by smtp-proto; MAIL and RCPT; the DATA phase).
//! * [`data`] — the pure DATA reader (end-of-data, dot-unstuffing, smuggling defence);
//!   `header_section` measures the header it reads (size and field limits).
//! * `deadline` — the DATA deadline and its minimum data rate, as a pure calculation.
//! * [`address`] — relay hacks refused at RCPT before the handler is asked.
//! * [`reply`] — the one place that maps outcomes to reply codes.
//! * `events` — [`SessionEvents`], the observer hook that metrics listen on.
//! * [`limits`] — [`SessionLimits`] and their Postfix-like defaults.
//! * `xforward` — Postfix's XFORWARD, believed from `xforward_from` peers only.
//! * [`tls`] — STARTTLS configuration, replaceable while sessions run ([`ReloadableTls`]).

pub mod address;
mod config;
mod connection;
pub mod data;
mod data_phase;
mod deadline;
mod events;
mod handler;
mod header_section;
pub mod limits;
pub mod listener;
pub mod reply;
pub mod server;
mod session;
pub mod tls;
mod transaction;
mod xforward;

pub use config::ServerConfig;
pub use data::{BareLineEndings, DataOutcome, DataProblem, DataReader};
pub use events::{LimitKind, NoEvents, SessionEvents};
pub use handler::{Envelope, MessageHandler, RcptCheck, SessionInfo};
pub use limits::{SessionLimits, Timeouts};
pub use reply::SmtpReply;
pub use server::run;
pub use tls::{load_tls_config, ReloadableTls, TlsError};
