//! SPEC §11: the rule for a message to an approve or decline address
//! (`LOCAL+approve-TOKEN@DOMAIN`, `LOCAL+decline-TOKEN@DOMAIN`). Pure: the pipeline looks the
//! token up in the approval store and passes what it found in as [`TokenState`].
//!
//! It approves (or declines) only when the sender passes P7 and P6, the message is not
//! automatic (an out-of-office answer to the approval request must not approve it), and the
//! sender is a registered owner or admin of the request's account whom the category's
//! `requires` allows, and the request is still pending. An allowed approver writing to a
//! closed (or expired) request hears that it is no longer pending; anything else changes
//! nothing and is quarantined without a reply.

use super::rules::sender_address;
use super::suspension::is_automated;
use super::{AuthResult, MessageFacts, PolicySettings};
use crate::address::NormalizedAddress;
use crate::directory::{AddressListing, Directory, Role};

/// Shortest token accepted in an address (128 bits of base32 is 26 characters).
pub const MIN_TOKEN_CHARS: usize = 26;
/// Longest: tokens are 32 characters; anything much longer is not ours.
const MAX_TOKEN_CHARS: usize = 64;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApprovalKind {
    Approve,
    Decline,
}

impl ApprovalKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ApprovalKind::Approve => "approve",
            ApprovalKind::Decline => "decline",
        }
    }
}

/// An approve or decline address, read from a recipient.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApprovalAddress {
    pub kind: ApprovalKind,
    pub token: String,
}

/// `support+approve-TOKEN@vendor.example` → approve, TOKEN. The base (`support@…`) must be a
/// support address or a per-account mailbox; the pipeline checks that as for any recipient.
pub fn approval_address(recipient: &NormalizedAddress, separator: char) -> Option<ApprovalAddress> {
    let local = recipient.local_part();
    let (_, tag) = local.split_once(separator)?;
    let (kind, token) = if let Some(token) = tag.strip_prefix("approve-") {
        (ApprovalKind::Approve, token)
    } else {
        (ApprovalKind::Decline, tag.strip_prefix("decline-")?)
    };
    let token = token.to_ascii_lowercase();
    let well_formed = (MIN_TOKEN_CHARS..=MAX_TOKEN_CHARS).contains(&token.len())
        && token
            .bytes()
            .all(|b| b.is_ascii_lowercase() || (b'2'..=b'7').contains(&b));
    well_formed.then_some(ApprovalAddress { kind, token })
}

/// `LOCAL+approve-TOKEN@DOMAIN` on `support` (a support address without `+tag`).
pub fn build_address(
    support: &NormalizedAddress,
    separator: char,
    kind: ApprovalKind,
    token: &str,
) -> String {
    format!(
        "{}{separator}{}-{token}@{}",
        support.local_part(),
        kind.as_str(),
        support.domain()
    )
}

/// What the approval store knows about the token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenState {
    Unknown,
    /// A request of `account` needing `requires`; `open` unless it was decided already or its
    /// expiry has passed.
    Known {
        account: String,
        requires: Role,
        open: bool,
    },
}

/// Everything the approval rule reads.
pub struct ApprovalInput<'a> {
    pub kind: ApprovalKind,
    pub facts: &'a MessageFacts,
    pub auth: &'a AuthResult,
    pub directory: &'a Directory,
    pub settings: &'a PolicySettings,
    pub token: &'a TokenState,
}

/// The approver, as the directory knows them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Approver {
    /// Their primary address (what `X-Supportgate-Approved-By` says).
    pub primary: String,
    pub role: Role,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApprovalVerdict {
    /// The request is approved, or declined (`kind`), by `approver`.
    Decide {
        kind: ApprovalKind,
        approver: Approver,
    },
    /// An allowed approver wrote about a request that is closed: told so.
    NoLongerPending { approver: Approver },
    /// Nothing changes; the message is quarantined without a reply. Why, as a stable code.
    Ignored(&'static str),
}

impl ApprovalVerdict {
    /// The code in the log line and the metrics.
    pub fn code(&self) -> &'static str {
        match self {
            ApprovalVerdict::Decide {
                kind: ApprovalKind::Approve,
                ..
            } => "approved",
            ApprovalVerdict::Decide {
                kind: ApprovalKind::Decline,
                ..
            } => "declined",
            ApprovalVerdict::NoLongerPending { .. } => "no-longer-pending",
            ApprovalVerdict::Ignored(why) => why,
        }
    }
}

pub fn decide_approval(input: &ApprovalInput<'_>) -> ApprovalVerdict {
    let rules = input.directory.address_rules();
    let Some(sender) = sender_address(input.facts, rules) else {
        return ApprovalVerdict::Ignored("malformed-sender");
    };
    if !input.facts.duplicated_headers.is_empty() {
        return ApprovalVerdict::Ignored("malformed-sender");
    }
    if !input
        .auth
        .authenticates(sender.domain(), input.settings.require_dmarc)
    {
        return ApprovalVerdict::Ignored("unauthenticated-sender");
    }
    if is_automated(input.facts, &input.settings.out_of_office_subjects) {
        return ApprovalVerdict::Ignored("automated");
    }
    let TokenState::Known {
        account,
        requires,
        open,
    } = input.token
    else {
        return ApprovalVerdict::Ignored("unknown-token");
    };
    let Some(account) = input.directory.account_by_id(account) else {
        return ApprovalVerdict::Ignored("unknown-account");
    };
    let mut profiles = input
        .directory
        .listings(&sender)
        .iter()
        .filter_map(|l| match *l {
            AddressListing::Agent {
                account: a, agent, ..
            } if a == account => Some(agent),
            _ => None,
        });
    let (Some(agent), None) = (profiles.next(), profiles.next()) else {
        // On no profile of this account (another account's owner, a stranger), or on two.
        return ApprovalVerdict::Ignored("not-an-approver");
    };
    let agent = input.directory.agent(account, agent);
    let allowed = match requires {
        Role::Owner => agent.role == Role::Owner,
        _ => matches!(agent.role, Role::Owner | Role::Admin),
    };
    let Some(primary) = agent.primary().filter(|_| allowed) else {
        return ApprovalVerdict::Ignored("not-an-approver");
    };
    let approver = Approver {
        primary: primary.to_string(),
        role: agent.role,
    };
    if *open {
        ApprovalVerdict::Decide {
            kind: input.kind,
            approver,
        }
    } else {
        ApprovalVerdict::NoLongerPending { approver }
    }
}

#[cfg(test)]
#[path = "approval_tests.rs"]
mod tests;
