//! The pipeline, the only wiring of the gateway: receive → parse → authenticate → identify
//! account → decide → act. A front (the SMTP server or the milter, in [`crate::gateway`])
//! hands over a [`Transaction`] and maps the typed results to its protocol; `check` runs parse
//! → decide offline through the same [`Engine`].
//!
//! The message is parsed once and authenticated once per transaction; its recipients are split
//! by the account each names by itself ([`crate::policy::identify::account_named_by_recipient`]),
//! one decision per group, and two groups that end up with the same account and reason are one
//! decision (one ticket).

pub mod approval_route;
pub mod engine;
pub mod loop_guard;

pub use engine::{load_directory, parse_message, Engine, EngineError, Evaluation, ParseError};

use crate::act::{Acted, Actor, Client, Decided, Forwarding, Received};
use crate::address::{AddressRules, NormalizedAddress};
use crate::authentication::Connection;
use crate::policy::{identify::account_named_by_recipient, Action, Envelope};
use std::collections::BTreeMap;
use std::time::Instant;

/// One transaction as a front received it.
#[derive(Debug, Clone)]
pub struct Transaction {
    pub client: Client,
    /// None: the null reverse-path `<>`.
    pub mail_from: Option<String>,
    /// The accepted recipients, in order.
    pub recipients: Vec<String>,
    /// The message, dot-unstuffed, CRLF line endings.
    pub bytes: Vec<u8>,
    /// Who delivers what is forwarded.
    pub forwarding: Forwarding,
    /// Other recipients of the same transaction, outside the pipeline, are served (the milter
    /// front leaves them to the MTA): a refusal cannot be given in the session then.
    pub others_served: bool,
}

/// What the pipeline did with a transaction: the message as received, and for each decision
/// what was done. Every decision is already logged by the front and counted.
pub struct Receipt {
    pub received: Received,
    pub handled: Vec<(Decided, Acted)>,
    /// Messages to approve and decline addresses (SPEC §11), decided by their own rule.
    pub approvals: Vec<approval_route::ApprovalHandled>,
}

impl Receipt {
    /// What was done for every recipient: the decisions, then the approvals.
    pub fn acted(&self) -> impl Iterator<Item = &Acted> {
        self.handled
            .iter()
            .map(|(_, acted)| acted)
            .chain(self.approvals.iter().map(|a| &a.acted))
    }
}

/// Recipient addresses compare with their `+tag` kept (the tag may name the account).
fn recipient_rules(engine: &Engine) -> AddressRules {
    AddressRules {
        strip_subaddress: false,
        ..engine.config.address_rules.clone()
    }
}

/// True if `address` may be a recipient: a support address (with any `+tag`) or a
/// per-account mailbox. Everything else is refused at RCPT: never an open relay.
pub fn is_support_recipient(engine: &Engine, address: &str) -> bool {
    NormalizedAddress::parse(address, &recipient_rules(engine)).is_ok_and(|a| {
        let base = a.without_subaddress(engine.config.address_rules.subaddress_separator);
        // A per-account mailbox with a tag: its approve and decline addresses (SPEC §11).
        let is_mailbox = |address: &NormalizedAddress| {
            engine
                .directory
                .listings(address)
                .iter()
                .any(|l| matches!(l, crate::directory::AddressListing::Mailbox { .. }))
        };
        engine.config.support_addresses.contains(&base) || is_mailbox(&a) || is_mailbox(&base)
    })
}

