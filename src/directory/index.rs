//! The loaded directory: accounts, and an index from normalised address to what the address is.

use super::finding::Finding;
use super::model::{Account, AccountEntry, AccountStatus, Agent, Language, Role};
use crate::address::{normalize_domain, AddressRules, NormalizedAddress};
use std::collections::hash_map::Entry;
use std::collections::HashMap;

/// Index of an account in [`Directory::accounts`].
pub type AccountId = u32;

/// What one address is for one account. An address may have several listings (an address
/// registered on two accounts, or — wrongly — on two profiles or as agent and helpdesk).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddressListing {
    /// On the profile `agent` of `account`; `primary` when it is the profile's first address.
    Agent {
        account: AccountId,
        agent: u32,
        primary: bool,
    },
    /// One of the account's helpdesk addresses (P2).
    Helpdesk { account: AccountId },
    /// A distribution list, alias or group mailbox of the account (P3).
    Group { account: AccountId },
    /// A per-account recipient address of the support mailbox.
    Mailbox { account: AccountId },
}

impl AddressListing {
    pub fn account(&self) -> AccountId {
        match *self {
            AddressListing::Agent { account, .. }
            | AddressListing::Helpdesk { account }
            | AddressListing::Group { account }
            | AddressListing::Mailbox { account } => account,
        }
    }

    /// The same listing for the account now at index `account`.
    pub(super) fn moved_to(self, account: AccountId) -> AddressListing {
        match self {
            AddressListing::Agent { agent, primary, .. } => AddressListing::Agent {
                account,
                agent,
                primary,
            },
            AddressListing::Helpdesk { .. } => AddressListing::Helpdesk { account },
            AddressListing::Group { .. } => AddressListing::Group { account },
            AddressListing::Mailbox { .. } => AddressListing::Mailbox { account },
        }
    }
}

/// The queryable directory. Build it with [`Directory::load`] or [`Directory::from_toml`]
/// (in `load`).
///
/// `Clone` serves a live source (`patch`): a changed account is swapped into a copy while the
/// copy in force goes on deciding.
#[derive(Debug, Default, Clone)]
pub struct Directory {
    pub(super) accounts: Vec<Account>,
    pub(super) by_address: HashMap<NormalizedAddress, Listings>,
    pub(super) by_id: HashMap<Box<str>, AccountId>,
    pub(super) by_host: HashMap<Box<str>, AccountId>,
    /// What indexing found, account by account (`add_account`).
    pub(super) account_findings: Vec<Finding>,
    /// `account_findings`, then those of the checks over every account (`finish`).
    findings: Vec<Finding>,
    rules: AddressRules,
}

/// Most addresses have exactly one listing; keep that case free of a second allocation.
#[derive(Debug, Clone)]
pub(super) enum Listings {
    One(AddressListing),
    Many(Vec<AddressListing>),
}

impl Listings {
    fn as_slice(&self) -> &[AddressListing] {
        match self {
            Listings::One(one) => std::slice::from_ref(one),
            Listings::Many(many) => many,
        }
    }

    fn push(&mut self, listing: AddressListing) {
        match self {
            Listings::One(one) => *self = Listings::Many(vec![*one, listing]),
            Listings::Many(many) => many.push(listing),
        }
    }

    /// Renumbers each listing's account with `new_index` (old index → new), dropping those of
    /// accounts that have none; false when no listing is left.
    pub(super) fn renumber(&mut self, new_index: &[Option<AccountId>]) -> bool {
        let moved = |l: &AddressListing| {
            new_index
                .get(l.account() as usize)
                .copied()
                .flatten()
                .map(|account| l.moved_to(account))
        };
        match self {
            Listings::One(one) => match moved(one) {
                Some(listing) => {
                    *one = listing;
                    true
                }
                None => false,
            },
            Listings::Many(many) => {
                let kept: Vec<_> = many.iter().filter_map(moved).collect();
                match kept.len() {
                    0 => false,
                    1 => {
                        *self = Listings::One(kept[0]);
                        true
                    }
                    _ => {
                        *many = kept;
                        true
                    }
                }
            }
        }
    }
}

impl Directory {
    /// An empty directory with room for about `accounts` accounts and `agents` agents.
    pub(super) fn empty(rules: &AddressRules, accounts: usize, agents: usize) -> Directory {
        Directory {
            accounts: Vec::with_capacity(accounts),
            // Most agents have one or two addresses; a table sized for one each holds 1.75 per
            // agent before it grows, where sizing for two each doubled it for nothing.
            by_address: HashMap::with_capacity(agents),
            by_id: HashMap::with_capacity(accounts),
            by_host: HashMap::new(),
            account_findings: Vec::new(),
            findings: Vec::new(),
            rules: rules.clone(),
        }
    }

    /// Once every account is added: adds the findings of the checks that need them all.
    pub(super) fn finish(mut self) -> Directory {
        self.accounts.shrink_to_fit();
        self.check_all();
        self
    }

    /// Recomputes [`Directory::findings`]: the accounts' own, then the checks that need them
    /// all (`lint`).
    pub(super) fn check_all(&mut self) {
        let cross_findings = super::lint::cross_checks(self);
        self.findings = self.account_findings.clone();
        self.findings.extend(cross_findings);
    }

