//! The loaded directory: accounts, and an index from normalised address to what the address is.

use super::finding::Finding;
use super::layered::{LayeredMap, LayeredVec};
use super::model::{Account, AccountEntry, AccountStatus, Agent, Language, Role};
use crate::address::{normalize_domain, AddressRules, NormalizedAddress};
use std::sync::Arc;

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
/// `Clone` is cheap and serves a live source (`patch`): the containers are layered (`layered`),
/// so a copy shares the whole index with the directory in force and a changed account goes
/// into the copy's own small layer while the directory in force goes on deciding.
#[derive(Debug, Default, Clone)]
pub struct Directory {
    /// Every account indexed so far, by [`AccountId`]; a patched copy also keeps the slots of
    /// the accounts it retired (`retired`), so that indexes never move until `compacted`.
    pub(super) accounts: LayeredVec<Arc<Account>>,
    /// Slots of `accounts` that a patch replaced or removed: no index entry names them.
    pub(super) retired: imbl::HashSet<AccountId>,
    pub(super) by_address: LayeredMap<NormalizedAddress, Listings>,
    pub(super) by_id: LayeredMap<Box<str>, AccountId>,
    /// Every account naming the host, in the order they were indexed; the last is in force
    /// (two accounts naming one host is a lint error: when a patch takes the last one away,
    /// the one before is in force again).
    pub(super) by_host: LayeredMap<Box<str>, Vec<AccountId>>,
    /// What the checks found, for the accounts that have findings (`add_account`).
    pub(super) findings_by_account: imbl::OrdMap<AccountId, Arc<[Finding]>>,
    /// `findings_by_account` in account order (`collect_findings`).
    findings: Arc<[Finding]>,
    rules: AddressRules,
}

/// Most addresses have exactly one listing; keep that case free of a second allocation.
#[derive(Debug, Clone)]
pub(super) enum Listings {
    One(AddressListing),
    Many(Vec<AddressListing>),
}