/// Parse → authenticate → group → decide → act, for one transaction.
pub async fn receive(engine: &Engine, actor: &Actor, transaction: Transaction) -> Receipt {
    let started = Instant::now();
    let received_at = crate::act::unix_now();
    let (transaction, facts) = parse_off_the_runtime(engine.body_chars(), transaction).await;
    let connection = Connection {
        ip: transaction.client.peer.ip(),
        helo: transaction.client.helo.as_deref(),
        mail_from: transaction.mail_from.as_deref(),
    };
    let auth = engine
        .authenticate(&facts, &transaction.bytes, &connection)
        .await;
    let received = Received {
        client: transaction.client,
        mail_from: transaction.mail_from,
        bytes: transaction.bytes,
        forwarding: transaction.forwarding,
        facts,
        auth,
        received_at,
        started,
    };
    let (approval_groups, recipients) =
        approval_route::split_recipients(engine, transaction.recipients);
    let mut approvals = Vec::with_capacity(approval_groups.len());
    for (address, group) in approval_groups {
        approvals.push(approval_route::handle(engine, actor, &received, address, group).await);
    }
    if recipients.is_empty() {
        return Receipt {
            received,
            handled: Vec::new(),
            approvals,
        };
    }
    let history_store = actor.sender_history();
    let tracked = loop_guard::record(engine, history_store, actor.metrics(), &received).await;
    let history = loop_guard::history(tracked.as_ref());
    let decided = decide_per_account(
        engine,
        actor,
        &received,
        recipients,
        transaction.others_served || !approvals.is_empty(),
        &history,
    );
    loop_guard::after_decide(
        engine,
        history_store,
        actor.metrics(),
        tracked.as_ref(),
        &decided,
    )
    .await;
    let mut handled = Vec::with_capacity(decided.len());
    for decided in decided {
        let acted = actor.act(engine, &received, &decided).await;
        crate::act::log::count(actor.metrics(), &received, &decided, &acted);
        handled.push((decided, acted));
    }
    loop_guard::after_act(history_store, actor.metrics(), tracked.as_ref(), &handled).await;
    Receipt {
        received,
        handled,
        approvals,
    }
}

/// Messages up to this size are parsed on the session's own thread. Parsing costs about
/// 0.1 µs a byte at worst (hundreds of tiny MIME parts), so at most ~1.5 ms here, while the
/// hand-off to the blocking pool and back costs two thread wake-ups per message, the
/// largest CPU cost of a small message after the kernel's own.
const INLINE_PARSE_MAX: usize = 16 * 1024;

/// Parse once; a larger message on tokio's blocking pool: a costly message (megabytes of
/// headers, deep MIME) must not stall the sessions that share the runtime's threads. A
/// message without any header field still gets a decision (no From, so P7).
async fn parse_off_the_runtime(
    body_chars: usize,
    transaction: Transaction,
) -> (Transaction, crate::policy::MessageFacts) {
    let inline = transaction.bytes.len() <= INLINE_PARSE_MAX;
    let parse = move || {
        let facts = parse_message(&transaction.bytes)
            .map(|parsed| crate::policy::MessageFacts::extract(&parsed, body_chars))
            .unwrap_or_default();
        (transaction, facts)
    };
    if inline {
        return parse();
    }
    match tokio::task::spawn_blocking(parse).await {
        Ok(parsed) => parsed,
        // The parser panicked (never seen; fuzzed): the task is gone with the message, so the
        // session cannot answer 250 for it.
        Err(e) => std::panic::resume_unwind(e.into_panic()),
    }
}

/// One decision of [`decide_each_account`]: the recipients it is about.
pub struct AccountDecision {
    pub recipients: Vec<String>,
    pub decision: crate::policy::Decision,
    /// How long the policy took for this group.
    pub took: std::time::Duration,
}

/// What a decision knows beyond the message: the reply memory, what the sender history said
/// (`check`: nothing seen) and the time.
pub struct DecisionState<'a> {
    pub reply_memory: &'a dyn crate::policy::ReplyMemoryView,
    pub sender_history: &'a crate::policy::SenderHistory,
    /// Unix seconds.
    pub now: u64,
}

/// One decision per account concerned (`support+acme@` and `support+globex@` in one
/// transaction); recipients that name no account by themselves form one group; two groups
/// that end with the same account and reason are one decision (one ticket). Pure: `serve` and
/// `check` both decide through it.
pub fn decide_each_account(
    engine: &Engine,
    facts: &crate::policy::MessageFacts,
    mail_from: Option<&str>,
    auth: &crate::policy::AuthResult,
    state: &DecisionState<'_>,
    recipients: Vec<String>,
) -> Vec<AccountDecision> {
    let rules = recipient_rules(engine);
    let separator = engine.config.address_rules.subaddress_separator;
    let mut groups: BTreeMap<Option<String>, Vec<String>> = BTreeMap::new();
    for recipient in recipients {
        let account = NormalizedAddress::parse(&recipient, &rules)
            .ok()
            .and_then(|address| {
                account_named_by_recipient(
                    &engine.directory,
                    &address,
                    &engine.config.support_addresses,
                    separator,
                )
            })
            .map(|account| engine.directory.account(account).id.to_string());
        groups.entry(account).or_default().push(recipient);
    }
    let mut decided: Vec<AccountDecision> = Vec::with_capacity(groups.len());
    for recipients in groups.into_values() {
        let started = Instant::now();
        let envelope = Envelope {
            mail_from: mail_from.map(str::to_string),
            recipients: recipients.clone(),
        };
        let decision = engine.decide(
            facts,
            &envelope,
            auth,
            state.reply_memory,
            state.sender_history,
            state.now,
        );
        let took = started.elapsed();
        let same = decided.iter_mut().find(|d| {
            d.decision.account.is_some()
                && d.decision.account == decision.account
                && d.decision.reason == decision.reason
        });
        match same {
            Some(earlier) => earlier.recipients.extend(recipients),
            None => decided.push(AccountDecision {
                recipients,
                decision,
                took,
            }),
        }
    }
    decided
}

