//! P1–P8 (SPEC §3) and the suspension causes of SPEC §10, applied in a fixed order; the first
//! rule broken gives the reason.
//!
//! Order: P7 (a usable sender: one From mailbox, and no header that RFC 5322 allows once given
//! twice) → `blocked-sender` → P6 (authenticated) → `automated` → `no-reply-sender` →
//! `mail-loop` → identify the account → `account-inactive` → P2 (helpdesk) → P3 (group) →
//! P8 (ambiguous) → P1 (registered) → P5 (shared) → `unregistered-reply-to` → P4
//! (authorisation). Cheap, message-only checks come first; identity before authorisation.

use super::categories::find_category;
use super::decision::{Decision, Reason, ReplyPlan, Suppression, Verdict};
use super::facts::{FromHeader, MessageFacts};
use super::identify::{identify_account, IdentificationFacts, Identified};
use super::reply_to::{reply_address, reply_memory_key};
use super::suppression::{reply_suppression, ReplyMemoryView};
use super::suspension::{
    is_automated, is_no_reply_sender, names_unregistered_address, SenderHistory,
};
use super::{Action, AuthResult, PolicySettings};
use crate::address::{AddressRules, NormalizedAddress};
use crate::directory::{AccountId, AccountStatus, AddressListing, Directory, Role};

/// The SMTP envelope of one message (for one account concerned).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Envelope {
    /// The reverse-path; `None` for the null reverse-path `<>`.
    pub mail_from: Option<String>,
    pub recipients: Vec<String>,
}

/// Every fact the policy needs. Nothing here does IO.
pub struct PolicyInput<'a> {
    pub envelope: &'a Envelope,
    pub facts: &'a MessageFacts,
    pub auth: &'a AuthResult,
    pub directory: &'a Directory,
    pub settings: &'a PolicySettings,
    pub reply_memory: &'a dyn ReplyMemoryView,
    /// What the state store knew about the sender (`mail-loop`); the default for none.
    pub sender_history: &'a SenderHistory,
    /// Unix seconds.
    pub now: u64,
}

/// What the rules established before the action is looked up.
struct Outcome {
    reason: Reason,
    account: Option<AccountId>,
    agent: Option<(AccountId, u32)>,
    category: Option<String>,
    notify: Vec<String>,
}

impl Outcome {
    fn refuse(reason: Reason, account: Option<AccountId>) -> Outcome {
        Outcome {
            reason,
            account,
            agent: None,
            category: None,
            notify: Vec::new(),
        }
    }
}

/// The From mailbox, normalised with the directory's rules, when there is exactly one.
pub fn sender_address(facts: &MessageFacts, rules: &AddressRules) -> Option<NormalizedAddress> {
    match &facts.from {
        Some(FromHeader::Mailbox(raw)) => NormalizedAddress::parse(raw, rules).ok(),
        _ => None,
    }
}

pub fn decide(input: &PolicyInput<'_>) -> Decision {
    let sender = sender_address(input.facts, input.directory.address_rules());
    let authenticated = sender.as_ref().is_some_and(|s| {
        input
            .auth
            .authenticates(s.domain(), input.settings.require_dmarc)
    });
    let outcome = match &sender {
        // Two Subjects (or Froms, Dates...): the helpdesk and the policy could read different
        // ones, so neither is trusted.
        _ if !input.facts.duplicated_headers.is_empty() => {
            Outcome::refuse(Reason::MalformedSender, None)
        }
        None => Outcome::refuse(Reason::MalformedSender, None),
        Some(sender) if is_blocked(input, sender) => Outcome::refuse(Reason::BlockedSender, None),
        Some(_) if !authenticated => Outcome::refuse(Reason::UnauthenticatedSender, None),
        Some(sender) => message_checks(input, sender)
            .map_or_else(|| evaluate(input, sender), |r| Outcome::refuse(r, None)),
    };
    finish(input, sender, authenticated, outcome)
}

/// `blocked-sender`: the From address, or the reverse-path, is on `[lists] block`.
fn is_blocked(input: &PolicyInput<'_>, sender: &NormalizedAddress) -> bool {
    let block = &input.settings.block;
    if block.is_empty() {
        return false;
    }
    let rules = input.directory.address_rules();
    let separator = rules.subaddress_separator;
    block.blocks(sender, separator)
        || input
            .envelope
            .mail_from
            .as_deref()
            .and_then(|path| NormalizedAddress::parse(path, rules).ok())
            .is_some_and(|path| block.blocks(&path, separator))
}

