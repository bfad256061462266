//! Consistency checks over a loaded directory: what `supportgate directory lint` reports.

use super::finding::Finding;
use super::index::{AccountId, AddressListing, Directory};
use super::model::Role;
use crate::address::NormalizedAddress;
use std::collections::BTreeSet;

/// The checks of one account once it is indexed: no owner, licence sharing (P5), helpdesk or
/// group addresses that are also on a profile (P2/P3).
///
/// Listings are compared within one account only. An address registered on two different
/// accounts (a consultant, an agency working for several customers) is legitimate and is not a
/// finding: the policy handles it per message, refusing with `ambiguous-account` (P8) only when
/// the mail does not say which account it concerns. So an account's findings depend on that
/// account alone, and a live source re-checks only the accounts that changed.
pub(super) fn account_checks(dir: &Directory, account: AccountId) -> Vec<Finding> {
    let mut findings = Vec::new();
    let entry = dir.account(account);
    let id = &entry.id;
    if !entry.agents.iter().any(|a| a.role == Role::Owner) {
        findings.push(Finding::error(id, "account has no owner".to_string()));
    }
    // Sorted so that the report is stable from one run to the next.
    let addresses: BTreeSet<&NormalizedAddress> = entry
        .agents
        .iter()
        .flat_map(|agent| agent.emails.iter())
        .chain(entry.own_addresses.iter())
        .collect();
    for address in addresses {
        let here: Vec<&AddressListing> = dir
            .listings(address)
            .iter()
            .filter(|l| l.account() == account)
            .collect();
        if here.len() < 2 {
            continue;
        }
        let profiles: Vec<&str> = here
            .iter()
            .filter_map(|l| match l {
                AddressListing::Agent { agent, .. } => Some(&*dir.agent(account, *agent).name),
                _ => None,
            })
            .collect();
        if profiles.len() > 1 {
            findings.push(Finding::error(
                id,
                format!(
                    "{address} is on {} profiles ({}): licence sharing",
                    profiles.len(),
                    profiles.join(", ")
                ),
            ));
        }
        if !profiles.is_empty() {
            for kind in here.iter().filter_map(|l| match l {
                AddressListing::Helpdesk { .. } => Some("helpdesk"),
                AddressListing::Group { .. } => Some("group"),
                _ => None,
            }) {
                findings.push(Finding::error(
                    id,
                    format!(
                        "{address} is a {kind} address and also on the profile of {}",
                        profiles[0]
                    ),
                ));
            }
        }
    }
    findings
}