/// [`decide_each_account`] for the act stage: queue ids, and the mixed-transaction rule.
fn decide_per_account(
    engine: &Engine,
    actor: &Actor,
    received: &Received,
    recipients: Vec<String>,
    others_served: bool,
    history: &crate::policy::SenderHistory,
) -> Vec<Decided> {
    let mut decided: Vec<Decided> = decide_each_account(
        engine,
        &received.facts,
        received.mail_from.as_deref(),
        &received.auth,
        &DecisionState {
            reply_memory: actor.reply_memory(),
            sender_history: history,
            now: received.received_at,
        },
        recipients,
    )
    .into_iter()
    .map(|d| {
        actor.metrics().decision_time(d.took);
        Decided {
            queue_id: crate::store::new_queue_id(),
            recipients: d.recipients,
            action: d.decision.action,
            decision: d.decision,
            mixed: false,
        }
    })
    .collect();
    // A refusal in the session cannot be given to some recipients only: when another decision
    // of the same transaction (or another recipient, left to the MTA) is served, a `reject` is
    // kept in the quarantine instead.
    let mixed =
        others_served || (decided.len() > 1 && decided.iter().any(|d| d.action != Action::Reject));
    for d in &mut decided {
        d.mixed = mixed;
        if mixed && d.action == Action::Reject {
            d.action = Action::Quarantine;
        }
    }
    decided
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    use std::sync::Arc;

    /// Issue 10 finding 5: a message that is costly to parse must not stall the other sessions
    /// of a runtime thread. On a single-threaded runtime, a task beside the parse runs while
    /// the message is parsed; had the parse run on the runtime thread, it could not have.
    #[tokio::test(flavor = "current_thread")]
    async fn issue10_5_parsing_leaves_the_runtime_thread_free() {
        let mut bytes = b"From: a@b.example\r\nSubject: many parts\r\n\
            Content-Type: multipart/mixed; boundary=m\r\n\r\n"
            .to_vec();
        for i in 0..20_000 {
            bytes.extend_from_slice(
                format!("--m\r\nContent-Type: text/plain\r\n\r\npart {i}\r\n").as_bytes(),
            );
        }
        bytes.extend_from_slice(b"--m--\r\n");
        let transaction = Transaction {
            client: Client {
                session_id: "test".into(),
                peer: "127.0.0.1:25".parse().unwrap(),
                helo: None,
                tls: false,
            },
            mail_from: Some("a@b.example".into()),
            recipients: vec!["support@vendor.example".into()],
            bytes,
            forwarding: crate::act::Forwarding::TicketQueue,
            others_served: false,
        };
        let turns = Arc::new(AtomicUsize::new(0));
        let parsed = Arc::new(AtomicBool::new(false));
        let beside = tokio::spawn({
            let (turns, parsed) = (turns.clone(), parsed.clone());
            async move {
                while !parsed.load(Ordering::SeqCst) {
                    turns.fetch_add(1, Ordering::SeqCst);
                    tokio::task::yield_now().await;
                }
            }
        });
        let (_, facts) = parse_off_the_runtime(500, transaction).await;
        let turns_during_the_parse = turns.load(Ordering::SeqCst);
        parsed.store(true, Ordering::SeqCst);
        beside.await.unwrap();
        assert_eq!(facts.subject, "many parts");
        assert!(
            turns_during_the_parse > 0,
            "the task beside the parse never ran while the message was parsed"
        );
    }
}