/// The checks of SPEC §10 that need the message and the sender but no account: `automated`,
/// `no-reply-sender`, `mail-loop`, in that order.
fn message_checks(input: &PolicyInput<'_>, sender: &NormalizedAddress) -> Option<Reason> {
    let settings = input.settings;
    let separator = input.directory.address_rules().subaddress_separator;
    if is_automated(input.facts, &settings.out_of_office_subjects) {
        Some(Reason::Automated)
    } else if is_no_reply_sender(sender, &settings.no_reply_local_parts, separator) {
        Some(Reason::NoReplySender)
    } else if input
        .sender_history
        .is_loop(input.now, settings.sender_messages)
    {
        Some(Reason::MailLoop)
    } else {
        None
    }
}

fn evaluate(input: &PolicyInput<'_>, sender: &NormalizedAddress) -> Outcome {
    let directory = input.directory;
    let listings = directory.listings(sender);
    let recipient_rules = AddressRules {
        strip_subaddress: false,
        ..directory.address_rules().clone()
    };
    let recipients: Vec<NormalizedAddress> = input
        .envelope
        .recipients
        .iter()
        .filter_map(|r| NormalizedAddress::parse(r, &recipient_rules).ok())
        .collect();
    let identified = identify_account(
        directory,
        &input.settings.account_order,
        &IdentificationFacts {
            recipients: &recipients,
            support_addresses: &input.settings.support_addresses,
            separator: recipient_rules.subaddress_separator,
            subject: &input.facts.subject,
            sender_listings: listings,
        },
    );
    let account = match identified {
        Identified::Account(account, _) => Some(account),
        _ => None,
    };
    if let Some(account) = account {
        if directory.account(account).status != AccountStatus::Active {
            // The account's own agents are told which account; anyone else is not.
            let agent = listings.iter().find_map(|l| match *l {
                AddressListing::Agent {
                    account: a, agent, ..
                } if a == account => Some((account, agent)),
                _ => None,
            });
            return Outcome {
                agent,
                ..Outcome::refuse(Reason::AccountInactive, Some(account))
            };
        }
    }
    // P2 and P3 hold whatever the account: such an address never opens a ticket.
    let listed_as = |wanted: fn(&AddressListing) -> bool| {
        let mut matching = listings.iter().filter(|l| wanted(l)).map(|l| l.account());
        let first = matching.next()?;
        Some(
            account
                .filter(|a| *a == first || matching.any(|m| m == *a))
                .unwrap_or(first),
        )
    };
    if let Some(helpdesk_of) = listed_as(|l| matches!(l, AddressListing::Helpdesk { .. })) {
        return Outcome::refuse(Reason::HelpdeskAddress, Some(helpdesk_of));
    }
    if let Some(group_of) = listed_as(|l| matches!(l, AddressListing::Group { .. })) {
        return Outcome::refuse(Reason::GroupAddress, Some(group_of));
    }
    if input.facts.has_list_header || input.facts.group_marker.is_some() {
        return Outcome::refuse(Reason::GroupAddress, account);
    }
    let registered_somewhere = listings
        .iter()
        .any(|l| matches!(l, AddressListing::Agent { .. }));
    let Some(account) = account else {
        // Registered on several accounts, or registered but the sender strategy is not
        // configured: either way the account is not named and is not guessed (P8).
        let reason = if matches!(identified, Identified::Ambiguous) || registered_somewhere {
            Reason::AmbiguousAccount
        } else {
            Reason::UnknownSender
        };
        return Outcome::refuse(reason, None);
    };
    let mut profiles: Vec<u32> = listings
        .iter()
        .filter_map(|l| match *l {
            AddressListing::Agent {
                account: a, agent, ..
            } if a == account => Some(agent),
            _ => None,
        })
        .collect();
    profiles.dedup();
    let agent = match profiles.as_slice() {
        [] => return Outcome::refuse(Reason::NotRegistered, Some(account)),
        [one] => *one,
        _ => return Outcome::refuse(Reason::SharedAddress, Some(account)),
    };
    if names_unregistered_address(input.facts, sender, account, directory) {
        return Outcome {
            agent: Some((account, agent)),
            ..Outcome::refuse(Reason::UnregisteredReplyTo, Some(account))
        };
    }
    let role = directory.agent(account, agent).role;
    let parts: &[String] = if input.settings.categories_match_body {
        &input.facts.part_texts
    } else {
        &[]
    };
    let mut outcome = Outcome {
        reason: Reason::Accepted,
        account: Some(account),
        agent: Some((account, agent)),
        category: None,
        notify: Vec::new(),
    };
    if let Some(category) = find_category(&input.settings.categories, &input.facts.subject, parts) {
        if !category.allows(role) {
            outcome.reason = Reason::AuthorizationRequired;
            outcome.category = Some(category.name.clone());
            // A held request needs someone to ask, whether or not notices are on.
            let held = input.settings.action(Reason::AuthorizationRequired) == Action::Hold;
            if input.settings.notify_privileged || held {
                outcome.notify = privileged_primaries(directory, account, category.requires);
            }
        }
    }
    outcome
}

