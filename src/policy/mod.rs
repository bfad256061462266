//! The pure policy core (SPEC §3–§5): facts in, a [`Decision`] out.
//!
//! No IO, no async runtime, no clock and no file reads live here: the envelope, the parsed
//! message ([`MessageFacts`]), the [`AuthResult`], the [`Directory`](crate::directory::Directory),
//! `now` and a view of the reply memory are all passed in. `check` and `serve` both call
//! [`decide`], so they decide the same message the same way.
//!
//! - [`facts`]: what the rules read from a parsed message.
//! - [`identify`]: which account the mail concerns (four strategies, configurable order).
//! - [`rules`]: P1–P8 in order, producing the reason.
//! - [`suppression`]: the never-reply rules of SPEC §5.
//! - [`suspension`] and [`block_list`]: the suspension causes of SPEC §10 (automated mail,
//!   no-reply senders, mail loops over a [`SenderHistory`] passed in, foreign `Reply-To`).
//! - [`categories`]: P4 sensitive categories.
//! - [`text`]: the text P4 reads (every text part, HTML reduced) and its normalisation.
//! - [`authentication`]: RFC 8601 results and how they map to P6.
//! - [`approval`]: the rule for a message to an approve or decline address (SPEC §11).

pub mod approval;
pub mod authentication;
pub mod block_list;
pub mod categories;
mod decision;
pub mod facts;
pub mod identify;
pub mod reply_to;
pub mod rules;
pub mod suppression;
pub mod suspension;
pub mod text;

pub use authentication::{AuthOutcome, AuthResult, AuthSource, MethodResult};
pub use block_list::BlockList;
pub use categories::{Categories, CategoryRule};
pub use decision::{Action, Decision, Reason, ReplyPlan, Suppression, Verdict};
pub use facts::{FromHeader, MessageFacts};
pub use identify::IdentificationStrategy;
pub use rules::{decide, Envelope, PolicyInput};
pub use suppression::ReplyMemoryView;
pub use suspension::SenderHistory;

use crate::address::NormalizedAddress;
use std::collections::HashMap;
use std::time::Duration;

/// The parts of the configuration the policy reads, already validated.
#[derive(Debug, Clone)]
pub struct PolicySettings {
    /// The support mailbox addresses (without `+tag`).
    pub support_addresses: Vec<NormalizedAddress>,
    /// The gateway's own addresses (reply `From:`): never replied to.
    pub own_addresses: Vec<NormalizedAddress>,
    pub account_order: Vec<IdentificationStrategy>,
    pub categories: Categories,
    /// Also match P4 patterns on the start of every text part (not only the Subject).
    pub categories_match_body: bool,
    /// How many characters of each text part P4 reads (after normalisation).
    pub category_body_chars: usize,
    /// Tell the owner and admins directly when P4 applies.
    pub notify_privileged: bool,
    pub require_dmarc: bool,
    /// How long a reply for one reason to one address suppresses the next.
    pub reply_interval: Duration,
    /// `[lists] block` (`blocked-sender`).
    pub block: BlockList,
    /// `[lists] no_reply_local_parts`, lower-cased (`no-reply-sender`).
    pub no_reply_local_parts: Vec<String>,
    /// `[lists] out_of_office_subjects`, lower-cased (`automated`).
    pub out_of_office_subjects: Vec<String>,
    /// `[limits] sender_messages`: more within the window is a `mail-loop`.
    pub sender_messages: u32,
    actions: HashMap<Reason, Action>,
}

impl Default for PolicySettings {
    fn default() -> Self {
        PolicySettings {
            support_addresses: Vec::new(),
            own_addresses: Vec::new(),
            account_order: IdentificationStrategy::ALL.to_vec(),
            categories: Categories::default(),
            categories_match_body: true,
            category_body_chars: 500,
            notify_privileged: true,
            require_dmarc: false,
            reply_interval: Duration::from_secs(7 * 86_400),
            block: BlockList::default(),
            no_reply_local_parts: Vec::new(),
            out_of_office_subjects: Vec::new(),
            sender_messages: 20,
            actions: HashMap::new(),
        }
    }
}

impl PolicySettings {
    /// The configured action for `reason`, or its default (SPEC §4).
    pub fn action(&self, reason: Reason) -> Action {
        self.actions
            .get(&reason)
            .copied()
            .unwrap_or_else(|| reason.default_action())
    }

    pub fn set_action(&mut self, reason: Reason, action: Action) {
        self.actions.insert(reason, action);
    }
}
