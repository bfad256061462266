//! Replacing some accounts of a loaded directory, for a live source (`postgres`): the accounts
//! that changed are taken out, the others renumbered in one pass over the index, and the new
//! versions indexed as a file load would. The directory in force is never touched: decisions go
//! on with it while the next one is built.

use super::index::{AccountId, Directory};
use super::model::AccountEntry;
use std::collections::HashSet;

/// One account as its source has it now; `entry` is `None` when the account is gone.
#[derive(Debug, Clone)]
pub struct AccountChange {
    pub id: String,
    pub entry: Option<AccountEntry>,
}

impl Directory {
    /// A copy of this directory with `changes` applied, findings included. Costs one copy of
    /// the index and one pass over it, however many accounts change: a source applies the
    /// changes that arrived together in one call.
    pub fn with_changes(&self, changes: Vec<AccountChange>) -> Directory {
        let mut next = self.clone();
        next.apply(changes);
        next
    }

    fn apply(&mut self, changes: Vec<AccountChange>) {
        let changed: HashSet<String> = changes.iter().map(|c| c.id.clone()).collect();
        let mut new_index: Vec<Option<AccountId>> = Vec::with_capacity(self.accounts.len());
        let mut kept: AccountId = 0;
        for account in &self.accounts {
            if changed.contains(&*account.id) {
                new_index.push(None);
            } else {
                new_index.push(Some(kept));
                kept += 1;
            }
        }
        if kept as usize != self.accounts.len() {
            let mut index = 0;
            self.accounts.retain(|_| {
                let keep = new_index[index].is_some();
                index += 1;
                keep
            });
            self.by_address
                .retain(|_, listings| listings.renumber(&new_index));
            self.by_id
                .retain(|_, account| renumber(&new_index, account));
            self.by_host
                .retain(|_, account| renumber(&new_index, account));
        }
        self.account_findings
            .retain(|finding| !changed.contains(&finding.account));
        for entry in changes.into_iter().filter_map(|change| change.entry) {
            self.add_account(entry);
        }
        self.check_all();
    }
}

/// Gives `account` its new index; false when it has none (the account was taken out).
fn renumber(new_index: &[Option<AccountId>], account: &mut AccountId) -> bool {
    match new_index.get(*account as usize).copied().flatten() {
        Some(new) => {
            *account = new;
            true
        }
        None => false,
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

    /// Everything a decision can see, by account id rather than index, for comparison.
    fn view(dir: &Directory, addresses: &[&str]) -> Vec<String> {
        let rules = AddressRules::default();
        let mut lines = Vec::new();
        for raw in addresses {
            let address = NormalizedAddress::parse(raw, &rules).unwrap();
            let mut here: Vec<String> = dir
                .listings(&address)
                .iter()
                .map(|l| {
                    let id = &dir.account(l.account()).id;
                    match *l {
                        crate::directory::AddressListing::Agent {
                            account,
                            agent,
                            primary,
                        } => format!("agent {id} {} {primary}", dir.agent(account, agent).name),
                        other => {
                            format!("{other:?}")
                                .split(' ')
                                .next()
                                .unwrap_or("")
                                .to_string()
                                + " "
                                + id
                        }
                    }
                })
                .collect();
            here.sort();
            lines.push(format!("{raw}: {here:?}"));
        }
        for id in ["a", "b", "c", "d"] {
            let host = dir.account_by_host(&format!("{id}.example"));
            let by_id = dir.account_by_id(id);
            lines.push(format!(
                "{id}: by id {:?}, by host {:?}",
                by_id.map(|a| &*dir.account(a).id),
                host.map(|a| &*dir.account(a).id)
            ));
        }
        let mut findings: Vec<String> = dir.findings().iter().map(ToString::to_string).collect();
        findings.sort();
        lines.extend(findings);
        lines
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
        assert_eq!(patched.accounts().len(), 3);
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
}