/// The primary addresses of those who may ask for a category: the owner, and the admins when
/// `requires` is admin.
pub fn privileged_primaries(
    directory: &Directory,
    account: AccountId,
    requires: Role,
) -> Vec<String> {
    directory
        .account(account)
        .agents
        .iter()
        .filter(|a| a.role == Role::Owner || (requires == Role::Admin && a.role == Role::Admin))
        .filter_map(|a| a.primary().map(|p| p.to_string()))
        .collect()
}

fn finish(
    input: &PolicyInput<'_>,
    sender: Option<NormalizedAddress>,
    authenticated: bool,
    outcome: Outcome,
) -> Decision {
    let action = input.settings.action(outcome.reason);
    // A held request's sender is told it is held: the same rules decide whether they may be.
    let reply = if matches!(action, Action::Reply | Action::Hold) {
        plan_reply(input, sender.as_ref(), authenticated, outcome.reason)
    } else {
        ReplyPlan::NotApplicable
    };
    let directory = input.directory;
    let (agent, role) = match outcome.agent {
        Some((account, agent)) => {
            let agent = directory.agent(account, agent);
            (agent.primary().map(|p| p.to_string()), Some(agent.role))
        }
        None => (None, None),
    };
    Decision {
        verdict: if outcome.reason == Reason::Accepted {
            Verdict::Accept
        } else {
            Verdict::Refuse
        },
        reason: outcome.reason,
        account: outcome.account.map(|a| directory.account(a).id.to_string()),
        agent,
        role,
        action,
        reply,
        category: outcome.category,
        notify: outcome.notify,
        sender: sender.map(|s| s.to_string()),
    }
}

fn plan_reply(
    input: &PolicyInput<'_>,
    sender: Option<&NormalizedAddress>,
    authenticated: bool,
    reason: Reason,
) -> ReplyPlan {
    // Automatic mail is never answered, whatever `[actions]` says (RFC 3834 §2).
    if !reason.may_reply() {
        return ReplyPlan::Suppressed(Suppression::Automated);
    }
    let reply_rules = AddressRules {
        strip_subaddress: false,
        ..input.directory.address_rules().clone()
    };
    // SPEC §5 "Who gets the reply": the reverse-path only when it is authenticated and aligned
    // with the From domain, else the From address. No reverse-path at all: never reply.
    let to = match reply_address(
        input.envelope.mail_from.as_deref(),
        sender,
        input.auth,
        &reply_rules,
    ) {
        Ok(to) => to,
        Err(suppression) => return ReplyPlan::Suppressed(suppression),
    };
    // A per-account mailbox is one of our own addresses too.
    let is_our_mailbox = input
        .directory
        .listings(&to.without_subaddress(reply_rules.subaddress_separator))
        .iter()
        .any(|l| matches!(l, crate::directory::AddressListing::Mailbox { .. }));
    if is_our_mailbox {
        return ReplyPlan::Suppressed(Suppression::OwnAddress);
    }
    if let Some(suppression) = reply_suppression(
        &to,
        input.facts,
        authenticated,
        &input.settings.own_addresses,
        reply_rules.subaddress_separator,
    ) {
        return ReplyPlan::Suppressed(suppression);
    }
    let since = input
        .now
        .saturating_sub(input.settings.reply_interval.as_secs());
    let key = reply_memory_key(&to, reply_rules.subaddress_separator);
    if input.reply_memory.replied_since(&key, reason, since) {
        return ReplyPlan::Suppressed(Suppression::AlreadyReplied);
    }
    ReplyPlan::Send { to }
}

#[cfg(test)]
#[path = "rules_tests.rs"]
mod tests;
