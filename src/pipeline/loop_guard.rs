//! The IO half of SPEC §10 `mail-loop`: before deciding, the message is recorded in the
//! sender history and what the store knew is handed to the pure policy core as a
//! [`SenderHistory`]; after deciding, a `mail-loop` decision starts a block (one log line);
//! after acting, a message the client must retry is taken back out of the counts (its retry
//! is the same message, not a loop). [`end_blocks`] ends blocks that are over (one log line
//! each) and keeps the gauge of blocked senders.

use super::Engine;
use crate::act::{Acted, Decided, Outcome, Received};
use crate::metrics::Metrics;
use crate::policy::suspension::{sender_history_key, tracked_sender};
use crate::policy::{Reason, SenderHistory};
use crate::store::sender_history::{Arrival, Recorded, SenderHistoryStore};

/// A message recorded in the sender history.
pub struct Tracked {
    pub arrival: Arrival,
    pub recorded: Recorded,
}

/// Records the message of an authenticated sender; `None` when it does not count (no usable
/// or authenticated From, no store) or the store cannot be read (logged: the message is
/// decided as if the sender were new, never held back for a fault of ours; counted in
/// `supportgate_state_errors_total`).
pub async fn record(
    engine: &Engine,
    store: Option<&dyn SenderHistoryStore>,
    metrics: &Metrics,
    received: &Received,
) -> Option<Tracked> {
    let store = store?;
    let sender = tracked_sender(
        &received.facts,
        &received.auth,
        &engine.directory,
        engine.config.policy.require_dmarc,
    )?;
    let arrival = Arrival {
        sender: sender_history_key(&sender, engine.config.address_rules.subaddress_separator),
        message_id: received.facts.message_id.clone(),
        at: received.received_at,
    };
    let window = engine.config.sender_limits.window.as_secs();
    match store.record(&arrival, window).await {
        Ok(recorded) => Some(Tracked { arrival, recorded }),
        Err(e) => {
            metrics.state_error(STORE);
            tracing::error!(error = %e, "sender history unreadable; mail-loop not checked for this message");
            None
        }
    }
}

/// What the policy is told about the sender.
pub fn history(tracked: Option<&Tracked>) -> SenderHistory {
    tracked.map(|t| t.recorded.history).unwrap_or_default()
}

/// A `mail-loop` decision for a sender not blocked yet starts its block.
pub async fn after_decide(
    engine: &Engine,
    store: Option<&dyn SenderHistoryStore>,
    metrics: &Metrics,
    tracked: Option<&Tracked>,
    decided: &[Decided],
) {
    let (Some(store), Some(tracked)) = (store, tracked) else {
        return;
    };
    let at = tracked.arrival.at;
    let already = tracked
        .recorded
        .history
        .blocked_until
        .is_some_and(|u| u > at);
    if already
        || !decided
            .iter()
            .any(|d| d.decision.reason == Reason::MailLoop)
    {
        return;
    }
    let limits = &engine.config.sender_limits;
    let until = at.saturating_add(limits.block.as_secs());
    let history = &tracked.recorded.history;
    match store.block(&tracked.arrival.sender, until).await {
        Ok(true) => tracing::warn!(
            target: "supportgate::mail_loop",
            sender = %tracked.arrival.sender,
            recent_messages = history.recent_messages + 1,
            repeated_message_id = history.repeated_message_id,
            until,
            block_seconds = limits.block.as_secs(),
            "mail loop: sender blocked"
        ),
        Ok(false) => {}
        Err(e) => {
            metrics.state_error(STORE);
            tracing::error!(error = %e, sender = %tracked.arrival.sender, "mail loop: the block could not be stored")
        }
    }
    update_gauge(store, metrics).await;
}

/// A message the client keeps and retries does not count.
pub async fn after_act(
    store: Option<&dyn SenderHistoryStore>,
    metrics: &Metrics,
    tracked: Option<&Tracked>,
    acted: &[(Decided, Acted)],
) {
    let (Some(store), Some(tracked)) = (store, tracked) else {
        return;
    };
    if acted
        .iter()
        .any(|(_, a)| matches!(a.outcome, Outcome::Deferred(_)))
    {
        if let Err(e) = store.forget(&tracked.arrival, &tracked.recorded).await {
            metrics.state_error(STORE);
            tracing::error!(error = %e, "sender history: a deferred message could not be taken back");
        }
    }
}

/// Makes the counts durable, ends the blocks that are over at `now` (one log line each) and
/// forgets what is older than the window; keeps the gauge.
pub async fn end_blocks(
    store: &dyn SenderHistoryStore,
    metrics: &Metrics,
    now: u64,
    window_secs: u64,
    prune: bool,
) {
    if let Err(e) = store.flush().await {
        metrics.state_error(STORE);
        tracing::error!(error = %e, "sender history: counts not made durable");
    }
    match store.end_blocks(now).await {
        Ok(ended) => {
            for sender in &ended {
                tracing::info!(target: "supportgate::mail_loop", sender = %sender, "mail loop: block ended; sender accepted again");
            }
        }
        Err(e) => {
            metrics.state_error(STORE);
            tracing::error!(error = %e, "sender history: blocks not ended")
        }
    }
    if prune {
        if let Err(e) = store.prune(now.saturating_sub(window_secs)).await {
            metrics.state_error(STORE);
            tracing::error!(error = %e, "sender history: not pruned");
        }
    }
    update_gauge(store, metrics).await;
}

async fn update_gauge(store: &dyn SenderHistoryStore, metrics: &Metrics) {
    match store.blocked().await {
        Ok(blocked) => metrics.blocked_senders(blocked),
        Err(e) => {
            metrics.state_error(STORE);
            tracing::error!(error = %e, "sender history: blocked senders not counted")
        }
    }
}

/// The store label of `supportgate_state_errors_total`.
const STORE: &str = "sender_history";

/// How often blocks that are over are ended (the end's log line is at most this late).
const SWEEP_EVERY: std::time::Duration = std::time::Duration::from_secs(1);
/// Arrivals older than the window are forgotten every this many sweeps.
const PRUNE_EVERY_SWEEPS: u32 = 60;

/// `serve`'s background task: ends blocks that are over, prunes old counts, keeps the gauge.
pub async fn sweep(
    store: std::sync::Arc<dyn SenderHistoryStore>,
    metrics: std::sync::Arc<Metrics>,
    window_secs: u64,
) {
    let mut tick = tokio::time::interval(SWEEP_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    for round in 0u32.. {
        tick.tick().await;
        let prune = round.is_multiple_of(PRUNE_EVERY_SWEEPS);
        end_blocks(
            store.as_ref(),
            &metrics,
            crate::act::unix_now(),
            window_secs,
            prune,
        )
        .await;
    }
}
