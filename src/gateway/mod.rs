//! The gateway: the pipeline on the wire. [`Gateway`] implements the SMTP layer's
//! [`MessageHandler`]: recipients are checked at RCPT; after DATA the message is parsed,
//! authenticated, decided per account concerned ([`crate::pipeline`]) and acted on ([`act`]).
//! The final reply to DATA is given only once the outcome is safe (SPEC §6).

mod act;
mod log;
pub mod spool_delivery;
mod spool_write;

use crate::address::{AddressRules, NormalizedAddress};
use crate::delivery::transport::Transport;
use crate::directory::AddressListing;
use crate::metrics::Metrics;
use crate::pipeline::Engine;
use crate::policy::Action;
use crate::smtp::{Envelope, MessageHandler, RcptCheck, SessionInfo, SmtpReply};
use crate::store::quarantine::Quarantine;
use crate::store::reply_memory::ReplyMemory;
use crate::store::spool::Spool;
use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};

/// Everything a session needs to act on mail.
pub struct Gateway {
    engine: RwLock<Arc<Engine>>,
    queue: Transport,
    replies: Transport,
    quarantine: Quarantine,
    reply_memory: Arc<dyn ReplyMemory>,
    metrics: Arc<Metrics>,
    /// `[spool]` as at start; None: forward synchronously.
    spool: Option<(Spool, crate::config::SpoolSettings)>,
    /// Wakes the spool delivery when a message is spooled or `queue flush` asks.
    spool_wakeup: tokio::sync::Notify,
    /// Set by `queue flush` (SIGUSR1): the next scan ignores the retry times.
    spool_flush: std::sync::atomic::AtomicBool,
}

impl Gateway {
    pub fn new(
        engine: Engine,
        reply_memory: Arc<dyn ReplyMemory>,
        metrics: Arc<Metrics>,
    ) -> Gateway {
        let config = &engine.config;
        Gateway {
            queue: Transport::for_queue(&config.queue, &config.server.hostname),
            replies: Transport::for_replies(&config.replies.transport, &config.server.hostname),
            quarantine: Quarantine::new(&config.quarantine_path),
            reply_memory,
            metrics,
            spool: config
                .spool
                .enabled
                .then(|| (Spool::new(&config.spool.path), config.spool.clone())),
            spool_wakeup: tokio::sync::Notify::new(),
            spool_flush: std::sync::atomic::AtomicBool::new(false),
            engine: RwLock::new(Arc::new(engine)),
        }
    }

    /// The engine in force now; a session keeps the one it started a message with.
    pub fn engine(&self) -> Arc<Engine> {
        match self.engine.read() {
            Ok(engine) => Arc::clone(&engine),
            Err(poisoned) => Arc::clone(&poisoned.into_inner()),
        }
    }

    /// Asks the spool delivery to scan the spool now.
    pub fn wake_spool_delivery(&self) {
        self.spool_wakeup.notify_one();
    }

    /// `queue flush`: everything in the spool is attempted now, whatever its retry time.
    pub fn flush_spool(&self) {
        self.spool_flush
            .store(true, std::sync::atomic::Ordering::SeqCst);
        self.spool_wakeup.notify_one();
    }

    /// Swaps in a newly loaded engine (configuration, directory, templates) atomically.
    pub fn replace_engine(&self, engine: Engine) {
        let mut slot = match self.engine.write() {
            Ok(slot) => slot,
            Err(poisoned) => poisoned.into_inner(),
        };
        *slot = Arc::new(engine);
    }
}

fn recipient_rules(engine: &Engine) -> AddressRules {
    AddressRules {
        strip_subaddress: false,
        ..engine.config.address_rules.clone()
    }
}

/// The account a recipient address names by itself (a `+tag` or a per-account mailbox), if any:
/// the key by which one transaction's recipients are split into one decision per account.
fn account_named_by_recipient(engine: &Engine, recipient: &str) -> Option<String> {
    let address = NormalizedAddress::parse(recipient, &recipient_rules(engine)).ok()?;
    let separator = engine.config.address_rules.subaddress_separator;
    if let (_, Some(tag)) = address.split_subaddress(separator) {
        if let Some(account) = engine.directory.account_by_id(&tag.to_ascii_lowercase()) {
            return Some(engine.directory.account(account).id.to_string());
        }
    }
    engine
        .directory
        .listings(&address)
        .iter()
        .find_map(|l| match l {
            AddressListing::Mailbox { account } => {
                Some(engine.directory.account(*account).id.to_string())
            }
            _ => None,
        })
}

impl MessageHandler for Gateway {
    fn check_recipient(&self, session: &SessionInfo, address: &str) -> RcptCheck {
        let engine = self.engine();
        let accepted =
            NormalizedAddress::parse(address, &recipient_rules(&engine)).is_ok_and(|a| {
                let base = a.without_subaddress(engine.config.address_rules.subaddress_separator);
                engine.config.support_addresses.contains(&base)
                    || engine
                        .directory
                        .listings(&a)
                        .iter()
                        .any(|l| matches!(l, AddressListing::Mailbox { .. }))
            });
        if accepted {
            RcptCheck::Accept
        } else {
            tracing::info!(session = %session.session_id, peer = %session.peer, rcpt = %address, "recipient refused: not a support address");
            RcptCheck::Reject(SmtpReply::no_such_recipient("No such support address here"))
        }
    }

    async fn deliver(
        &self,
        session: &SessionInfo,
        envelope: &Envelope,
        message: Vec<u8>,
    ) -> SmtpReply {
        let received = std::time::Instant::now();
        let engine = self.engine();
        // One decision per account concerned (support+acme and support+globex in one
        // transaction); recipients that name no account by themselves form one group.
        let mut groups: BTreeMap<Option<String>, Vec<String>> = BTreeMap::new();
        for rcpt in &envelope.rcpt_to {
            groups
                .entry(account_named_by_recipient(&engine, rcpt))
                .or_default()
                .push(rcpt.clone());
        }
        let auth = act::authenticate(&engine, session, envelope, &message).await;
        let mut decided: Vec<act::Decided> = Vec::with_capacity(groups.len());
        for recipients in groups.into_values() {
            let group = act::decide(self, &engine, envelope, recipients, &message, &auth);
            self.metrics.decision_time(group.started.elapsed());
            // `support@` (account found from the Subject or the sender) and `support+acme@`
            // in one transaction concern the same account: one decision, one ticket.
            let same = decided.iter_mut().find(|d| {
                d.decision.account.is_some()
                    && d.decision.account == group.decision.account
                    && d.decision.reason == group.decision.reason
            });
            match same {
                Some(earlier) => earlier.recipients.extend(group.recipients),
                None => decided.push(group),
            }
        }
        // A refusal in the SMTP session cannot be given to some recipients only: when another
        // account in the same transaction is served, a `reject` is kept in the quarantine
        // instead, so that nothing refused is lost silently.
        let mixed =
            decided.len() > 1 && decided.iter().any(|d| d.decision.action != Action::Reject);
        let mut replies = Vec::with_capacity(decided.len());
        for group in &decided {
            let action = match group.decision.action {
                Action::Reject if mixed => Action::Quarantine,
                action => action,
            };
            let acted = act::act(
                self, &engine, session, envelope, group, &message, action, mixed,
            )
            .await;
            log::decision(session, envelope, group, &acted, message.len());
            log::count(&self.metrics, group, action, &acted);
            replies.push(acted.reply);
        }
        self.metrics.message_time(received.elapsed());
        act::combine(replies)
    }
}
