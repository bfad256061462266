//! The vocabulary of the policy: reason codes, verdicts, actions and the decision itself.

use crate::address::NormalizedAddress;
use crate::directory::Role;
use serde::{Serialize, Serializer};
use std::fmt;
use std::str::FromStr;

/// Why a message was accepted or refused. The spelling of [`Reason::code`] is stable (SPEC §3):
/// logs, metrics labels, forwarded headers, templates and `check` output all use it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Reason {
    Accepted,
    /// P1, the account is known.
    NotRegistered,
    /// P1, registered nowhere and no account indicated.
    UnknownSender,
    /// P2
    HelpdeskAddress,
    /// P3
    GroupAddress,
    /// P4
    AuthorizationRequired,
    /// P5
    SharedAddress,
    /// P6
    UnauthenticatedSender,
    /// P7
    MalformedSender,
    /// P8
    AmbiguousAccount,
    /// SPEC §10: the sender's address or domain is in `[lists] block`.
    BlockedSender,
    /// SPEC §10: auto-generated or auto-replied mail (out-of-office, delivery reports).
    Automated,
    /// SPEC §10: the sender's local part is a no-reply address.
    NoReplySender,
    /// SPEC §10: too many messages, or a repeated Message-ID, from one sender.
    MailLoop,
    /// SPEC §10: the account concerned is suspended or closed.
    AccountInactive,
    /// SPEC §10: `Reply-To` or `Sender` names an address on no profile of the account.
    UnregisteredReplyTo,
}

impl Reason {
    pub const ALL: [Reason; 16] = [
        Reason::Accepted,
        Reason::NotRegistered,
        Reason::UnknownSender,
        Reason::HelpdeskAddress,
        Reason::GroupAddress,
        Reason::AuthorizationRequired,
        Reason::SharedAddress,
        Reason::UnauthenticatedSender,
        Reason::MalformedSender,
        Reason::AmbiguousAccount,
        Reason::BlockedSender,
        Reason::Automated,
        Reason::NoReplySender,
        Reason::MailLoop,
        Reason::AccountInactive,
        Reason::UnregisteredReplyTo,
    ];

    pub fn code(self) -> &'static str {
        match self {
            Reason::Accepted => "accepted",
            Reason::NotRegistered => "not-registered",
            Reason::UnknownSender => "unknown-sender",
            Reason::HelpdeskAddress => "helpdesk-address",
            Reason::GroupAddress => "group-address",
            Reason::AuthorizationRequired => "authorization-required",
            Reason::SharedAddress => "shared-address",
            Reason::UnauthenticatedSender => "unauthenticated-sender",
            Reason::MalformedSender => "malformed-sender",
            Reason::AmbiguousAccount => "ambiguous-account",
            Reason::BlockedSender => "blocked-sender",
            Reason::Automated => "automated",
            Reason::NoReplySender => "no-reply-sender",
            Reason::MailLoop => "mail-loop",
            Reason::AccountInactive => "account-inactive",
            Reason::UnregisteredReplyTo => "unregistered-reply-to",
        }
    }

    /// The short, generic text used in an SMTP rejection (`550 5.7.1 <text>`).
    pub fn short_text(self) -> &'static str {
        match self {
            Reason::Accepted => "Accepted",
            Reason::NotRegistered => "Sender is not a registered agent of this account",
            Reason::UnknownSender => "Sender is not a registered agent",
            Reason::HelpdeskAddress => "Helpdesk addresses cannot open support requests",
            Reason::GroupAddress => "Group or list addresses cannot open support requests",
            Reason::AuthorizationRequired => "This request needs the account owner or an admin",
            Reason::SharedAddress => "This address is registered on more than one profile",
            Reason::UnauthenticatedSender => "Sender could not be authenticated",
            Reason::MalformedSender => "A single valid From address is required",
            Reason::AmbiguousAccount => "The account this request concerns is not named",
            Reason::BlockedSender => "Messages from this sender are not accepted",
            Reason::Automated => "Automatic messages cannot open support requests",
            Reason::NoReplySender => "No-reply addresses cannot open support requests",
            Reason::MailLoop => "Too many messages from this sender",
            Reason::AccountInactive => "This account is not active",
            Reason::UnregisteredReplyTo => "Replies would go to an address that is not registered",
        }
    }

    pub fn default_action(self) -> Action {
        match self {
            Reason::Accepted => Action::Forward,
            Reason::UnauthenticatedSender => Action::Quarantine,
            Reason::MalformedSender | Reason::BlockedSender => Action::Reject,
            Reason::Automated | Reason::NoReplySender | Reason::MailLoop => Action::Quarantine,
            _ => Action::Reply,
        }
    }

    /// Whether an auto-reply may ever answer this reason. Automatic mail never gets one
    /// (RFC 3834 §2: answering an auto-reply is how mail loops start), whatever `[actions]`
    /// says; such a reason has no template.
    pub fn may_reply(self) -> bool {
        !matches!(self, Reason::Accepted | Reason::Automated)
    }
}

