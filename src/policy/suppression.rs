//! The never-reply rules of SPEC §5 (RFC 3834 §2): who must not get an auto-reply.

use super::decision::{Reason, Suppression};
use super::facts::MessageFacts;
use crate::address::NormalizedAddress;

/// What the policy may ask of the reply memory (the store itself lives outside the core).
pub trait ReplyMemoryView {
    /// Whether a reply for `reason` went to `recipient` at or after `since` (Unix seconds).
    fn replied_since(&self, recipient: &NormalizedAddress, reason: Reason, since: u64) -> bool;
}

/// A reply memory that remembers nothing: for `check` and tests.
pub struct NoReplyMemory;

impl ReplyMemoryView for NoReplyMemory {
    fn replied_since(&self, _: &NormalizedAddress, _: Reason, _: u64) -> bool {
        false
    }
}

/// Local parts that belong to mail systems, not people (RFC 3834 §2, RFC 2142).
fn is_system_local_part(local: &str) -> bool {
    let local = local.to_ascii_lowercase();
    local == "mailer-daemon"
        || local == "postmaster"
        || local.ends_with("-request")
        || local.starts_with("owner-")
}

/// `X-Auto-Response-Suppress` values that ask not to send auto-replies (Microsoft's header).
fn asks_no_auto_reply(value: &str) -> bool {
    value
        .split(|c: char| c == ',' || c.is_whitespace())
        .any(|v| matches!(v, "all" | "autoreply" | "oof"))
}

/// Checks, in SPEC order, whether a reply to `to`, the envelope sender, must not go out (a null
/// or unusable reverse-path is told before: there is no `to`). `subaddress_separator` is the
/// one the gateway accepts its own recipients with: `support+acme@` is as much our own address
/// as `support@`.
pub fn reply_suppression(
    to: &NormalizedAddress,
    facts: &MessageFacts,
    sender_authenticated: bool,
    own_addresses: &[NormalizedAddress],
    subaddress_separator: char,
) -> Option<Suppression> {
    if facts.auto_submitted.as_deref().is_some_and(|v| v != "no") {
        return Some(Suppression::AutoSubmitted);
    }
    // The other marks of automatic mail (SPEC §10 `automated`), whatever the reason.
    if facts.autoresponder_header.is_some()
        || facts.report_type.is_some()
        || facts.precedence.as_deref() == Some("auto_reply")
    {
        return Some(Suppression::Automated);
    }
    if facts.has_list_header {
        return Some(Suppression::ListHeader);
    }
    if facts
        .precedence
        .as_deref()
        .is_some_and(|p| matches!(p, "bulk" | "junk" | "list"))
    {
        return Some(Suppression::PrecedenceBulk);
    }
    if facts
        .auto_response_suppress
        .as_deref()
        .is_some_and(asks_no_auto_reply)
    {
        return Some(Suppression::AutoResponseSuppress);
    }
    // `MAILER-DAEMON+x@` is a mail system too.
    if is_system_local_part(to.without_subaddress(subaddress_separator).local_part()) {
        return Some(Suppression::SystemSender);
    }
    let untagged = to.without_subaddress(subaddress_separator);
    if own_addresses
        .iter()
        .any(|own| own.without_subaddress(subaddress_separator) == untagged)
    {
        return Some(Suppression::OwnAddress);
    }
    if !sender_authenticated {
        return Some(Suppression::Unauthenticated);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::address::AddressRules;

    fn addr(s: &str) -> NormalizedAddress {
        NormalizedAddress::parse(s, &AddressRules::default()).unwrap()
    }

    #[test]
    fn each_rule_has_its_own_reason() {
        let own = [
            addr("no-reply@vendor.example"),
            addr("support@vendor.example"),
        ];
        let person = addr("bob@acme.example");
        let base = MessageFacts::default();
        let with = |f: fn(&mut MessageFacts)| {
            let mut facts = base.clone();
            f(&mut facts);
            facts
        };
        let table: Vec<(NormalizedAddress, MessageFacts, bool, Option<Suppression>)> = vec![
            (person.clone(), base.clone(), true, None),
            (
                person.clone(),
                with(|f| f.auto_submitted = Some("auto-replied".into())),
                true,
                Some(Suppression::AutoSubmitted),
            ),
            (
                person.clone(),
                with(|f| f.auto_submitted = Some("no".into())),
                true,
                None,
            ),
            (
                person.clone(),
                with(|f| f.autoresponder_header = Some("X-Autoreply".into())),
                true,
                Some(Suppression::Automated),
            ),
            (
                person.clone(),
                with(|f| f.report_type = Some("delivery-status".into())),
                true,
                Some(Suppression::Automated),
            ),
            (
                person.clone(),
                with(|f| f.precedence = Some("auto_reply".into())),
                true,
                Some(Suppression::Automated),
            ),
            (
                person.clone(),
                with(|f| f.has_list_header = true),
                true,
                Some(Suppression::ListHeader),
            ),
            (
                person.clone(),
                with(|f| f.precedence = Some("bulk".into())),
                true,
                Some(Suppression::PrecedenceBulk),
            ),
            (
                person.clone(),
                with(|f| f.precedence = Some("junk".into())),
                true,
                Some(Suppression::PrecedenceBulk),
            ),
            (
                person.clone(),
                with(|f| f.precedence = Some("first-class".into())),
                true,
                None,
            ),
            (
                person.clone(),
                with(|f| f.auto_response_suppress = Some("dr, autoreply".into())),
                true,
                Some(Suppression::AutoResponseSuppress),
            ),
            (
                person.clone(),
                with(|f| f.auto_response_suppress = Some("dr".into())),
                true,
                None,
            ),
            (
                addr("MAILER-DAEMON@acme.example"),
                base.clone(),
                true,
                Some(Suppression::SystemSender),
            ),
            (
                addr("postmaster@acme.example"),
                base.clone(),
                true,
                Some(Suppression::SystemSender),
            ),
            (
                addr("users-request@lists.example"),
                base.clone(),
                true,
                Some(Suppression::SystemSender),
            ),
            (
                addr("owner-users@lists.example"),
                base.clone(),
                true,
                Some(Suppression::SystemSender),
            ),
            (
                addr("no-reply@vendor.example"),
                base.clone(),
                true,
                Some(Suppression::OwnAddress),
            ),
            // Our support mailbox with an account tag, as the gateway accepts it.
            (
                addr("Support+acme@vendor.example"),
                base.clone(),
                true,
                Some(Suppression::OwnAddress),
            ),
            (
                addr("no-reply+bounce@vendor.example"),
                base.clone(),
                true,
                Some(Suppression::OwnAddress),
            ),
            (addr("support+acme@acme.example"), base.clone(), true, None),
            (addr("supporter@vendor.example"), base.clone(), true, None),
            (
                person.clone(),
                base.clone(),
                false,
                Some(Suppression::Unauthenticated),
            ),
        ];
        for (to, facts, authenticated, expected) in table {
            assert_eq!(
                reply_suppression(&to, &facts, authenticated, &own, '+'),
                expected,
                "{to:?} {facts:?}"
            );
        }
    }
}
