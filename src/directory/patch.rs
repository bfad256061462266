//! Replacing some accounts of a loaded directory, for a live source (`postgres`).
//!
//! The directory in force is never touched: decisions go on with it while the next one is
//! built. The next one is a copy that shares its whole index (`layered`): a changed account's
//! old listings are taken out of the copy's own layer, its slot is retired (indexes do not move,
//! so nothing is renumbered), and the new version is indexed as a file load would, checks
//! included. A patch costs the size of the accounts that changed. When the copy's own layer has
//! grown to a fraction of the base ([`Directory::needs_compaction`]), the patch also builds one
//! new single-layer directory (one pass over the index) and the layer starts again empty.

use super::index::{AccountId, Directory};
use super::model::AccountEntry;
use std::collections::HashSet;

/// One account as its source has it now; `entry` is `None` when the account is gone.
#[derive(Debug, Clone)]
pub struct AccountChange {
    pub id: String,
    pub entry: Option<AccountEntry>,
}

/// `changes` with only the last change of each account (the one in force), in their order.
fn latest_of_each(changes: Vec<AccountChange>) -> Vec<AccountChange> {
    let mut seen = HashSet::new();
    let mut latest: Vec<AccountChange> = changes
        .into_iter()
        .rev()
        .filter(|change| seen.insert(change.id.clone()))
        .collect();
    latest.reverse();
    latest
}

/// A patched copy is compacted once its own layer holds this many entries, or a quarter of its
/// base if that is more: rarely enough that the pass over the index (a few hundred milliseconds
/// for a million agents) is a small share of the work, often enough that lookups stay in the
/// base and retired slots do not pile up between full resynchronisations.
const COMPACT_AT_LEAST: usize = 4096;

impl Directory {
    /// A copy of this directory with `changes` applied, findings included. The accounts that
    /// arrived together go in one call; a change for an account that is not there adds it, a
    /// removal of an account that is not there changes nothing.
    pub fn with_changes(&self, changes: Vec<AccountChange>) -> Directory {
        let mut next = self.clone();
        for change in latest_of_each(changes) {
            if let Some(index) = next.account_by_id(&change.id) {
                next.retire(index);
            }
            if let Some(entry) = change.entry {
                next.add_account(entry);
            }
        }
        if next.needs_compaction() {
            next = next.compacted();
        }
        next.collect_findings();
        next
    }

    /// Takes account `index` out of every index entry; its slot stays, retired.
    fn retire(&mut self, index: AccountId) {
        let account = std::sync::Arc::clone(
            self.accounts
                .get(index as usize)
                .expect("an index from by_id names a slot"),
        );
        let addresses = account
            .agents
            .iter()
            .flat_map(|agent| agent.emails.iter())
            .chain(account.own_addresses.iter());
        for address in addresses {
            self.by_address.update(address.clone(), |listings| {
                let mut listings = listings?;
                listings.keep_others(index).then_some(listings)
            });
        }
        for host in &account.hosts {
            self.by_host.update(host.clone(), |claims| {
                let mut claims = claims?;
                claims.retain(|&claimant| claimant != index);
                (!claims.is_empty()).then_some(claims)
            });
        }
        if self.by_id.get(&*account.id) == Some(&index) {
            self.by_id.remove(&account.id);
        }
        self.findings_by_account.remove(&index);
        self.retired.insert(index);
    }

    /// The copy's own layer has grown enough to be worth one pass over the index.
    fn needs_compaction(&self) -> bool {
        let layer = self.by_address.delta_len() + self.accounts.appended_len();
        layer > COMPACT_AT_LEAST.max(self.by_address.base_len() / 4)
    }

