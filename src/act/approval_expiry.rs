//! The expiry timer's sweep of the held requests (SPEC §11), run by `serve` at start and then
//! every minute on each gateway: requests past their expiry are settled as expired (the claim
//! makes one gateway of a fleet do it), and decisions interrupted between their claim and
//! their follow-up are completed by one taker, once they are old enough.

use super::approval::{follow_up, settle, ApprovalError, Settlement};
use crate::pipeline::engine::Engine;
use crate::store::approvals::ApprovalStore;

/// How long after a decision its follow-up may still be on its way (claim, the bytes read,
/// the ticket or the quarantine written): an unsettled decision older than this was
/// interrupted (a crash) and an expiry timer stores its follow-up.
pub const TAKE_OVER_AFTER: std::time::Duration = std::time::Duration::from_secs(300);

/// The requests whose expiry has passed, and those claimed but never settled for
/// [`TAKE_OVER_AFTER`] (a crash came between the claim and the follow-up): settled now.
/// Returns how many were expired.
pub fn expire_due(engine: &Engine, store: &dyn ApprovalStore, now: u64) -> usize {
    let all = match store.list() {
        Ok(all) => all,
        Err(e) => {
            tracing::error!(error = %e, "approval store unreadable; expiry not checked");
            return 0;
        }
    };
    let mut expired = 0;
    for pending in all {
        if pending.state.is_pending() && pending.expires_at <= now {
            match settle(engine, store, &pending.id, &Settlement::Expire, now) {
                Ok(_) => expired += 1,
                Err(ApprovalError::NotPending { .. }) => {}
                Err(e) => {
                    tracing::error!(queue_id = %pending.id, error = %e, "approval not expired; tried again later")
                }
            }
        } else if !pending.state.is_pending() && !pending.settled {
            // Its decider (maybe another gateway of the fleet, or the CLI) may still be at
            // work: only a decision older than TAKE_OVER_AFTER, and by one timer at a time.
            let stale_before = now.saturating_sub(TAKE_OVER_AFTER.as_secs());
            let taken = match store.take_over(&pending.id, stale_before, now) {
                Ok(Some(taken)) => taken,
                Ok(None) => continue,
                Err(e) => {
                    tracing::error!(queue_id = %pending.id, error = %e, "approval: interrupted decision not taken over");
                    continue;
                }
            };
            match follow_up(engine, store, &taken, now).and_then(|()| Ok(store.finish(&taken.id)?))
            {
                Ok(()) => {
                    tracing::warn!(queue_id = %pending.id, state = pending.state.as_str(), "approval: follow-up of an interrupted decision stored")
                }
                Err(e) => {
                    tracing::error!(queue_id = %pending.id, error = %e, "approval: follow-up of an interrupted decision not stored")
                }
            }
        }
    }
    expired
}
