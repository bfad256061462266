//! Messages to an approve or decline address (SPEC §11): the IO half of the approval rule.
//! The recipients that carry an approval token are taken out of the transaction before the
//! policy decides the rest; for each token the store is read, the pure rule
//! ([`crate::policy::approval::decide_approval`]) decides, and the act stage settles.

use super::Engine;
use crate::act::{Acted, Actor, Received};
use crate::address::{AddressRules, NormalizedAddress};
use crate::directory::Role;
use crate::policy::approval::{
    approval_address, decide_approval, ApprovalAddress, ApprovalInput, ApprovalVerdict, TokenState,
};
use crate::store::approvals::Pending;
use std::sync::Arc;

/// One message to an approval address, as handled: logged by the front with its queue id, and
/// the held request's id (the original decision's queue id) beside it.
pub struct ApprovalHandled {
    pub queue_id: String,
    pub recipients: Vec<String>,
    pub address: ApprovalAddress,
    pub verdict: ApprovalVerdict,
    /// The held request the token names, if any.
    pub request: Option<String>,
    pub acted: Acted,
}

/// Splits the recipients: those that are approval addresses, grouped by address, and the rest.
pub fn split_recipients(
    engine: &Engine,
    recipients: Vec<String>,
) -> (Vec<(ApprovalAddress, Vec<String>)>, Vec<String>) {
    let rules = AddressRules {
        strip_subaddress: false,
        ..engine.config.address_rules.clone()
    };
    let mut approvals: Vec<(ApprovalAddress, Vec<String>)> = Vec::new();
    let mut others = Vec::new();
    for recipient in recipients {
        let address = NormalizedAddress::parse(&recipient, &rules)
            .ok()
            .and_then(|a| approval_address(&a, rules.subaddress_separator));
        match address {
            Some(address) => match approvals.iter_mut().find(|(a, _)| *a == address) {
                Some((_, group)) => group.push(recipient),
                None => approvals.push((address, vec![recipient])),
            },
            None => others.push(recipient),
        }
    }
    (approvals, others)
}

/// Reads the token, decides, acts.
pub async fn handle(
    engine: &Engine,
    actor: &Actor,
    received: &Received,
    address: ApprovalAddress,
    recipients: Vec<String>,
) -> ApprovalHandled {
    let queue_id = crate::store::new_queue_id();
    let found = match actor.approvals() {
        Some(store) => {
            let (store, token) = (Arc::clone(store), address.token.clone());
            match tokio::task::spawn_blocking(move || store.by_token(&token)).await {
                Ok(Ok(found)) => found,
                Ok(Err(e)) => return unavailable(queue_id, recipients, address, e.to_string()),
                Err(e) => return unavailable(queue_id, recipients, address, e.to_string()),
            }
        }
        None => None,
    };
    let token = token_state(found.as_ref(), received.received_at);
    let verdict = decide_approval(&ApprovalInput {
        kind: address.kind,
        facts: &received.facts,
        auth: &received.auth,
        directory: &engine.directory,
        settings: &engine.config.policy,
        token: &token,
    });
    let acted = actor
        .act_on_approval(
            engine,
            received,
            &queue_id,
            &recipients,
            &verdict,
            found.as_ref(),
        )
        .await;
    ApprovalHandled {
        queue_id,
        recipients,
        address,
        verdict,
        request: found.map(|p| p.id),
        acted,
    }
}

/// What the rule is told about the token. A request past its expiry is closed even before the
/// timer has moved it.
fn token_state(found: Option<&Pending>, now: u64) -> TokenState {
    match found {
        None => TokenState::Unknown,
        Some(pending) => TokenState::Known {
            account: pending.account.clone(),
            requires: if pending.requires == "owner" {
                Role::Owner
            } else {
                Role::Admin
            },
            open: pending.state.is_pending() && now < pending.expires_at,
        },
    }
}

/// The store could not be read: the client retries.
fn unavailable(
    queue_id: String,
    recipients: Vec<String>,
    address: ApprovalAddress,
    error: String,
) -> ApprovalHandled {
    tracing::error!(queue_id = %queue_id, error = %error, "approval store unreadable; client told to retry");
    ApprovalHandled {
        acted: Acted {
            queue_id: queue_id.clone(),
            recipients: recipients.clone(),
            outcome: crate::act::Outcome::Deferred(crate::act::Defer::Storage),
            auto_reply: crate::act::AutoReply::None,
        },
        queue_id,
        recipients,
        address,
        verdict: ApprovalVerdict::Ignored("store-unavailable"),
        request: None,
    }
}
