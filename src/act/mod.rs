//! The act stage: what happens to a message once it is decided (SPEC §4) — forward, reply
//! (and keep), reject or quarantine — and everything the gateway promises to deliver later,
//! through the durable spool: tickets, auto-replies, notifications and releases.
//!
//! [`Actor::act`] takes one decision and returns a typed [`Acted`]; the fronts (the SMTP
//! server, the milter) map it to their protocol. Nothing here speaks SMTP to the client.

pub mod approval;
pub mod approval_expiry;
mod budget;
mod forward;
pub mod hold;
mod keep;
pub mod log;
pub mod message;
pub mod outcome;
pub mod release;
mod reply;
pub mod retention;
pub mod scheduler;
pub mod spool_runner;

pub use message::{Client, Decided, Forwarding, Received};
pub use outcome::{Acted, AutoReply, Defer, Outcome};

use crate::config::{Config, SpoolSettings};
use crate::delivery::Target;
use crate::metrics::Metrics;
use crate::pipeline::engine::Engine;
use crate::policy::{Action, Reason, ReplyPlan};
use crate::store::approvals::ApprovalStore;
use crate::store::quarantine::Quarantine;
use crate::store::reply_memory::ReplyMemory;
use crate::store::sender_history::SenderHistoryStore;
use crate::store::spool::LiveSpool;
use std::sync::Arc;

/// The spool as the act stage and its delivery share it.
pub struct SpoolHandle {
    pub settings: SpoolSettings,
    /// Opened (read, recovered) at the first use: by the delivery at start, or by a session.
    live: tokio::sync::OnceCell<Arc<LiveSpool>>,
    /// `queue flush` (SIGUSR1): everything is attempted now, whatever its retry time.
    flush: tokio::sync::Notify,
}

/// Everything the act stage acts with. Built once at start (targets, folders and the spool
/// stay as they were when a SIGHUP reloads the engine).
pub struct Actor {
    queue: Arc<dyn Target>,
    replies: Arc<dyn Target>,
    quarantine: Quarantine,
    spool: SpoolHandle,
    reply_memory: Arc<dyn ReplyMemory>,
    /// The `mail-loop` counters; none: not counted (tests of the act stage alone).
    sender_history: Option<Arc<dyn SenderHistoryStore>>,
    /// Pending approvals (SPEC §11); none: `hold` acts as `reply` (tests of the act stage).
    approvals: Option<Arc<dyn ApprovalStore>>,
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
                settings: config.spool.clone(),
                live: tokio::sync::OnceCell::new(),
                flush: tokio::sync::Notify::new(),
            },
            reply_memory,
            sender_history: None,
            approvals: None,
            metrics,
            budget: budget::ReplyBudget::default(),
        }
    }

    /// Counts senders for `mail-loop` in `store`.
    pub fn with_sender_history(mut self, store: Arc<dyn SenderHistoryStore>) -> Actor {
        self.sender_history = Some(store);
        self
    }

    /// Keeps held requests in `store`.
    pub fn with_approvals(mut self, store: Arc<dyn ApprovalStore>) -> Actor {
        self.approvals = Some(store);
        self
    }

    pub fn approvals(&self) -> Option<&Arc<dyn ApprovalStore>> {
        self.approvals.as_ref()
    }

    pub fn sender_history(&self) -> Option<&dyn SenderHistoryStore> {
        self.sender_history.as_deref()
    }

    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    pub fn reply_memory(&self) -> &dyn ReplyMemory {
        self.reply_memory.as_ref()
    }

    /// `queue flush`: segments written by the command line are read, and everything in the
    /// spool is attempted now, whatever its retry time.
    pub fn flush_spool(&self) {
        self.spool.flush.notify_one();
    }

    /// Reads the segments that a release or `queue delete` wrote beside the running server
    /// (the console's releases), so that they go out now rather than at the next look.
    pub async fn adopt_written_segments(&self) {
        if let Ok(live) = self.live_spool().await {
            live.adopt();
        }
    }

    /// The spool, read and recovered at the first call (blocking work off the runtime).
    pub async fn live_spool(&self) -> Result<Arc<LiveSpool>, String> {
        self.spool
            .live
            .get_or_try_init(|| async {
                let root = self.spool.settings.path.clone();
                let opened = tokio::task::spawn_blocking(move || LiveSpool::open(&root))
                    .await
                    .map_err(|e| e.to_string())?
                    .map_err(|e| e.to_string())?;
                let live = Arc::new(opened);
                let (waiting, _) = live.backlog();
                tracing::info!(spool = %live.root().display(), waiting, "spool recovered; delivering what is waiting");
                self.metrics.watch_spool(Arc::clone(&live));
                Ok(live)
            })
            .await
            .cloned()
    }

    /// Everything written so far is on disk (at shutdown: the last markers).
    pub async fn sync_spool(&self) {
        if let Some(live) = self.spool.live.get() {
            live.sync().await;
        }
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
            Action::Hold => self.hold(engine, received, decided).await,
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
