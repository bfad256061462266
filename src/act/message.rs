//! What the act stage is given: the message as received (parsed and authenticated once per
//! transaction) and one decision about some of its recipients.

use crate::policy::{Action, AuthResult, Decision, MessageFacts};
use std::net::SocketAddr;
use std::time::Instant;

/// The client that handed us the message, as the front (SMTP session, milter) knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Client {
    /// The front's session id, in every log line of the session.
    pub session_id: String,
    pub peer: SocketAddr,
    pub helo: Option<String>,
    pub tls: bool,
}

/// Who takes a forwarded message on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Forwarding {
    /// We deliver it to the ticket queue (`[queue] target`, through the spool): the SMTP front.
    TicketQueue,
    /// The MTA that asked us delivers it, with our header fields: the milter front.
    Mta,
}

/// One message as received: bytes, envelope sender, facts and authentication, computed once
/// for the whole transaction.
#[derive(Debug, Clone)]
pub struct Received {
    pub client: Client,
    /// None: the null reverse-path `<>`.
    pub mail_from: Option<String>,
    pub bytes: Vec<u8>,
    pub forwarding: Forwarding,
    pub facts: MessageFacts,
    pub auth: AuthResult,
    /// Unix seconds.
    pub received_at: u64,
    pub started: Instant,
}

/// One decision of a transaction: the recipients it is about and what to do.
#[derive(Debug, Clone)]
pub struct Decided {
    pub queue_id: String,
    pub recipients: Vec<String>,
    pub decision: Decision,
    /// The action taken: the decision's, except that a `reject` becomes `quarantine` when
    /// other decisions of the same transaction are served (a refusal in the session cannot be
    /// given to some recipients only).
    pub action: Action,
    /// Other decisions of the same transaction are served: nothing of this one may be lost
    /// behind their `250`.
    pub mixed: bool,
}
