//! `[lists] block` (SPEC §10 `blocked-sender`): addresses and domains whose mail is refused.
//!
//! Entries are `addr@domain` (that address, with any `+tag`), `domain` (that domain only) or
//! `*.domain` (every subdomain of it, not the domain itself: list both to block both).
//! Domains are compared in their IDNA ASCII form, case-insensitively.

use crate::address::{normalize_domain, AddressRules, NormalizedAddress};
use std::collections::HashSet;

/// The parsed block list. Built by `config` (which reports bad entries), read by the policy.
#[derive(Debug, Clone, Default)]
pub struct BlockList {
    addresses: HashSet<NormalizedAddress>,
    domains: HashSet<String>,
    /// `*.x.example` as `.x.example`: a domain ending with it is a subdomain.
    suffixes: Vec<String>,
}

impl BlockList {
    /// Adds one entry as written in the configuration; `Err` says what is wrong with it.
    pub fn add(&mut self, entry: &str, rules: &AddressRules) -> Result<(), String> {
        let entry = entry.trim();
        if entry.is_empty() {
            return Err("empty entry: expected addr@domain, domain or *.domain".into());
        }
        if entry.contains('@') {
            let rules = AddressRules {
                strip_subaddress: true,
                ..rules.clone()
            };
            let address = NormalizedAddress::parse(entry, &rules)
                .map_err(|e| format!("{entry:?}: not an address ({e})"))?;
            self.addresses.insert(address);
            return Ok(());
        }
        let (wildcard, domain) = match entry.strip_prefix("*.") {
            Some(rest) => (true, rest),
            None => (false, entry),
        };
        if domain.contains('*') {
            return Err(format!(
                "{entry:?}: a wildcard is allowed only as the first label, as in *.example.com"
            ));
        }
        let domain = normalize_domain(domain).map_err(|e| format!("{entry:?}: {e}"))?;
        if !domain.contains('.') {
            return Err(format!(
                "{entry:?}: a domain needs at least two labels (a whole top-level domain is not blocked)"
            ));
        }
        if wildcard {
            self.suffixes.push(format!(".{domain}"));
        } else {
            self.domains.insert(domain);
        }
        Ok(())
    }

    pub fn is_empty(&self) -> bool {
        self.addresses.is_empty() && self.domains.is_empty() && self.suffixes.is_empty()
    }

    /// Whether `address` is blocked: listed itself (its `+tag` removed), or its domain is.
    pub fn blocks(&self, address: &NormalizedAddress, separator: char) -> bool {
        if self.is_empty() {
            return false;
        }
        let domain = address.domain();
        self.domains.contains(domain)
            || self.suffixes.iter().any(|s| domain.ends_with(s.as_str()))
            || self
                .addresses
                .contains(&address.without_subaddress(separator))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(entries: &[&str]) -> BlockList {
        let mut list = BlockList::default();
        for entry in entries {
            list.add(entry, &AddressRules::default()).unwrap();
        }
        list
    }

    fn addr(s: &str) -> NormalizedAddress {
        NormalizedAddress::parse(s, &AddressRules::default()).unwrap()
    }

    #[test]
    fn addresses_domains_and_subdomains() {
        let list = list(&["Spam@Bad.example", "blocked.example", "*.junk.example"]);
        let table = [
            ("spam@bad.example", true),
            ("spam+x@bad.example", true),
            ("ham@bad.example", false),
            ("anyone@BLOCKED.example", true),
            ("anyone@mail.blocked.example", false),
            ("anyone@junk.example", false),
            ("anyone@a.junk.example", true),
            ("anyone@a.b.junk.example", true),
            ("anyone@notjunk.example", false),
        ];
        for (address, blocked) in table {
            assert_eq!(list.blocks(&addr(address), '+'), blocked, "{address}");
        }
        assert!(!BlockList::default().blocks(&addr("a@b.example"), '+'));
    }

    #[test]
    fn bad_entries_say_why() {
        let mut list = BlockList::default();
        let rules = AddressRules::default();
        for (entry, expected) in [
            ("", "empty entry"),
            ("a@", "not an address"),
            ("example", "at least two labels"),
            ("*.com", "at least two labels"),
            (
                "mail.*.example",
                "wildcard is allowed only as the first label",
            ),
            ("bad domain.example", "bad domain.example"),
        ] {
            let e = list.add(entry, &rules).unwrap_err();
            assert!(e.contains(expected), "{entry:?}: {e}");
        }
    }
}
