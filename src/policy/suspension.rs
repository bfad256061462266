//! The suspension causes of SPEC §10, as pure checks over facts the rules already have:
//! `automated`, `no-reply-sender`, `mail-loop` (over a [`SenderHistory`] that the pipeline
//! reads from the state store and passes in) and `unregistered-reply-to`. `blocked-sender`
//! is [`super::block_list`]; `account-inactive` reads the directory's account status.

use super::facts::MessageFacts;
use super::AuthResult;
use crate::address::NormalizedAddress;
use crate::directory::{AccountId, AddressListing, Directory};

/// What the state store knew about the sender when this message arrived (SPEC §10
/// `mail-loop`). The policy core only reads it: counting and blocking are the pipeline's IO.
/// `supportgate check` has no state: its default is a sender never seen before.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SenderHistory {
    /// Messages from this sender within `[limits] sender_window`, before this one.
    pub recent_messages: u32,
    /// This Message-ID already came from this sender within the window.
    pub repeated_message_id: bool,
    /// The sender is held back until then (Unix seconds), if a block was started.
    pub blocked_until: Option<u64>,
}

impl SenderHistory {
    /// Whether this message is part of a mail loop: the sender is blocked, this message is
    /// one more than `limit` within the window, or its Message-ID came before.
    pub fn is_loop(&self, now: u64, limit: u32) -> bool {
        self.blocked_until.is_some_and(|until| until > now)
            || self.repeated_message_id
            || self.recent_messages >= limit
    }
}

/// The key the state store counts a sender under: the address case-folded, `+tag` removed
/// (`robot+1@` … `robot+99@` are one sender), whatever `[addresses] local_part_case` says.
pub fn sender_history_key(sender: &NormalizedAddress, separator: char) -> String {
    sender.without_subaddress(separator).as_str().to_lowercase()
}

/// The sender whose messages count toward `mail-loop`: a usable From (P7 holds) whose identity
/// is authenticated (P6). A forged From never counts, so nobody can get a real agent blocked
/// by sending mail in their name.
pub fn tracked_sender(
    facts: &MessageFacts,
    auth: &AuthResult,
    directory: &Directory,
    require_dmarc: bool,
) -> Option<NormalizedAddress> {
    if !facts.duplicated_headers.is_empty() {
        return None;
    }
    let sender = super::rules::sender_address(facts, directory.address_rules())?;
    auth.authenticates(sender.domain(), require_dmarc)
        .then_some(sender)
}

/// The subject lists of `[lists] out_of_office_subjects`, already lower-cased.
fn is_out_of_office_subject(subject: &str, patterns: &[String]) -> bool {
    let subject = subject.trim_start();
    if subject.is_empty() || patterns.is_empty() {
        return false;
    }
    let lower = subject.to_lowercase();
    let bracketed = lower.strip_prefix('[');
    patterns.iter().any(|pattern| {
        // "Automatic reply: …", "Réponse automatique : …", "Out of Office" alone, or
        // "[Out of Office] …"; not "Automatic reply settings do not work" from a person.
        let plain = lower.strip_prefix(pattern.as_str()).is_some_and(|rest| {
            let rest = rest.trim_start();
            rest.is_empty() || rest.starts_with([':', '\u{FF1A}'])
        });
        plain
            || bracketed
                .and_then(|b| b.strip_prefix(pattern.as_str()))
                .is_some_and(|rest| rest.starts_with(']'))
    })
}

/// Whether the message was generated or sent by a machine (SPEC §10 `automated`):
/// `Auto-Submitted` other than `no` (RFC 3834), an auto-responder header, `Precedence:
/// auto_reply`, a delivery or read report (`multipart/report`, RFC 6522), or an out-of-office
/// Subject. `X-Auto-Response-Suppress` alone is not one: Outlook puts it on people's mail too;
/// Exchange's auto-replies carry `Auto-Submitted` beside it, which is.
pub fn is_automated(facts: &MessageFacts, out_of_office_subjects: &[String]) -> bool {
    facts.auto_submitted.as_deref().is_some_and(|v| v != "no")
        || facts.autoresponder_header.is_some()
        || facts.precedence.as_deref() == Some("auto_reply")
        || facts.report_type.is_some()
        || is_out_of_office_subject(&facts.subject, out_of_office_subjects)
}

