//! Who gets the auto-reply (SPEC §5): never an address the sender has not authenticated. A
//! reply to a forged reverse-path is backscatter — it makes the gateway a spam cannon aimed at
//! whoever's address was forged. The reverse-path gets the reply only when SPF passed for it
//! and its domain is aligned with the From domain; otherwise the reply goes to the From
//! address, which P6 authenticated.

use super::authentication::{relaxed_aligned, AuthOutcome, AuthResult, AuthSource, SpfIdentity};
use super::decision::Suppression;
use crate::address::NormalizedAddress;

/// The reply's recipient for a message with envelope sender `mail_from` and From `from`:
/// `Err` when there is nobody to answer (the null reverse-path, RFC 3834 §2, or a
/// reverse-path that is not an address).
pub fn reply_address(
    mail_from: Option<&str>,
    from: Option<&NormalizedAddress>,
    auth: &AuthResult,
    rules: &crate::address::AddressRules,
) -> Result<NormalizedAddress, Suppression> {
    let path = mail_from.ok_or(Suppression::NullReversePath)?;
    let path =
        NormalizedAddress::parse(path, rules).map_err(|_| Suppression::InvalidReversePath)?;
    match from {
        Some(from) if !reverse_path_authenticated(auth, &path, from) => Ok(from.clone()),
        _ => Ok(path),
    }
}

/// SPF passed for the reverse-path's own domain (our verification, or the trusted relay's
/// `spf=pass smtp.mailfrom=…`), and that domain is aligned with the From domain. With
/// authentication `off` or assumed, alignment alone decides.
pub fn reverse_path_authenticated(
    auth: &AuthResult,
    path: &NormalizedAddress,
    from: &NormalizedAddress,
) -> bool {
    let aligned = relaxed_aligned(path.domain(), from.domain());
    match auth.source {
        AuthSource::Off | AuthSource::Assumed => aligned,
        AuthSource::NotVerified => false,
        AuthSource::TrustedHeader | AuthSource::Verified => {
            let spf_domain = auth
                .spf
                .domain
                .as_deref()
                .map(|d| d.rsplit('@').next().unwrap_or(d).trim_end_matches('.'));
            aligned
                && auth.spf_identity == SpfIdentity::MailFrom
                && auth.spf.result == AuthOutcome::Pass
                && spf_domain.is_some_and(|d| d.eq_ignore_ascii_case(path.domain()))
        }
    }
}

/// The key under which the reply memory remembers a reply: the address that got it, with any
/// `+tag` removed (`victim+1@` … `victim+6@` are one person), and the reason.
pub fn reply_memory_key(to: &NormalizedAddress, separator: char) -> NormalizedAddress {
    to.without_subaddress(separator)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::address::AddressRules;
    use crate::policy::MethodResult;

    fn addr(s: &str) -> NormalizedAddress {
        NormalizedAddress::parse(s, &AddressRules::default()).unwrap()
    }

    fn verified(spf: AuthOutcome, spf_domain: &str) -> AuthResult {
        AuthResult {
            spf: MethodResult::new(spf, Some(spf_domain.into())),
            ..AuthResult::with_source(AuthSource::Verified)
        }
    }

    #[test]
    fn the_reverse_path_gets_the_reply_only_when_authenticated_and_aligned() {
        let from = addr("mallory@evil.example");
        let rules = AddressRules::default();
        let rows: [(&str, AuthResult, &str); 7] = [
            // The backscatter case: forged victim, SPF -all.
            (
                "victim+1@victim.example",
                verified(AuthOutcome::Fail, "victim.example"),
                "mallory@evil.example",
            ),
            // SPF passes for the victim's domain, but it is not the From domain.
            (
                "victim@victim.example",
                verified(AuthOutcome::Pass, "victim.example"),
                "mallory@evil.example",
            ),
            // Aligned and SPF pass: the bounce address of the From domain gets it.
            (
                "bounces@mail.evil.example",
                verified(AuthOutcome::Pass, "mail.evil.example"),
                "bounces@mail.evil.example",
            ),
            // Aligned but SPF neutral: not authenticated.
            (
                "bounces@evil.example",
                verified(AuthOutcome::Neutral, "evil.example"),
                "mallory@evil.example",
            ),
            // SPF passed for another domain than the path's.
            (
                "bounces@evil.example",
                verified(AuthOutcome::Pass, "other.example"),
                "mallory@evil.example",
            ),
            // Authentication off: alignment decides.
            (
                "bounces-mallory@evil.example",
                AuthResult::with_source(AuthSource::Off),
                "bounces-mallory@evil.example",
            ),
            (
                "victim@victim.example",
                AuthResult::with_source(AuthSource::Off),
                "mallory@evil.example",
            ),
        ];
        for (path, auth, expected) in rows {
            let to = reply_address(Some(path), Some(&from), &auth, &rules).unwrap();
            assert_eq!(to.to_string(), expected, "{path} {auth:?}");
        }
        assert_eq!(
            reply_address(
                None,
                Some(&from),
                &AuthResult::with_source(AuthSource::Off),
                &rules
            ),
            Err(Suppression::NullReversePath)
        );
    }

    #[test]
    fn trusted_relay_spf_names_an_address_or_a_domain() {
        let from = addr("ann@acme.example");
        let path = addr("ann+bounce@acme.example");
        for spf_domain in ["acme.example", "ann+bounce@acme.example"] {
            let auth = AuthResult {
                spf: MethodResult::new(AuthOutcome::Pass, Some(spf_domain.into())),
                ..AuthResult::with_source(AuthSource::TrustedHeader)
            };
            assert!(
                reverse_path_authenticated(&auth, &path, &from),
                "{spf_domain}"
            );
        }
    }

    #[test]
    fn memory_keys_forget_the_tag() {
        let a = reply_memory_key(&addr("victim+1@victim.example"), '+');
        let b = reply_memory_key(&addr("Victim+6@victim.example"), '+');
        assert_eq!(a, b);
        assert_eq!(a.to_string(), "victim@victim.example");
    }
}
