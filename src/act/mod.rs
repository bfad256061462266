//! The act stage: what happens to a message once it is decided (SPEC §4) — forward, reply
//! (and keep), reject or quarantine — and everything the gateway promises to deliver later,
//! through the durable spool: tickets, auto-replies, notifications and releases.
//!
//! [`Actor::act`] takes one decision and returns a typed [`Acted`]; the fronts (the SMTP
//! server, the milter) map it to their protocol. Nothing here speaks SMTP to the client.

mod budget;
mod forward;
mod keep;
pub mod log;
pub mod message;
pub mod outcome;
pub mod release;
mod reply;
pub mod retention;
pub mod spool_runner;

pub use message::{Client, Decided, Forwarding, Received};
pub use outcome::{Acted, AutoReply, Defer, Outcome};

use crate::config::{Config, SpoolSettings};
use crate::delivery::Target;
use crate::metrics::Metrics;
use crate::pipeline::engine::Engine;
use crate::policy::{Action, Reason, ReplyPlan};
use crate::store::quarantine::Quarantine;
use crate::store::reply_memory::ReplyMemory;
use crate::store::spool::Spool;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// The spool as the act stage and its delivery share it.
pub struct SpoolHandle {
    pub spool: Spool,
    pub settings: SpoolSettings,
    /// Wakes the spool delivery when something is spooled or `queue flush` asks.
    wakeup: tokio::sync::Notify,
    /// Set by `queue flush` (SIGUSR1): the next scan ignores the retry times.
    flush: AtomicBool,
}

/// Everything the act stage acts with. Built once at start (targets, folders and the spool
/// stay as they were when a SIGHUP reloads the engine).
pub struct Actor {
    queue: Arc<dyn Target>,
    replies: Arc<dyn Target>,
    quarantine: Quarantine,
    spool: SpoolHandle,
    reply_memory: Arc<dyn ReplyMemory>,
    metrics: Arc<Metrics>,
    budget: budget::ReplyBudget,
}

impl Actor {
    /// An actor with the configured targets.
    pub fn new(
        config: &Config,
        reply_memory: Arc<dyn ReplyMemory>,
        metrics: Arc<Metrics>,
    ) -> Result<Actor, String> {
        let queue = crate::delivery::build::queue_target(config);
        let replies = crate::delivery::build::reply_target(config)?;
        Ok(Actor::with_targets(
            config,
            queue,
            replies,
            reply_memory,
            metrics,
        ))
    }

    /// An actor with the given targets (tests use [`crate::delivery::recording`]).
    pub fn with_targets(
        config: &Config,
        queue: Arc<dyn Target>,
        replies: Arc<dyn Target>,
        reply_memory: Arc<dyn ReplyMemory>,
        metrics: Arc<Metrics>,
    ) -> Actor {
        Actor {
            queue,
            replies,
            quarantine: Quarantine::new(&config.quarantine_path),
            spool: SpoolHandle {
                spool: Spool::new(&config.spool.path),
                settings: config.spool.clone(),
                wakeup: tokio::sync::Notify::new(),
                flush: AtomicBool::new(false),
            },
            reply_memory,
            metrics,
            budget: budget::ReplyBudget::default(),
        }
    }

    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    pub fn reply_memory(&self) -> &dyn ReplyMemory {
        self.reply_memory.as_ref()
    }

    /// Asks the spool delivery to scan the spool now.
    pub fn wake_spool_delivery(&self) {
        self.spool.wakeup.notify_one();
    }

    /// `queue flush`: everything in the spool is attempted now, whatever its retry time.
    pub fn flush_spool(&self) {
        self.spool.flush.store(true, Ordering::SeqCst);
        self.spool.wakeup.notify_one();
    }

    /// Acts on one decision. The message is safe (fsync'd somewhere) whenever the outcome
    /// says so ([`Outcome::is_safe`]).
    pub async fn act(&self, engine: &Engine, received: &Received, decided: &Decided) -> Acted {
        let decision = &decided.decision;
        if decision.reason == Reason::UnauthenticatedSender && received.auth.is_temporary_failure()
        {
            // DNS could not say: never a silent accept, never a final refusal.
            tracing::warn!(queue_id = %decided.queue_id, auth = %received.auth.summary(), "sender authentication: DNS temporary failure");
            if engine.config.authentication.quarantine_on_temperror {
                let note = "authentication temperror (DNS); quarantined by configuration";
                return self
                    .keep_received(received, decided, note, AutoReply::None)
                    .await;
            }
            return self.acted(decided, Outcome::Deferred(Defer::Authentication));
        }
        match decided.action {
            Action::Forward => {
                let acted = self.forward(engine, received, decided).await;
                if decided.mixed && acted.outcome == Outcome::RefusedUpstream {
                    // Other recipients of this transaction get a 250: this part must not be
                    // lost behind it, so it is kept for support staff to release.
                    let note =
                        "the ticket queue refused it; kept because other recipients were accepted";
                    return self
                        .keep_received(received, decided, note, AutoReply::None)
                        .await;
                }
                acted
            }
            Action::Reject => self.acted(decided, Outcome::Rejected(decision.reason)),
            Action::Quarantine => {
                let note = match &decision.reply {
                    ReplyPlan::Suppressed(why) => format!("quarantined; reply suppressed: {why}"),
                    _ if decision.action == Action::Reject => {
                        "rejected, but kept because other recipients were accepted".to_string()
                    }
                    _ => "quarantined by configuration".to_string(),
                };
                self.keep_received(received, decided, &note, AutoReply::None)
                    .await
            }
            Action::Reply => self.reply_and_keep(engine, received, decided).await,
        }
    }

    fn acted(&self, decided: &Decided, outcome: Outcome) -> Acted {
        Acted {
            queue_id: decided.queue_id.clone(),
            recipients: decided.recipients.clone(),
            outcome,
            auto_reply: AutoReply::None,
        }
    }
}

/// Now, in Unix seconds.
pub fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

#[cfg(test)]
mod tests;
