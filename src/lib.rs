//! supportgate: an inbound SMTP gateway that lets through only mail from registered agents of
//! the customer account concerned (SPEC §1).
//!
//! The pipeline, and the module for each stage:
//!
//! | stage | module |
//! |---|---|
//! | receive (RFC 5321, limits, smuggling, STARTTLS) | [`smtp`] |
//! | receive as a milter of Postfix (protocol 6) | [`milter`] |
//! | parse | [`pipeline::parse_message`], [`policy::facts`] |
//! | authenticate | [`authentication`] (SPF/DKIM/DMARC over DNS) → [`policy::authentication`] (pure) |
//! | identify account | [`policy::identify`] over the [`directory`] |
//! | decide (P1–P8, pure) | [`policy`] |
//! | act (forward, reply, reject, quarantine; the spool delivery; release) | [`act`] over [`delivery`] targets, [`reply`], [`store`] |
//!
//! [`gateway`] holds the two fronts, SMTP and milter: each hands a transaction to
//! [`pipeline::receive`] and maps the typed [`act::Outcome`] to its protocol's reply. [`pipeline`] composes the stages; [`config`] owns every default and validation; [`cli`] is
//! the command line. [`address`] is the one way addresses are compared; [`printable`] the one
//! way message-derived text is shown to a human; [`locking`] the one way a mutex is taken. [`metrics`] and
//! [`systemd`] are for operations: Prometheus counters, readiness and socket activation;
//! [`console`] is the web console for support staff (the quarantine, the spool, the audit log).
#![forbid(unsafe_code)]

pub mod act;
pub mod address;
pub mod authentication;
pub mod cli;
pub mod config;
pub mod console;
pub mod delivery;
pub mod directory;
pub mod gateway;
pub mod locking;
pub mod metrics;
pub mod milter;
pub mod pipeline;
pub mod policy;
pub mod postgres_tls;
pub mod printable;
pub mod reply;
pub mod smtp;
pub mod store;
pub mod systemd;