/// Whether the sender's local part, `+tag` removed, is one of `[lists] no_reply_local_parts`
/// (already lower-cased).
pub fn is_no_reply_sender(
    sender: &NormalizedAddress,
    local_parts: &[String],
    separator: char,
) -> bool {
    let (local, _) = sender.split_subaddress(separator);
    local_parts.iter().any(|l| l.eq_ignore_ascii_case(local))
}

/// Whether `Reply-To` or `Sender` names an address that is neither the sender nor on a profile
/// of a registered agent of `account` (SPEC §10 `unregistered-reply-to`). An address that is
/// not an address at all counts as unregistered: the helpdesk would answer something unknown.
pub fn names_unregistered_address(
    facts: &MessageFacts,
    sender: &NormalizedAddress,
    account: AccountId,
    directory: &Directory,
) -> bool {
    let rules = directory.address_rules();
    facts.reply_to.iter().chain(facts.sender_header.iter()).any(
        |raw| match NormalizedAddress::parse(raw, rules) {
            Err(_) => true,
            Ok(address) if address == *sender => false,
            Ok(address) => !directory
                .listings(&address)
                .iter()
                .any(|l| matches!(*l, AddressListing::Agent { account: a, .. } if a == account)),
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lower(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_lowercase()).collect()
    }

    #[test]
    fn out_of_office_subjects_match_as_a_prefix_before_a_colon() {
        let patterns = lower(&["Out of Office", "Automatic reply", "Réponse automatique"]);
        let table = [
            ("Automatic reply: Printer broken", true),
            ("automatic REPLY:Printer", true),
            ("Out of Office", true),
            ("  Out of office : back on Monday", true),
            ("[Out of Office] back Monday", true),
            ("Réponse automatique : Imprimante", true),
            ("RÉPONSE AUTOMATIQUE: x", true),
            ("Automatic reply settings do not work", false),
            ("Re: Automatic reply: Printer", false),
            ("Question about out of office", false),
            ("", false),
        ];
        for (subject, expected) in table {
            assert_eq!(
                is_out_of_office_subject(subject, &patterns),
                expected,
                "{subject:?}"
            );
        }
    }

    #[test]
    fn a_loop_is_a_block_a_repeated_id_or_one_message_too_many() {
        let now = 1000;
        let seen = |recent_messages, repeated_message_id, blocked_until| SenderHistory {
            recent_messages,
            repeated_message_id,
            blocked_until,
        };
        assert!(!SenderHistory::default().is_loop(now, 20));
        assert!(!seen(19, false, None).is_loop(now, 20), "the 20th message");
        assert!(seen(20, false, None).is_loop(now, 20), "the 21st message");
        assert!(seen(0, true, None).is_loop(now, 20));
        assert!(seen(0, false, Some(1001)).is_loop(now, 20));
        assert!(!seen(0, false, Some(1000)).is_loop(now, 20), "block over");
    }

    #[test]
    fn only_a_usable_authenticated_sender_is_tracked() {
        use crate::policy::{AuthSource, FromHeader};
        let directory = Directory::default();
        let facts = |from: &str| MessageFacts {
            from: Some(FromHeader::Mailbox(from.into())),
            ..MessageFacts::default()
        };
        let off = AuthResult::with_source(AuthSource::Off);
        let forged = AuthResult::with_source(AuthSource::NotVerified);
        assert!(tracked_sender(&facts("a@x.example"), &off, &directory, false).is_some());
        assert!(tracked_sender(&facts("a@x.example"), &forged, &directory, false).is_none());
        assert!(tracked_sender(&facts("not an address"), &off, &directory, false).is_none());
        let mut twice = facts("a@x.example");
        twice.duplicated_headers.push("From");
        assert!(tracked_sender(&twice, &off, &directory, false).is_none());
    }

    #[test]
    fn history_keys_are_case_folded_and_untagged() {
        let rules = crate::address::AddressRules {
            case_insensitive_local_part: false,
            ..Default::default()
        };
        let a = NormalizedAddress::parse("Robot+1@Acme.example", &rules).unwrap();
        let b = NormalizedAddress::parse("robot+2@acme.example", &rules).unwrap();
        assert_eq!(sender_history_key(&a, '+'), sender_history_key(&b, '+'));
        assert_eq!(sender_history_key(&a, '+'), "robot@acme.example");
    }
}