    /// The same directory in one layer, retired slots dropped and the accounts renumbered:
    /// what [`Directory::with_changes`] does now and then (public for the benchmark).
    pub fn compacted(&self) -> Directory {
        let mut new_index: Vec<Option<AccountId>> = Vec::with_capacity(self.accounts.len());
        let mut accounts = Vec::with_capacity(self.account_count());
        for (index, account) in self.accounts.iter().enumerate() {
            if self.retired.contains(&(index as AccountId)) {
                new_index.push(None);
            } else {
                new_index.push(Some(accounts.len() as AccountId));
                accounts.push(std::sync::Arc::clone(account));
            }
        }
        let renumbered = |account: &AccountId| new_index.get(*account as usize).copied().flatten();
        let renumber = |_: &_, account: &mut AccountId| match renumbered(account) {
            Some(new) => {
                *account = new;
                true
            }
            None => false,
        };
        let mut next = self.clone();
        next.accounts = super::layered::LayeredVec::from_vec(accounts);
        next.retired = imbl::HashSet::new();
        next.by_address = self
            .by_address
            .merged(|_, listings| listings.renumber(&new_index));
        next.by_id = self.by_id.merged(renumber);
        next.by_host = self.by_host.merged(|_, claims| {
            claims.retain_mut(|account| match renumbered(account) {
                Some(new) => {
                    *account = new;
                    true
                }
                None => false,
            });
            !claims.is_empty()
        });
        next.findings_by_account = self
            .findings_by_account
            .iter()
            .filter_map(|(index, found)| Some((renumbered(index)?, found.clone())))
            .collect();
        next
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::address::{AddressRules, NormalizedAddress};
    use crate::directory::model::AgentEntry;

    fn account(id: &str, agents: &[(&str, &str, &[&str])]) -> AccountEntry {
        AccountEntry {
            id: id.into(),
            name: format!("Account {id}"),
            language: None,
            sign_in_url: None,
            status: None,
            hosts: vec![format!("{id}.example")],
            mailboxes: vec![format!("support+{id}@vendor.example")],
            helpdesk_addresses: vec![format!("helpdesk@{id}.example")],
            group_addresses: vec![],
            agent: agents
                .iter()
                .map(|(name, role, emails)| AgentEntry {
                    name: name.to_string(),
                    role: role.to_string(),
                    emails: emails.iter().map(|e| e.to_string()).collect(),
                })
                .collect(),
        }
    }

    #[test]
    fn a_host_named_by_two_accounts_goes_back_to_the_first_when_the_second_drops_it() {
        let rules = AddressRules::default();
        let a = account("a", &[("Ann", "owner", &["ann@a.example"])]);
        let mut b = account("b", &[("Bob", "owner", &["bob@b.example"])]);
        b.hosts.push("a.example".into());
        let both = Directory::build(vec![a, b.clone()], &rules);
        let name = |dir: &Directory, host: &str| {
            dir.account_by_host(host)
                .map(|i| dir.account(i).id.to_string())
        };
        assert_eq!(name(&both, "a.example").as_deref(), Some("b"));
        assert!(both
            .findings()
            .iter()
            .any(|f| f.message.contains("also names another account")));
        b.hosts.pop();
        let fixed = both.with_changes(vec![AccountChange {
            id: "b".into(),
            entry: Some(b),
        }]);
        assert_eq!(name(&fixed, "a.example").as_deref(), Some("a"));
        assert_eq!(name(&fixed, "b.example").as_deref(), Some("b"));
        assert_eq!(name(&fixed.compacted(), "a.example").as_deref(), Some("a"));
        assert!(fixed.findings().is_empty(), "{:?}", fixed.findings());
    }

    /// [`full_view`] of `addresses` and of the accounts `a` to `d`.
    fn view(dir: &Directory, addresses: &[&str]) -> Vec<String> {
        let addresses: Vec<String> = addresses.iter().map(|a| a.to_string()).collect();
        full_view(dir, &addresses, &["a", "b", "c", "d"].map(String::from))
    }

    #[test]
    fn replacing_adding_and_removing_accounts_gives_the_directory_a_full_load_would() {
        let rules = AddressRules::default();
        let a = account(
            "a",
            &[("Ann", "owner", &["ann@a.example", "ann@home.example"])],
        );
        let b = account("b", &[("Bob", "owner", &["bob@b.example"])]);
        let c = account(
            "c",
            &[("Cy", "owner", &["cy@c.example", "shared@x.example"])],
        );
        let before = Directory::build(vec![a.clone(), b.clone(), c.clone()], &rules);
        // b loses its owner and gains an agent shared with c; a is deleted; d is new.
        let b2 = account(
            "b",
            &[("Bea", "agent", &["bea@b.example", "shared@x.example"])],
        );
        let d = account("d", &[("Dan", "owner", &["dan@d.example"])]);
        let patched = before.with_changes(vec![
            AccountChange {
                id: "b".into(),
                entry: Some(b2.clone()),
            },
            AccountChange {
                id: "a".into(),
                entry: None,
            },
            AccountChange {
                id: "d".into(),
                entry: Some(d.clone()),
            },
        ]);
        let fresh = Directory::build(vec![c, b2, d], &rules);
        let addresses = [
            "ann@a.example",
            "ann@home.example",
            "bob@b.example",
            "bea@b.example",
            "cy@c.example",
            "shared@x.example",
            "dan@d.example",
            "helpdesk@a.example",
            "helpdesk@b.example",
            "support+c@vendor.example",
            "support+a@vendor.example",
        ];
        assert_eq!(view(&patched, &addresses), view(&fresh, &addresses));
        assert_eq!(patched.account_count(), 3);
        assert!(
            patched.findings().iter().any(|f| f.account == "b"),
            "b has no owner now"
        );
        // The directory it was made from is untouched.
        assert_eq!(
            view(&before, &addresses),
            view(
                &Directory::build(
                    vec![
                        a,
                        b,
                        account(
                            "c",
                            &[("Cy", "owner", &["cy@c.example", "shared@x.example"])]
                        )
                    ],
                    &rules
                ),
                &addresses
            )
        );
    }

    /// Everything a decision or the lint can see, by account id rather than index.
    fn full_view(dir: &Directory, addresses: &[String], ids: &[String]) -> Vec<String> {
        let rules = AddressRules::default();
        let mut lines = Vec::new();
        for raw in addresses {
            let address = NormalizedAddress::parse(raw, &rules).unwrap();
            let mut here: Vec<String> = dir
                .listings(&address)
                .iter()
                .map(|l| {
                    let account = dir.account(l.account());
                    match *l {
                        crate::directory::AddressListing::Agent { agent, primary, .. } => {
                            let agent = &account.agents[agent as usize];
                            format!(
                                "agent {} {} {:?} {primary}",
                                account.id, agent.name, agent.role
                            )
                        }
                        crate::directory::AddressListing::Helpdesk { .. } => {
                            format!("{} helpdesk", account.id)
                        }
                        crate::directory::AddressListing::Group { .. } => {
                            format!("{} group", account.id)
                        }
                        crate::directory::AddressListing::Mailbox { .. } => {
                            format!("{} mailbox", account.id)
                        }
                    }
                })
                .collect();
            here.sort();
            lines.push(format!("{raw}: {here:?}"));
        }
        for id in ids {
            let by_id = dir.account_by_id(id).map(|a| dir.account(a));
            let by_host = dir.account_by_host(&format!("{id}.example"));
            lines.push(format!(
                "{id}: {:?} by host {:?}",
                by_id,
                by_host.map(|a| &*dir.account(a).id)
            ));
        }
        let mut accounts: Vec<String> = dir.accounts().map(|a| format!("{a:?}")).collect();
        accounts.sort();
        lines.extend(accounts);
        lines.push(format!(
            "{} accounts, {} agents",
            dir.account_count(),
            dir.agent_count()
        ));
        let mut findings: Vec<String> = dir.findings().iter().map(ToString::to_string).collect();
        findings.sort();
        lines.extend(findings);
        lines
    }

    /// A small deterministic generator (the same sequence on every run).
    struct Lcg(u64);
    impl Lcg {
        fn below(&mut self, n: u64) -> u64 {
            self.0 = self
                .0
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            (self.0 >> 33) % n
        }
    }

    #[test]
    fn thousands_of_patches_through_compactions_match_a_full_load_at_every_check() {
        let rules = AddressRules::default();
        let ids: Vec<String> = (0..40).map(|i| format!("a{i}")).collect();
        let mut random = Lcg(7);
        let mut addresses: Vec<String> = Vec::new();
        // An account's agents get fresh addresses at each version, some shared with another
        // account (legitimate) or with another agent of the same account (licence sharing).
        let version_of = |id: &str, version: u64, random: &mut Lcg, seen: &mut Vec<String>| {
            let roles = ["owner", "admin", "agent"];
            let agents: Vec<(String, String, Vec<String>)> = (0..random.below(4))
                .map(|n| {
                    let mut emails = vec![format!("u{n}v{version}@{id}.example")];
                    match random.below(6) {
                        0 => emails.push(format!("shared{}@x.example", random.below(5))),
                        1 => emails.push(format!("u0v{version}@{id}.example")),
                        2 => emails.push(format!("help@{id}.example")),
                        _ => {}
                    }
                    (
                        format!("N{n}"),
                        roles[random.below(3) as usize].to_string(),
                        emails,
                    )
                })
                .collect();
            seen.extend(agents.iter().flat_map(|(_, _, e)| e.iter().cloned()));
            seen.push(format!("help@{id}.example"));
            let refs: Vec<(&str, &str, Vec<&str>)> = agents
                .iter()
                .map(|(n, r, e)| {
                    (
                        n.as_str(),
                        r.as_str(),
                        e.iter().map(String::as_str).collect(),
                    )
                })
                .collect();
            let refs: Vec<(&str, &str, &[&str])> = refs
                .iter()
                .map(|(n, r, e)| (*n, *r, e.as_slice()))
                .collect();
            account(id, &refs)
        };
        let mut model: Vec<AccountEntry> = ids
            .iter()
            .map(|id| version_of(id, 0, &mut random, &mut addresses))
            .collect();
        let mut directory = Directory::build(model.clone(), &rules);
        let mut compactions = 0;
        for step in 1..=3000u64 {
            let mut changes = Vec::new();
            for _ in 0..=random.below(3) {
                let id = &ids[random.below(ids.len() as u64) as usize];
                model.retain(|entry| &entry.id != id);
                let entry = if random.below(5) == 0 {
                    None
                } else {
                    let entry = version_of(id, step, &mut random, &mut addresses);
                    model.push(entry.clone());
                    Some(entry)
                };
                changes.push(AccountChange {
                    id: id.clone(),
                    entry,
                });
            }
            let before = (step % 500 == 0).then(|| full_view(&directory, &addresses, &ids));
            let next = directory.with_changes(changes);
            let compacted = next.accounts.appended_len() < directory.accounts.appended_len();
            compactions += usize::from(compacted);
            if let Some(before) = before {
                assert_eq!(
                    before,
                    full_view(&directory, &addresses, &ids),
                    "step {step}: the directory in force changed"
                );
            }
            directory = next;
            if compacted || step % 100 == 0 {
                let fresh = Directory::build(model.clone(), &rules);
                assert_eq!(
                    full_view(&directory, &addresses, &ids),
                    full_view(&fresh, &addresses, &ids),
                    "step {step}"
                );
            }
        }
        assert!(compactions >= 1, "the sequence crosses a compaction");
        assert!(directory
            .findings()
            .iter()
            .any(|f| f.message.contains("licence sharing")));
    }
}