impl FromStr for Reason {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        Reason::ALL.into_iter().find(|r| r.code() == s).ok_or(())
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl Serialize for Reason {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.code())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    Accept,
    Refuse,
}

/// What is done with a message, chosen per reason in `[actions]` (SPEC §4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    Forward,
    Reply,
    /// SPEC §11: kept pending until the owner or an admin approves or declines it.
    Hold,
    Reject,
    Quarantine,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Forward => "forward",
            Action::Reply => "reply",
            Action::Hold => "hold",
            Action::Reject => "reject",
            Action::Quarantine => "quarantine",
        }
    }
}

impl FromStr for Action {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        match s {
            "forward" => Ok(Action::Forward),
            "reply" => Ok(Action::Reply),
            "hold" => Ok(Action::Hold),
            "reject" => Ok(Action::Reject),
            "quarantine" => Ok(Action::Quarantine),
            _ => Err(()),
        }
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why no auto-reply is sent although the action is `reply` (SPEC §5 "Never reply").
/// The message is quarantined instead.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Suppression {
    NullReversePath,
    /// A reverse-path that is not null but is no usable address: nowhere to reply to.
    InvalidReversePath,
    AutoSubmitted,
    ListHeader,
    PrecedenceBulk,
    AutoResponseSuppress,
    SystemSender,
    OwnAddress,
    Unauthenticated,
    AlreadyReplied,
    /// The message is automatic (SPEC §10 `automated`): never answered.
    Automated,
}

impl Suppression {
    pub fn code(self) -> &'static str {
        match self {
            Suppression::NullReversePath => "null-reverse-path",
            Suppression::InvalidReversePath => "invalid-reverse-path",
            Suppression::AutoSubmitted => "auto-submitted",
            Suppression::ListHeader => "list-header",
            Suppression::PrecedenceBulk => "precedence",
            Suppression::AutoResponseSuppress => "x-auto-response-suppress",
            Suppression::SystemSender => "system-sender",
            Suppression::OwnAddress => "own-address",
            Suppression::Unauthenticated => "unauthenticated",
            Suppression::AlreadyReplied => "already-replied",
            Suppression::Automated => "automated",
        }
    }
}

impl Serialize for Suppression {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.code())
    }
}

impl fmt::Display for Suppression {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// Whether an auto-reply goes out, and to whom.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReplyPlan {
    /// The action is not `reply`.
    NotApplicable,
    /// Send a reply to the envelope sender.
    Send { to: NormalizedAddress },
    /// The action is `reply` but one of the never-reply rules holds.
    Suppressed(Suppression),
}

/// The outcome of the policy for one message and one account concerned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub verdict: Verdict,
    pub reason: Reason,
    /// The account id, when known.
    pub account: Option<String>,
    /// The agent's primary address, when the sender is a known agent of the account.
    pub agent: Option<String>,
    pub role: Option<Role>,
    /// The configured action for `reason`; `reply` stays `reply` even when suppressed.
    pub action: Action,
    pub reply: ReplyPlan,
    /// The P4 category that applied, if any.
    pub category: Option<String>,
    /// P4: whom to notify (primary addresses of the owner and admins); empty otherwise.
    pub notify: Vec<String>,
    /// The sender address the policy judged (From header), normalised, when usable.
    pub sender: Option<String>,
}
