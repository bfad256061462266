//! Email address normalisation: the one way addresses are compared everywhere (SPEC §3
//! "Address comparison"). Domains are compared after IDNA to-ASCII and lower-casing; local parts
//! case-insensitively unless configured; a sender's sub-address tag is kept unless configured.

use std::fmt;

/// How local parts are compared; built from `[addresses]` in the configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddressRules {
    /// Compare local parts without regard to case (`alice@` = `Alice@`). Default true.
    pub case_insensitive_local_part: bool,
    /// Drop a `+tag` from senders' local parts before lookup. Default false.
    pub strip_subaddress: bool,
    /// The sub-address separator, `+` by default.
    pub subaddress_separator: char,
}

impl Default for AddressRules {
    fn default() -> Self {
        AddressRules {
            case_insensitive_local_part: true,
            strip_subaddress: false,
            subaddress_separator: '+',
        }
    }
}

/// An address in its comparison form: `local@ascii-domain`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NormalizedAddress(Box<str>);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AddressError {
    #[error("no @ in address")]
    MissingAt,
    #[error("empty local part")]
    EmptyLocalPart,
    #[error("local part longer than 64 octets")]
    LocalPartTooLong,
    #[error("invalid character in local part")]
    InvalidLocalPart,
    #[error("invalid domain")]
    InvalidDomain,
}