impl Listings {
    pub(super) fn as_slice(&self) -> &[AddressListing] {
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

    /// Drops the listings of `account`; false when no listing is left.
    pub(super) fn keep_others(&mut self, account: AccountId) -> bool {
        match self {
            Listings::One(one) => one.account() != account,
            Listings::Many(many) => {
                many.retain(|l| l.account() != account);
                match many.len() {
                    0 => false,
                    1 => {
                        *self = Listings::One(many[0]);
                        true
                    }
                    _ => true,
                }
            }
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
            accounts: LayeredVec::with_capacity(accounts),
            retired: imbl::HashSet::new(),
            // Most agents have one or two addresses; a table sized for one each holds 1.75 per
            // agent before it grows, where sizing for two each doubled it for nothing.
            by_address: LayeredMap::with_capacity(agents),
            by_id: LayeredMap::with_capacity(accounts),
            by_host: LayeredMap::default(),
            findings_by_account: imbl::OrdMap::new(),
            findings: Arc::from(Vec::new()),
            rules: rules.clone(),
        }
    }

    /// Once every account is added.
    pub(super) fn finish(mut self) -> Directory {
        self.accounts.shrink_to_fit();
        self.by_address.shrink_to_fit();
        self.collect_findings();
        self
    }

    /// Recomputes [`Directory::findings`] from the accounts' own, in account order.
    pub(super) fn collect_findings(&mut self) {
        let findings: Vec<Finding> = self
            .findings_by_account
            .values()
            .flat_map(|found| found.iter().cloned())
            .collect();
        self.findings = Arc::from(findings);
    }

    /// Indexes `entry` as a new account and runs its checks (`lint`); returns its index.
    pub(super) fn add_account(&mut self, entry: AccountEntry) -> AccountId {
        let index = self.accounts.len() as AccountId;
        let mut found = Vec::new();
        let id = entry.id.as_str();
        let error = |found: &mut Vec<Finding>, message: String| {
            found.push(Finding::error(id, message));
        };
        if id.is_empty()
            || !id
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        {
            error(
                &mut found,
                format!("account id {id:?} must match [a-z0-9-]+"),
            );
        }
        if self.by_id.contains_key(id) {
            error(&mut found, format!("duplicate account id {id:?}"));
        } else {
            self.by_id.insert(id.into(), index);
        }
        let language = entry.language.as_deref().and_then(|tag| {
            let language = Language::from_tag(tag);
            if language.is_none() {
                error(
                    &mut found,
                    format!("language {tag:?}: expected \"fr\" or \"en\""),
                );
            }
            language
        });
        // A status nobody can read is not taken as "active": the account is held as
        // suspended until the directory says what it is (and `directory lint` says why).
        let status = match entry.status.as_deref().map(str::parse::<AccountStatus>) {
            None => AccountStatus::Active,
            Some(Ok(status)) => status,
            Some(Err(())) => {
                error(
                    &mut found,
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
                    let claimed = self.by_host.get(host.as_str());
                    if claimed.is_some_and(|claims| claims.iter().any(|&other| other != index)) {
                        error(
                            &mut found,
                            format!("host {host:?} also names another account"),
                        );
                    }
                    self.by_host.update(host.as_str().into(), |claims| {
                        let mut claims = claims.unwrap_or_default();
                        if !claims.contains(&index) {
                            claims.push(index);
                        }
                        Some(claims)
                    });
                    hosts.push(host.into_boxed_str());
                }
                Err(e) => error(&mut found, format!("host {host:?}: {e}")),
            }
        }
        let mut own_addresses = Vec::new();
        for (list, make) in [
            (&entry.mailboxes, mailbox as fn(AccountId) -> AddressListing),
            (&entry.helpdesk_addresses, helpdesk),
            (&entry.group_addresses, group),
        ] {
            for raw in list {
                if let Some(address) = self.parse_address(id, raw, &mut found) {
                    self.insert(address.clone(), make(index));
                    own_addresses.push(address);
                }
            }
        }
        let mut agents = Vec::with_capacity(entry.agent.len());
        for (agent_index, agent) in entry.agent.into_iter().enumerate() {
            let role = agent.role.parse::<Role>().unwrap_or_else(|()| {
                error(
                    &mut found,
                    format!(
                        "agent {:?}: role {:?}: expected owner, admin or agent",
                        agent.name, agent.role
                    ),
                );
                Role::Agent
            });
            if agent.emails.is_empty() {
                error(
                    &mut found,
                    format!("agent {:?} has no email address", agent.name),
                );
            }
            let mut emails = Vec::with_capacity(agent.emails.len());
            for raw in &agent.emails {
                if let Some(address) = self.parse_address(id, raw, &mut found) {
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
        self.accounts.push(Arc::new(Account {
            id: entry.id.into_boxed_str(),
            name: entry.name.into_boxed_str(),
            language,
            sign_in_url: entry.sign_in_url.map(String::into_boxed_str),
            status,
            hosts,
            agents,
            own_addresses,
        }));
        found.extend(super::lint::account_checks(self, index));
        if !found.is_empty() {
            self.findings_by_account.insert(index, Arc::from(found));
        }
        index
    }

    fn parse_address(
        &self,
        account: &str,
        raw: &str,
        found: &mut Vec<Finding>,
    ) -> Option<NormalizedAddress> {
        match NormalizedAddress::parse(raw, &self.rules) {
            Ok(address) => Some(address),
            Err(e) => {
                found.push(Finding::error(account, format!("address {raw:?}: {e}")));
                None
            }
        }
    }

    fn insert(&mut self, address: NormalizedAddress, listing: AddressListing) {
        self.by_address.update(address, |listings| match listings {
            Some(mut listings) => {
                listings.push(listing);
                Some(listings)
            }
            None => Some(Listings::One(listing)),
        });
    }

    /// Every listing of an address (already normalised with this directory's rules).
    pub fn listings(&self, address: &NormalizedAddress) -> &[AddressListing] {
        self.by_address
            .get(address)
            .map_or(&[], |listings| listings.as_slice())
    }

    pub fn account(&self, id: AccountId) -> &Account {
        match self.accounts.get(id as usize) {
            Some(account) => account,
            None => panic!("account index {id} out of range: not from this directory"),
        }
    }

    pub fn agent(&self, account: AccountId, agent: u32) -> &Agent {
        &self.account(account).agents[agent as usize]
    }

    /// The accounts in force, in the order they were indexed.
    pub fn accounts(&self) -> impl Iterator<Item = &Account> {
        let retired = &self.retired;
        self.accounts
            .iter()
            .enumerate()
            .filter(move |(index, _)| retired.is_empty() || !retired.contains(&(*index as u32)))
            .map(|(_, account)| &**account)
    }

    pub fn account_count(&self) -> usize {
        self.accounts.len() - self.retired.len()
    }

    pub fn account_by_id(&self, id: &str) -> Option<AccountId> {
        self.by_id.get(id).copied()
    }

    /// An account named by one of its `hosts` (lower-case ASCII form).
    pub fn account_by_host(&self, host: &str) -> Option<AccountId> {
        self.by_host
            .get(host)
            .and_then(|claims| claims.last().copied())
    }

    pub fn address_rules(&self) -> &AddressRules {
        &self.rules
    }

    /// What is inconsistent in the directory (see `supportgate directory lint`), account by
    /// account in the order they were indexed.
    pub fn findings(&self) -> &[Finding] {
        &self.findings
    }

    pub fn agent_count(&self) -> usize {
        self.accounts().map(|a| a.agents.len()).sum()
    }

    #[cfg(test)]
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
