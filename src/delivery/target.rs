//! The [`Target`] trait: where a message goes once the gateway has decided (the ticket queue,
//! the reply outbox). One implementation per file beside this one; [`super::build`] is the one
//! place that turns configuration into targets.

use std::future::Future;
use std::pin::Pin;

/// Why a delivery failed. The distinction decides what happens next (SPEC §6): a temporary
/// failure is retried (or the client keeps the message, `451`), a permanent one is final.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DeliveryError {
    #[error("temporary failure: {0}")]
    Temporary(String),
    #[error("permanent failure: {0}")]
    Permanent(String),
    /// The target ran and refused this message (a pipe command's exit status other than 0
    /// or 75): the gateway keeps it in the quarantine rather than lose or bounce it.
    #[error("refused: {0}")]
    Refused(String),
}

impl DeliveryError {
    pub fn is_temporary(&self) -> bool {
        matches!(self, DeliveryError::Temporary(_))
    }
}

/// What a target is told about the decision (a `pipe:` command gets it as `SUPPORTGATE_*`
/// variables; the other targets find it in the headers already).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeliveryContext {
    /// Our queue id of the message (also in `Received:`, the log and the quarantine).
    pub queue_id: String,
    pub account: Option<String>,
    pub agent: Option<String>,
    pub role: Option<String>,
    /// The From address the decision is about.
    pub sender: Option<String>,
}

/// One message to deliver, with its envelope.
#[derive(Debug, Clone, Copy)]
pub struct Parcel<'a> {
    /// None: the null reverse-path `<>`.
    pub mail_from: Option<&'a str>,
    pub recipients: &'a [String],
    /// The whole message, CRLF line endings.
    pub bytes: &'a [u8],
    /// Unique among everything this gateway delivers (names the file in a Maildir).
    pub unique: &'a str,
    pub context: &'a DeliveryContext,
}

/// The future a target returns.
pub type Delivery<'a> = Pin<Box<dyn Future<Output = Result<(), DeliveryError>> + Send + 'a>>;

/// A place mail can be delivered to. `Ok` means the target has taken responsibility for the
/// message (fsync'd Maildir file, an upstream's `250`, a command's exit 0).
pub trait Target: Send + Sync {
    /// How the target is named in logs and messages (`smtp://127.0.0.1:2626`).
    fn description(&self) -> &str;
    fn deliver<'a>(&'a self, parcel: Parcel<'a>) -> Delivery<'a>;
}
