//! Consistency checks over a loaded directory: what `supportgate directory lint` reports.

use super::finding::Finding;
use super::index::{AddressListing, Directory};
use super::model::Role;
use std::collections::BTreeSet;

/// Checks that need the whole index: licence sharing (P5), helpdesk or group addresses that are
/// also on a profile (P2/P3), accounts without an owner.
///
/// Listings are compared within one account only. An address registered on two different
/// accounts (a consultant, an agency working for several customers) is legitimate and is not a
/// finding: the policy handles it per message, refusing with `ambiguous-account` (P8) only when
/// the mail does not say which account it concerns.
pub(super) fn cross_checks(dir: &Directory) -> Vec<Finding> {
    let mut findings = Vec::new();
    for account in dir.accounts() {
        if !account.agents.iter().any(|a| a.role == Role::Owner) {
            findings.push(Finding::error(
                &account.id,
                "account has no owner".to_string(),
            ));
        }
    }
    // Sorted so that the report is stable from one run to the next.
    let mut sorted: Vec<_> = dir.all_listings().filter(|(_, l)| l.len() > 1).collect();
    sorted.sort_by(|a, b| a.0.cmp(b.0));
    for (address, listings) in sorted {
        let accounts: BTreeSet<_> = listings.iter().map(AddressListing::account).collect();
        for account in accounts {
            let here: Vec<_> = listings.iter().filter(|l| l.account() == account).collect();
            let profiles: Vec<&str> = here
                .iter()
                .filter_map(|l| match l {
                    AddressListing::Agent { agent, .. } => Some(&*dir.agent(account, *agent).name),
                    _ => None,
                })
                .collect();
            let id = &dir.account(account).id;
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
    }
    findings
}
