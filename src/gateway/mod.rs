//! The SMTP front: [`Gateway`] implements the SMTP layer's [`MessageHandler`]. Recipients are
//! checked at RCPT; after DATA the transaction goes through [`crate::pipeline::receive`] and
//! the typed results become the final reply to DATA ([`SmtpReply::for_outcome`]), given only
//! once the outcome is safe (SPEC §6).

pub mod milter;

use crate::act::{Actor, Client};
use crate::address::AddressRules;
use crate::directory::{Directory, DirectoryHost};
use crate::pipeline::{Engine, Transaction};
use crate::smtp::{Envelope, MessageHandler, RcptCheck, SessionInfo, SmtpReply};
use std::sync::{Arc, RwLock};

/// The engine in force and the act stage.
pub struct Gateway {
    engine: RwLock<Arc<Engine>>,
    actor: Arc<Actor>,
}

impl Gateway {
    pub fn new(engine: Engine, actor: Arc<Actor>) -> Gateway {
        Gateway {
            engine: RwLock::new(Arc::new(engine)),
            actor,
        }
    }

    pub fn actor(&self) -> &Arc<Actor> {
        &self.actor
    }

    /// The engine in force now; a session keeps the one it started a message with.
    pub fn engine(&self) -> Arc<Engine> {
        match self.engine.read() {
            Ok(engine) => Arc::clone(&engine),
            Err(poisoned) => Arc::clone(&poisoned.into_inner()),
        }
    }

    /// Swaps in a newly loaded engine (configuration, directory, templates) atomically.
    pub fn replace_engine(&self, engine: Engine) {
        let replaced = std::mem::replace(&mut *self.engine_slot(), Arc::new(engine));
        free_when_unused(replaced);
    }

    /// Swaps in a newly loaded configuration and templates, keeping the directory in force
    /// (a live directory source owns it: SIGHUP never puts an older one back).
    pub fn replace_settings(&self, mut engine: Engine) {
        let replaced = {
            let mut slot = self.engine_slot();
            engine.directory = Arc::clone(&slot.directory);
            std::mem::replace(&mut *slot, Arc::new(engine))
        };
        free_when_unused(replaced);
    }

    /// Swaps in a new directory under the configuration in force.
    pub fn replace_directory(&self, directory: Arc<Directory>) {
        let replaced = {
            let mut slot = self.engine_slot();
            let next = Arc::new(slot.with_directory(directory));
            std::mem::replace(&mut *slot, next)
        };
        free_when_unused(replaced);
    }

    fn engine_slot(&self) -> std::sync::RwLockWriteGuard<'_, Arc<Engine>> {
        match self.engine.write() {
            Ok(slot) => slot,
            Err(poisoned) => poisoned.into_inner(),
        }
    }
}

/// A live directory source (`[directory] source = "postgres"`) swaps its changes in here.
impl DirectoryHost for Gateway {
    fn directory(&self) -> Arc<Directory> {
        Arc::clone(&self.engine().directory)
    }

    fn address_rules(&self) -> AddressRules {
        self.engine().config.address_rules.clone()
    }

    fn publish(&self, directory: Arc<Directory>) {
        self.replace_directory(directory);
    }

    fn source_up(&self, up: bool) {
        self.actor.metrics().directory_source_up(up);
    }
}

impl MessageHandler for Gateway {
    fn check_recipient(&self, session: &SessionInfo, address: &str) -> RcptCheck {
        if crate::pipeline::is_support_recipient(&self.engine(), address) {
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
        let engine = self.engine();
        let transaction = Transaction {
            client: Client {
                session_id: session.session_id.clone(),
                peer: session.peer,
                helo: session.helo.clone(),
                tls: session.tls,
            },
            mail_from: envelope.mail_from.clone(),
            recipients: envelope.rcpt_to.clone(),
            bytes: message,
            forwarding: crate::act::Forwarding::TicketQueue,
            others_served: false,
        };
        let receipt = crate::pipeline::receive(&engine, &self.actor, transaction).await;
        let mut replies = Vec::with_capacity(receipt.handled.len());
        for (decided, acted) in &receipt.handled {
            let reply = SmtpReply::for_outcome(acted);
            crate::act::log::decision(&receipt.received, decided, acted, reply.code);
            replies.push(reply);
        }
        for approval in &receipt.approvals {
            let reply = SmtpReply::for_outcome(&approval.acted);
            crate::act::log::approval(&receipt.received, approval, reply.code);
            replies.push(reply);
        }
        self.actor
            .metrics()
            .message_time(receipt.received.started.elapsed());
        SmtpReply::combine(replies)
    }
}

/// Frees a replaced engine or directory off the runtime threads and outside any lock: the last
/// copy of a million-agent directory takes most of a second to free, and freeing it under the
/// engine's write lock (or in a session that happened to hold it last) stalled every session.
/// It is freed once nothing else uses it (bounded wait; after that, whichever holder is last
/// frees it). Outside a runtime it is simply dropped.
pub fn free_when_unused<T: Send + Sync + 'static>(replaced: Arc<T>) {
    let Ok(runtime) = tokio::runtime::Handle::try_current() else {
        return;
    };
    runtime.spawn_blocking(move || {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        while Arc::strong_count(&replaced) > 1 && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        drop(replaced);
    });
}