impl NormalizedAddress {
    /// Normalises `raw` (an addr-spec, without display name or angle brackets).
    pub fn parse(raw: &str, rules: &AddressRules) -> Result<Self, AddressError> {
        let raw = raw.trim();
        let at = raw.rfind('@').ok_or(AddressError::MissingAt)?;
        let (local, domain) = (&raw[..at], &raw[at + 1..]);
        let mut address = normalize_local_part(local, rules)?;
        let domain = normalize_domain(domain)?;
        address.reserve_exact(1 + domain.len());
        address.push('@');
        address.push_str(&domain);
        Ok(NormalizedAddress(address.into_boxed_str()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn local_part(&self) -> &str {
        self.0.rsplit_once('@').map_or(&self.0, |(local, _)| local)
    }

    pub fn domain(&self) -> &str {
        self.0.rsplit_once('@').map_or("", |(_, domain)| domain)
    }

    /// The local part without its `+tag`, and the tag if there is one.
    pub fn split_subaddress(&self, separator: char) -> (&str, Option<&str>) {
        let local = self.local_part();
        match local.split_once(separator) {
            Some((base, tag)) if !base.is_empty() => (base, Some(tag)),
            _ => (local, None),
        }
    }

    /// This address with its `+tag` removed.
    pub fn without_subaddress(&self, separator: char) -> NormalizedAddress {
        match self.split_subaddress(separator) {
            (base, Some(_)) => NormalizedAddress(format!("{base}@{}", self.domain()).into()),
            _ => self.clone(),
        }
    }
}

impl fmt::Display for NormalizedAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The content of a quoted local part, unescaped, when it is a valid dot-atom.
fn unquote_dot_atom(local: &str) -> Option<String> {
    let inner = local.strip_prefix('"')?.strip_suffix('"')?;
    let mut content = String::with_capacity(inner.len());
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        content.push(if c == '\\' { chars.next()? } else { c });
    }
    let dot_atom = !content.is_empty()
        && !content.starts_with('.')
        && !content.ends_with('.')
        && !content.contains("..")
        && content.chars().all(is_atext_or_dot);
    dot_atom.then_some(content)
}

fn normalize_local_part(local: &str, rules: &AddressRules) -> Result<String, AddressError> {
    if local.is_empty() {
        return Err(AddressError::EmptyLocalPart);
    }
    if local.len() > 64 {
        return Err(AddressError::LocalPartTooLong);
    }
    // RFC 5321 §4.1.2: `"alice"@` is the mailbox `alice@` when the quoted content is a plain
    // dot-atom (quoting changes nothing then); otherwise the quotes are part of the name.
    let unquoted = unquote_dot_atom(local);
    let local = unquoted.as_deref().unwrap_or(local);
    let quoted = local.len() >= 2 && local.starts_with('"') && local.ends_with('"');
    if !quoted
        && (local.starts_with('.')
            || local.ends_with('.')
            || local.contains("..")
            || local.chars().any(|c| !is_atext_or_dot(c)))
    {
        return Err(AddressError::InvalidLocalPart);
    }
    if local.chars().any(|c| c.is_control()) {
        return Err(AddressError::InvalidLocalPart);
    }
    let mut local = if rules.case_insensitive_local_part {
        if local.is_ascii() {
            local.to_ascii_lowercase()
        } else {
            local.to_lowercase()
        }
    } else {
        local.to_string()
    };
    if rules.strip_subaddress && !quoted {
        if let Some((base, _tag)) = local.split_once(rules.subaddress_separator) {
            if !base.is_empty() {
                local.truncate(base.len());
            }
        }
    }
    Ok(local)
}

/// RFC 5322 atext, plus '.' and any non-ASCII character (RFC 6532 internationalised local parts).
fn is_atext_or_dot(c: char) -> bool {
    c.is_ascii_alphanumeric() || "!#$%&'*+-/=?^_`{|}~.".contains(c) || !c.is_ascii()
}

/// IDNA to ASCII and lower case; refuses IP literals, empty labels and trailing dots.
pub fn normalize_domain(domain: &str) -> Result<String, AddressError> {
    if domain.is_empty() || domain.starts_with('[') || domain.ends_with('.') {
        return Err(AddressError::InvalidDomain);
    }
    let ascii = match plain_ascii_domain(domain) {
        Some(lower) => lower,
        None => idna::domain_to_ascii(domain).map_err(|_| AddressError::InvalidDomain)?,
    };
    checked_ascii_domain(ascii)
}

/// `ascii` if it is a valid host name: labels of letters, digits and inner hyphens, 1–63
/// characters each, 253 in all.
fn checked_ascii_domain(ascii: String) -> Result<String, AddressError> {
    let valid_labels = ascii.split('.').all(|label| {
        !label.is_empty()
            && label.len() <= 63
            && !label.starts_with('-')
            && !label.ends_with('-')
            && label
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-')
    });
    if ascii.is_empty() || ascii.len() > 253 || !valid_labels {
        return Err(AddressError::InvalidDomain);
    }
    Ok(ascii)
}

/// The lower-case form of a domain that is letters, digits, hyphens and dots only, with no
/// `xn--` label: what IDNA gives such a domain, without its tables (most of the cost of parsing
/// an address). `None` sends the domain through IDNA.
fn plain_ascii_domain(domain: &str) -> Option<String> {
    let plain = domain
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
        && !domain
            .split('.')
            .any(|label| label.len() >= 4 && label[..4].eq_ignore_ascii_case("xn--"));
    plain.then(|| domain.to_ascii_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_ascii_domains_take_the_short_way_to_what_idna_gives() {
        for domain in [
            "acme.example",
            "ACME.Example",
            "a-b.example",
            "ab--cd.example",
            "-lead.example",
            "trail-.example",
            "a..b",
            ".lead",
            "1.2.3.4",
            "x",
            "XN--bcher-kva.example",
            "xn--bcher-kva.example",
            "xn--zz.example",
            "b\u{fc}cher.example",
            "under_score.example",
            "sp ace.example",
        ] {
            let plain = domain
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
                && !domain.to_ascii_lowercase().contains("xn--");
            assert_eq!(plain_ascii_domain(domain).is_some(), plain, "{domain}");
            assert_eq!(
                normalize_domain(domain),
                normalize_domain_through_idna(domain),
                "{domain}"
            );
        }
        assert_eq!(
            normalize_domain("Acme.EXAMPLE").as_deref(),
            Ok("acme.example")
        );
        assert!(normalize_domain("a..b").is_err());
        assert!(normalize_domain("-lead.example").is_err());
        assert_eq!(
            normalize_domain("B\u{fc}cher.example").as_deref(),
            Ok("xn--bcher-kva.example")
        );
    }

    /// `normalize_domain` as it was before the short way: IDNA for every domain.
    fn normalize_domain_through_idna(domain: &str) -> Result<String, AddressError> {
        if domain.is_empty() || domain.starts_with('[') || domain.ends_with('.') {
            return Err(AddressError::InvalidDomain);
        }
        checked_ascii_domain(
            idna::domain_to_ascii(domain).map_err(|_| AddressError::InvalidDomain)?,
        )
    }

    fn norm(raw: &str) -> Result<String, AddressError> {
        NormalizedAddress::parse(raw, &AddressRules::default()).map(|a| a.to_string())
    }

    #[test]
    fn a_quoted_dot_atom_is_the_same_mailbox() {
        assert_eq!(
            norm("\"alice\"@acme.example"),
            Ok("alice@acme.example".into())
        );
        assert_eq!(
            norm("\"Alice.Martin\"@acme.example"),
            Ok("alice.martin@acme.example".into())
        );
        assert_eq!(
            norm("\"al\\ice\"@acme.example"),
            Ok("alice@acme.example".into())
        );
        // Quoting that matters stays: a space, two dots.
        assert_eq!(
            norm("\"a b\"@acme.example"),
            Ok("\"a b\"@acme.example".into())
        );
        assert_eq!(
            norm("\"a..b\"@acme.example"),
            Ok("\"a..b\"@acme.example".into())
        );
    }

    #[test]
    fn normalises_case_and_idna() {
        let cases = [
            ("Alice@ACME.example", Ok("alice@acme.example")),
            ("bob@Bücher.example", Ok("bob@xn--bcher-kva.example")),
            ("bob+tag@acme.example", Ok("bob+tag@acme.example")),
            ("  carol@acme.example ", Ok("carol@acme.example")),
            ("nobody", Err(AddressError::MissingAt)),
            ("@acme.example", Err(AddressError::EmptyLocalPart)),
            ("a..b@acme.example", Err(AddressError::InvalidLocalPart)),
            ("a b@acme.example", Err(AddressError::InvalidLocalPart)),
            ("a@[127.0.0.1]", Err(AddressError::InvalidDomain)),
            ("a@acme.example.", Err(AddressError::InvalidDomain)),
            ("a@acme..example", Err(AddressError::InvalidDomain)),
            ("a@-acme.example", Err(AddressError::InvalidDomain)),
        ];
        for (raw, expected) in cases {
            assert_eq!(norm(raw), expected.map(str::to_string), "{raw}");
        }
    }

    #[test]
    fn rules_change_local_part_handling() {
        let sensitive = AddressRules {
            case_insensitive_local_part: false,
            strip_subaddress: true,
            subaddress_separator: '+',
        };
        let addr = NormalizedAddress::parse("Bob+Tickets@Acme.Example", &sensitive).unwrap();
        assert_eq!(addr.as_str(), "Bob@acme.example");
    }

    #[test]
    fn splits_subaddress() {
        let addr =
            NormalizedAddress::parse("support+acme@vendor.example", &AddressRules::default())
                .unwrap();
        assert_eq!(addr.split_subaddress('+'), ("support", Some("acme")));
        assert_eq!(
            addr.without_subaddress('+').as_str(),
            "support@vendor.example"
        );
    }
}