    pub(super) fn add_account(&mut self, entry: AccountEntry) {
        let index = self.accounts.len() as AccountId;
        let id = entry.id.as_str();
        if id.is_empty()
            || !id
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        {
            self.error(id, format!("account id {id:?} must match [a-z0-9-]+"));
        }
        if self.by_id.contains_key(id) {
            self.error(id, format!("duplicate account id {id:?}"));
        } else {
            self.by_id.insert(id.into(), index);
        }
        let language = entry.language.as_deref().and_then(|tag| {
            let language = Language::from_tag(tag);
            if language.is_none() {
                self.error(id, format!("language {tag:?}: expected \"fr\" or \"en\""));
            }
            language
        });
        // A status nobody can read is not taken as "active": the account is held as
        // suspended until the directory says what it is (and `directory lint` says why).
        let status = match entry.status.as_deref().map(str::parse::<AccountStatus>) {
            None => AccountStatus::Active,
            Some(Ok(status)) => status,
            Some(Err(())) => {
                self.error(
                    id,
                    format!(
                        "status {:?}: expected \"active\", \"suspended\" or \"closed\" (held as suspended)",
                        entry.status.as_deref().unwrap_or_default()
                    ),
                );
                AccountStatus::Suspended
            }
        };
        let mut hosts = Vec::with_capacity(entry.hosts.len());
        for host in &entry.hosts {
            match normalize_domain(host) {
                Ok(host) => {
                    if let Some(&other) = self.by_host.get(host.as_str()) {
                        if other != index {
                            self.error(id, format!("host {host:?} also names another account"));
                        }
                    }
                    self.by_host.insert(host.as_str().into(), index);
                    hosts.push(host.into_boxed_str());
                }
                Err(e) => self.error(id, format!("host {host:?}: {e}")),
            }
        }
        for (list, make) in [
            (&entry.mailboxes, mailbox as fn(AccountId) -> AddressListing),
            (&entry.helpdesk_addresses, helpdesk),
            (&entry.group_addresses, group),
        ] {
            for raw in list {
                if let Some(address) = self.parse_address(id, raw) {
                    self.insert(address, make(index));
                }
            }
        }
        let mut agents = Vec::with_capacity(entry.agent.len());
        for (agent_index, agent) in entry.agent.into_iter().enumerate() {
            let role = agent.role.parse::<Role>().unwrap_or_else(|()| {
                self.error(
                    id,
                    format!(
                        "agent {:?}: role {:?}: expected owner, admin or agent",
                        agent.name, agent.role
                    ),
                );
                Role::Agent
            });
            if agent.emails.is_empty() {
                self.error(id, format!("agent {:?} has no email address", agent.name));
            }
            let mut emails = Vec::with_capacity(agent.emails.len());
            for raw in &agent.emails {
                if let Some(address) = self.parse_address(id, raw) {
                    if emails.contains(&address) {
                        continue;
                    }
                    self.insert(
                        address.clone(),
                        AddressListing::Agent {
                            account: index,
                            agent: agent_index as u32,
                            primary: emails.is_empty(),
                        },
                    );
                    emails.push(address);
                }
            }
            agents.push(Agent {
                name: agent.name.into_boxed_str(),
                role,
                emails,
            });
        }
        self.accounts.push(Account {
            id: entry.id.into_boxed_str(),
            name: entry.name.into_boxed_str(),
            language,
            sign_in_url: entry.sign_in_url.map(String::into_boxed_str),
            status,
            hosts,
            agents,
        });
    }

    fn parse_address(&mut self, account: &str, raw: &str) -> Option<NormalizedAddress> {
        match NormalizedAddress::parse(raw, &self.rules) {
            Ok(address) => Some(address),
            Err(e) => {
                self.error(account, format!("address {raw:?}: {e}"));
                None
            }
        }
    }

    fn insert(&mut self, address: NormalizedAddress, listing: AddressListing) {
        match self.by_address.entry(address) {
            Entry::Occupied(mut listings) => listings.get_mut().push(listing),
            Entry::Vacant(vacant) => {
                vacant.insert(Listings::One(listing));
            }
        }
    }

    fn error(&mut self, account: &str, message: String) {
        self.account_findings.push(Finding::error(account, message));
    }

    /// Every listing of an address (already normalised with this directory's rules).
    pub fn listings(&self, address: &NormalizedAddress) -> &[AddressListing] {
        self.by_address
            .get(address)
            .map_or(&[], |listings| listings.as_slice())
    }

    pub fn account(&self, id: AccountId) -> &Account {
        &self.accounts[id as usize]
    }

    pub fn agent(&self, account: AccountId, agent: u32) -> &Agent {
        &self.accounts[account as usize].agents[agent as usize]
    }

    pub fn accounts(&self) -> &[Account] {
        &self.accounts
    }

    pub fn account_by_id(&self, id: &str) -> Option<AccountId> {
        self.by_id.get(id).copied()
    }

    /// An account named by one of its `hosts` (lower-case ASCII form).
    pub fn account_by_host(&self, host: &str) -> Option<AccountId> {
        self.by_host.get(host).copied()
    }

    pub fn address_rules(&self) -> &AddressRules {
        &self.rules
    }

    /// What is inconsistent in the directory (see `supportgate directory lint`).
    pub fn findings(&self) -> &[Finding] {
        &self.findings
    }

    pub fn agent_count(&self) -> usize {
        self.accounts.iter().map(|a| a.agents.len()).sum()
    }

    pub(super) fn all_listings(
        &self,
    ) -> impl Iterator<Item = (&NormalizedAddress, &[AddressListing])> {
        self.by_address.iter().map(|(a, l)| (a, l.as_slice()))
    }
}

fn mailbox(account: AccountId) -> AddressListing {
    AddressListing::Mailbox { account }
}
fn helpdesk(account: AccountId) -> AddressListing {
    AddressListing::Helpdesk { account }
}
fn group(account: AccountId) -> AddressListing {
    AddressListing::Group { account }
}
