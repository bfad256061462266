//! Which account a message concerns (SPEC §3 "Which account"), by strategies tried in the
//! configured order; the first that names exactly one account wins.

use crate::address::NormalizedAddress;
use crate::directory::{AccountId, AddressListing, Directory};
use std::collections::BTreeSet;
use std::str::FromStr;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IdentificationStrategy {
    /// `support+ACCOUNT@vendor.example`
    RecipientTag,
    /// A per-account recipient address listed in the directory.
    RecipientMailbox,
    /// `[acme]` or `acme.vendor.example` in the Subject.
    Subject,
    /// The sender's own registrations, when they name exactly one account.
    Sender,
}

impl IdentificationStrategy {
    pub const ALL: [IdentificationStrategy; 4] = [
        IdentificationStrategy::RecipientTag,
        IdentificationStrategy::RecipientMailbox,
        IdentificationStrategy::Subject,
        IdentificationStrategy::Sender,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            IdentificationStrategy::RecipientTag => "recipient-tag",
            IdentificationStrategy::RecipientMailbox => "recipient-mailbox",
            IdentificationStrategy::Subject => "subject",
            IdentificationStrategy::Sender => "sender",
        }
    }
}

impl FromStr for IdentificationStrategy {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        IdentificationStrategy::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or(())
    }
}

/// The outcome of identification.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Identified {
    Account(AccountId, IdentificationStrategy),
    /// The sender is registered on several accounts and nothing else names one (P8).
    Ambiguous,
    None,
}

/// What identification looks at.
pub struct IdentificationFacts<'a> {
    pub recipients: &'a [NormalizedAddress],
    pub support_addresses: &'a [NormalizedAddress],
    pub separator: char,
    pub subject: &'a str,
    pub sender_listings: &'a [AddressListing],
}

pub fn identify_account(
    directory: &Directory,
    order: &[IdentificationStrategy],
    facts: &IdentificationFacts<'_>,
) -> Identified {
    let mut sender_is_ambiguous = false;
    for &strategy in order {
        let accounts = match strategy {
            IdentificationStrategy::RecipientTag => by_recipient_tag(directory, facts),
            IdentificationStrategy::RecipientMailbox => facts
                .recipients
                .iter()
                .flat_map(|r| directory.listings(r))
                .filter_map(|l| match l {
                    AddressListing::Mailbox { account } => Some(*account),
                    _ => None,
                })
                .collect(),
            IdentificationStrategy::Subject => by_subject(directory, facts.subject),
            IdentificationStrategy::Sender => facts
                .sender_listings
                .iter()
                .filter_map(|l| match l {
                    AddressListing::Agent { account, .. } => Some(*account),
                    _ => None,
                })
                .collect(),
        };
        let mut accounts = accounts.into_iter();
        match (accounts.next(), accounts.next()) {
            (Some(account), None) => return Identified::Account(account, strategy),
            (Some(_), Some(_)) if strategy == IdentificationStrategy::Sender => {
                sender_is_ambiguous = true
            }
            // Two tags, two mailboxes or two names in the Subject: this strategy cannot tell.
            _ => {}
        }
    }
    if sender_is_ambiguous {
        Identified::Ambiguous
    } else {
        Identified::None
    }
}

/// The account a recipient names by itself — a `+tag` on a support address or a per-account
/// mailbox — by the two recipient strategies of [`identify_account`]: the key by which one
/// transaction's recipients are split into one decision per account.
pub fn account_named_by_recipient(
    directory: &Directory,
    recipient: &NormalizedAddress,
    support_addresses: &[NormalizedAddress],
    separator: char,
) -> Option<AccountId> {
    let facts = IdentificationFacts {
        recipients: std::slice::from_ref(recipient),
        support_addresses,
        separator,
        subject: "",
        sender_listings: &[],
    };
    let strategies = [
        IdentificationStrategy::RecipientTag,
        IdentificationStrategy::RecipientMailbox,
    ];
    match identify_account(directory, &strategies, &facts) {
        Identified::Account(account, _) => Some(account),
        Identified::Ambiguous | Identified::None => None,
    }
}

fn by_recipient_tag(directory: &Directory, facts: &IdentificationFacts<'_>) -> BTreeSet<AccountId> {
    facts
        .recipients
        .iter()
        .filter_map(|recipient| {
            let (base, tag) = recipient.split_subaddress(facts.separator);
            let tag = tag?;
            let is_support = facts
                .support_addresses
                .iter()
                .any(|s| s.local_part() == base && s.domain() == recipient.domain());
            is_support
                .then(|| directory.account_by_id(&tag.to_ascii_lowercase()))
                .flatten()
        })
        .collect()
}

/// Accounts named in a Subject: `[id]` tokens and host names written as words.
pub fn by_subject(directory: &Directory, subject: &str) -> BTreeSet<AccountId> {
    let mut accounts = BTreeSet::new();
    let mut rest = subject;
    while let Some(open) = rest.find('[') {
        let after = &rest[open + 1..];
        let Some(close) = after.find(']') else { break };
        let token = after[..close].trim().to_ascii_lowercase();
        if let Some(account) = directory.account_by_id(&token) {
            accounts.insert(account);
        }
        rest = &after[close + 1..];
    }
    let is_host_char = |c: char| c.is_alphanumeric() || c == '.' || c == '-';
    for word in subject.split(|c: char| !is_host_char(c)) {
        let word = word.trim_matches('.');
        if word.contains('.') {
            let host = word.to_lowercase();
            let ascii = idna::domain_to_ascii(&host).unwrap_or(host);
            if let Some(account) = directory.account_by_host(&ascii) {
                accounts.insert(account);
            }
        }
    }
    accounts
}
