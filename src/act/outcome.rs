//! What the act stage did with one decision: a typed [`Outcome`] and [`AutoReply`], which each
//! front maps to its own protocol (`SmtpReply::for_outcome` for SMTP) and the log prints.

use crate::policy::Reason;
use std::fmt;

/// Why the client is asked to try again later.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Defer {
    /// The ticket queue cannot take it now and there is no spool (`451 4.4.1`).
    TicketQueue,
    /// The spool or the quarantine could not write it (`452 4.3.1`).
    Storage,
    /// DNS could not say whether the sender is authenticated (`451 4.4.3`).
    Authentication,
}

/// What became of the message for the recipients of one decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The ticket queue took it (synchronous delivery).
    Forwarded,
    /// It is fsync'd in the spool; the ticket queue gets it in the background.
    Spooled,
    /// It is fsync'd in the quarantine.
    Quarantined,
    /// SPEC §11: it is fsync'd in the approval store, pending the owner's or an admin's word.
    Held,
    /// An approval or decline message that did its work (it is logged, not a ticket).
    Consumed,
    /// The MTA that asked delivers it, with our header fields ([`super::Forwarding::Mta`]).
    Passed,
    /// Refused in the session (`[actions]` says `reject`).
    Rejected(Reason),
    /// Not taken: the client keeps it and retries.
    Deferred(Defer),
    /// The ticket queue refused it with a 5xx (synchronous delivery).
    RefusedUpstream,
}

impl Outcome {
    /// True when the message is safe with us (a `250` may be given).
    pub fn is_safe(self) -> bool {
        matches!(
            self,
            Outcome::Forwarded
                | Outcome::Spooled
                | Outcome::Quarantined
                | Outcome::Passed
                | Outcome::Held
                | Outcome::Consumed
        )
    }

    /// The word in the decision log and in metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Forwarded => "forwarded",
            Outcome::Spooled => "spooled",
            Outcome::Quarantined => "quarantined",
            Outcome::Held => "held",
            Outcome::Consumed => "consumed",
            Outcome::Passed => "passed",
            Outcome::Rejected(_) => "rejected",
            Outcome::Deferred(_) => "deferred",
            Outcome::RefusedUpstream => "refused-upstream",
        }
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What became of the auto-reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AutoReply {
    /// No reply belongs to this decision (the action is not `reply`).
    None,
    /// Composed and fsync'd in the spool; the quarantine record says `sent` once delivered.
    Queued,
    /// The reply transport took it.
    Sent,
    /// It could not be composed or queued, or the transport gave up: why.
    Failed(String),
    /// A never-reply rule held (the code of the rule, e.g. `already-replied`).
    Suppressed(String),
}

impl fmt::Display for AutoReply {
    /// The form kept in the quarantine record's `reply` and printed in the log.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AutoReply::None => f.write_str("none"),
            AutoReply::Queued => f.write_str("queued"),
            AutoReply::Sent => f.write_str("sent"),
            AutoReply::Failed(why) => write!(f, "failed: {why}"),
            AutoReply::Suppressed(why) => write!(f, "suppressed:{why}"),
        }
    }
}

/// The act stage's answer for one decision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Acted {
    /// The message's queue id (our `Received:`, the quarantine, the spool, the log).
    pub queue_id: String,
    /// The envelope recipients this decision was about.
    pub recipients: Vec<String>,
    pub outcome: Outcome,
    pub auto_reply: AutoReply,
}
