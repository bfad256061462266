//! Table tests of the act stage over [`RecordingTarget`]: every action × the answer of the
//! ticket queue × the answer of the reply transport, with the spool on and off. What is
//! checked is what a client, a helpdesk and support staff would see: the outcome, what each
//! target received, and what the quarantine record says about the reply.

use super::{Actor, AutoReply, Defer, Outcome};
use crate::act::Client;
use crate::config::Config;
use crate::delivery::recording::RecordingTarget;
use crate::delivery::DeliveryError;
use crate::directory::Directory;
use crate::metrics::Metrics;
use crate::pipeline::{receive, Engine, Transaction};
use crate::store::embedded::RedbReplyMemory;
use crate::store::quarantine::Quarantine;
use std::path::Path;
use std::sync::Arc;

struct Bench {
    _dir: tempfile::TempDir,
    engine: Engine,
    actor: Actor,
    queue: Arc<RecordingTarget>,
    replies: Arc<RecordingTarget>,
    quarantine: Quarantine,
}

/// The shipped configuration with its state in a temporary folder, `[spool] enabled` as
/// given and `[actions]` changed as given.
fn bench(spool: bool, actions: &[(&str, &str)]) -> Bench {
    let dir = tempfile::tempdir().unwrap();
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let shipped = std::fs::read_to_string(repo.join("config/supportgate.toml")).unwrap();
    let var = dir.path().display().to_string();
    let mut text = shipped
        .replace("\"../var/", &format!("\"{var}/"))
        .replace("maildir:../var/", &format!("maildir:{var}/"))
        .replace("[spool]\n", &format!("[spool]\nenabled = {spool}\n"));
    for (reason, action) in actions {
        let line = text
            .lines()
            .find(|l| l.starts_with(&format!("{reason} = ")))
            .unwrap_or_else(|| panic!("no [actions] line for {reason}"))
            .to_string();
        text = text.replace(&line, &format!("{reason} = \"{action}\""));
    }
    let config = Config::from_toml(&text, &repo.join("config/supportgate.toml")).unwrap();
    let directory = Directory::load(&config.directory_path, &config.address_rules).unwrap();
    let memory = Arc::new(RedbReplyMemory::open(&dir.path().join("memory.redb")).unwrap());
    let (queue, replies) = (
        Arc::new(RecordingTarget::new()),
        Arc::new(RecordingTarget::new()),
    );
    let actor = Actor::with_targets(
        &config,
        queue.clone(),
        replies.clone(),
        memory,
        Arc::new(Metrics::new()),
    );
    Bench {
        quarantine: Quarantine::new(&config.quarantine_path),
        engine: Engine::assemble(config, directory).unwrap(),
        _dir: dir,
        actor,
        queue,
        replies,
    }
}

fn transaction(from: &str, rcpt: &str, subject: &str) -> Transaction {
    let bytes = format!(
        "From: <{from}>\r\nTo: <{rcpt}>\r\nSubject: {subject}\r\nMessage-ID: <t1@test>\r\n\r\nBonjour,\r\nmerci.\r\n"
    );
    Transaction {
        client: Client {
            session_id: "s1".into(),
            peer: "192.0.2.7:4000".parse().unwrap(),
            helo: Some("client.example".into()),
            tls: false,
        },
        mail_from: Some(from.to_string()),
        recipients: vec![rcpt.to_string()],
        bytes: bytes.into_bytes(),
        forwarding: crate::act::Forwarding::TicketQueue,
        others_served: false,
    }
}

fn temporary() -> Result<(), DeliveryError> {
    Err(DeliveryError::Temporary("451 4.3.0 try later".into()))
}

fn permanent() -> Result<(), DeliveryError> {
    Err(DeliveryError::Permanent("550 5.1.1 no such user".into()))
}

fn refused() -> Result<(), DeliveryError> {
    Err(DeliveryError::Refused("rt-mailgate exited 1".into()))
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// Accepted mail (Alice, the owner): synchronous forward, every queue answer.
#[test]
fn forward_without_spool_maps_every_queue_answer() {
    let rows: [(Result<(), DeliveryError>, Outcome, usize); 4] = [
        (Ok(()), Outcome::Forwarded, 0),
        (temporary(), Outcome::Deferred(Defer::TicketQueue), 0),
        (permanent(), Outcome::RefusedUpstream, 0),
        (refused(), Outcome::Quarantined, 1),
    ];
    for (answer, expected, kept) in rows {
        let bench = bench(false, &[]);
        bench.queue.answer([answer.clone()]);
        let receipt = runtime().block_on(receive(
            &bench.engine,
            &bench.actor,
            transaction("alice@acme.example", "support@vendor.example", "Import"),
        ));
        let (decided, acted) = &receipt.handled[0];
        assert_eq!(acted.outcome, expected, "{answer:?}");
        assert_eq!(acted.auto_reply, AutoReply::None);
        let attempts = bench.queue.attempts();
        assert_eq!(attempts.len(), 1);
        let ticket = attempts[0].text();
        assert!(
            ticket.starts_with("Received: from client.example ([192.0.2.7])"),
            "{ticket}"
        );
        assert!(
            ticket.contains("X-Supportgate-Account: acme\r\n"),
            "{ticket}"
        );
        assert_eq!(attempts[0].context.queue_id, decided.queue_id);
        assert_eq!(attempts[0].context.role.as_deref(), Some("owner"));
        assert_eq!(bench.quarantine.count(), kept, "{answer:?}");
        assert!(bench.replies.attempts().is_empty());
    }
}

/// With the spool, the client's answer depends on the disk only; the queue's answer decides
/// what the spool delivery does.
#[test]
fn forward_through_spool_then_delivery_maps_every_queue_answer() {
    let rows: [(Result<(), DeliveryError>, usize, usize); 4] = [
        // (answer, left in the spool, quarantined)
        (Ok(()), 0, 0),
        (temporary(), 1, 0),
        (permanent(), 0, 1),
        (refused(), 0, 1),
    ];
    for (answer, waiting, kept) in rows {
        let bench = bench(true, &[]);
        bench.queue.answer([answer.clone()]);
        let rt = runtime();
        let receipt = rt.block_on(receive(
            &bench.engine,
            &bench.actor,
            transaction("alice@acme.example", "support@vendor.example", "Import"),
        ));
        assert_eq!(receipt.handled[0].1.outcome, Outcome::Spooled);
        assert!(
            bench.queue.attempts().is_empty(),
            "nothing before the delivery runs"
        );
        assert_eq!(rt.block_on(bench.actor.deliver_waiting(true)), 1);
        assert_eq!(bench.queue.attempts().len(), 1);
        let left = rt.block_on(bench.actor.spool_waiting());
        assert_eq!(
            (left, bench.quarantine.count()),
            (waiting, kept),
            "{answer:?}"
        );
    }
}

/// Refused mail with `reply`: kept first, reply queued, its fate in the record.
#[test]
fn reply_is_queued_then_recorded_for_every_transport_answer() {
    let rows: [(Result<(), DeliveryError>, &str, usize); 3] = [
        (Ok(()), "sent", 0),
        (temporary(), "queued", 1),
        (
            permanent(),
            "failed: refused (5xx): 550 5.1.1 no such user",
            0,
        ),
    ];
    for spool in [false, true] {
        for (answer, reply, waiting) in rows.clone() {
            let bench = bench(spool, &[]);
            bench.replies.answer([answer.clone()]);
            let rt = runtime();
            let receipt = rt.block_on(receive(
                &bench.engine,
                &bench.actor,
                transaction("mallory@else.example", "support+acme@vendor.example", "Hi"),
            ));
            let (decided, acted) = &receipt.handled[0];
            assert_eq!(decided.decision.reason.code(), "not-registered");
            assert_eq!(acted.outcome, Outcome::Quarantined);
            assert_eq!(acted.auto_reply, AutoReply::Queued);
            let record = bench.quarantine.record(&decided.queue_id).unwrap();
            assert_eq!(record.decision.reply, "queued");
            rt.block_on(bench.actor.deliver_waiting(true));
            let sent = bench.replies.attempts();
            assert_eq!(sent.len(), 1);
            assert_eq!(sent[0].mail_from, None, "replies use the null reverse-path");
            assert_eq!(sent[0].recipients, ["mallory@else.example"]);
            assert!(sent[0].text().contains("Auto-Submitted: auto-replied"));
            let record = bench.quarantine.record(&decided.queue_id).unwrap();
            assert_eq!(record.decision.reply, reply, "spool {spool}, {answer:?}");
            assert_eq!(rt.block_on(bench.actor.spool_waiting()), waiting);
            assert!(
                bench.queue.attempts().is_empty(),
                "refused mail never reaches the queue"
            );
        }
    }
}

/// A reply that waits for its transport is sent once it is back, and only once.
#[test]
fn a_queued_reply_is_sent_when_the_transport_is_back() {
    let bench = bench(false, &[]);
    bench.replies.answer([temporary(), temporary()]);
    let rt = runtime();
    let receipt = rt.block_on(receive(
        &bench.engine,
        &bench.actor,
        transaction("mallory@else.example", "support+acme@vendor.example", "Hi"),
    ));
    let id = receipt.handled[0].0.queue_id.clone();
    for _ in 0..3 {
        rt.block_on(bench.actor.deliver_waiting(true));
    }
    assert_eq!(bench.replies.attempts().len(), 3);
    assert_eq!(bench.quarantine.record(&id).unwrap().decision.reply, "sent");
    assert_eq!(rt.block_on(bench.actor.deliver_waiting(true)), 0);
}

/// P4 from a plain agent: the owner and the admin are notified through the spool too, at their
/// primary addresses, and the requester's reply says so.
#[test]
fn p4_notifications_go_through_the_spool() {
    let bench = bench(false, &[]);
    let rt = runtime();
    let receipt = rt.block_on(receive(
        &bench.engine,
        &bench.actor,
        transaction(
            "chloe@acme.example",
            "support+acme@vendor.example",
            "Facture de mars",
        ),
    ));
    assert_eq!(
        receipt.handled[0].0.decision.reason.code(),
        "authorization-required"
    );
    assert_eq!(rt.block_on(bench.actor.deliver_waiting(true)), 3);
    let mut to: Vec<String> = bench
        .replies
        .attempts()
        .iter()
        .flat_map(|a| a.recipients.clone())
        .collect();
    to.sort();
    assert_eq!(
        to,
        [
            "alice@acme.example",
            "bruno@acme.example",
            "chloe@acme.example"
        ]
    );
}

/// A P4 request the quarantine could not take (`452`, the client retries) owes nothing yet:
/// the retry sends the reply *and* the owner/admin notifications. Before, the notification
/// claim was kept though nothing had been queued, and the retry told the owner nothing.
#[test]
fn a_deferred_p4_request_notifies_the_owner_when_it_is_retried() {
    let bench = bench(false, &[]);
    let rt = runtime();
    let p4 = || {
        transaction(
            "chloe@acme.example",
            "support+acme@vendor.example",
            "Facture de mars",
        )
    };
    // A file where the quarantine folder should be: the keep fails.
    let root = bench.quarantine.root().to_path_buf();
    std::fs::write(&root, b"not a folder").unwrap();
    let receipt = rt.block_on(receive(&bench.engine, &bench.actor, p4()));
    assert_eq!(
        receipt.handled[0].1.outcome,
        Outcome::Deferred(Defer::Storage)
    );
    assert_eq!(
        rt.block_on(bench.actor.deliver_waiting(true)),
        0,
        "nothing queued"
    );
    std::fs::remove_file(&root).unwrap();
    let receipt = rt.block_on(receive(&bench.engine, &bench.actor, p4()));
    assert_eq!(receipt.handled[0].1.outcome, Outcome::Quarantined);
    assert_eq!(receipt.handled[0].1.auto_reply, AutoReply::Queued);
    assert_eq!(
        rt.block_on(bench.actor.deliver_waiting(true)),
        3,
        "reply + 2 notifications"
    );
}

/// The same sender and reason twice: one reply; the second is suppressed and says so.
#[test]
fn second_reply_within_the_interval_is_suppressed() {
    let bench = bench(false, &[]);
    let rt = runtime();
    let mut fates = Vec::new();
    for _ in 0..2 {
        let receipt = rt.block_on(receive(
            &bench.engine,
            &bench.actor,
            transaction("mallory@else.example", "support+acme@vendor.example", "Hi"),
        ));
        fates.push(receipt.handled[0].1.auto_reply.clone());
    }
    assert_eq!(
        fates,
        [
            AutoReply::Queued,
            AutoReply::Suppressed("already-replied".into())
        ]
    );
    rt.block_on(bench.actor.deliver_waiting(true));
    assert_eq!(bench.replies.attempts().len(), 1);
}

/// `reject` and `quarantine` never touch a target.
#[test]
fn reject_and_quarantine_touch_no_target() {
    for (action, expected, kept) in [
        (
            "reject",
            Outcome::Rejected(crate::policy::Reason::NotRegistered),
            0,
        ),
        ("quarantine", Outcome::Quarantined, 1),
    ] {
        for spool in [false, true] {
            let bench = bench(spool, &[("not-registered", action)]);
            let rt = runtime();
            let receipt = rt.block_on(receive(
                &bench.engine,
                &bench.actor,
                transaction("mallory@else.example", "support+acme@vendor.example", "Hi"),
            ));
            assert_eq!(receipt.handled[0].1.outcome, expected);
            assert_eq!(receipt.handled[0].1.auto_reply, AutoReply::None);
            assert_eq!(rt.block_on(bench.actor.deliver_waiting(true)), 0);
            assert!(bench.queue.attempts().is_empty() && bench.replies.attempts().is_empty());
            assert_eq!(bench.quarantine.count(), kept);
        }
    }
}

/// One transaction for two accounts, one rejected: the rejection is kept instead (the other
/// recipient gets a 250), and the SMTP answer is the 250.
#[test]
fn mixed_transaction_keeps_the_rejected_part() {
    let bench = bench(false, &[("not-registered", "reject")]);
    let mut transaction = transaction("hank@globex.example", "support+acme@vendor.example", "Hi");
    transaction
        .recipients
        .push("support+globex@vendor.example".into());
    let receipt = runtime().block_on(receive(&bench.engine, &bench.actor, transaction));
    let mut outcomes: Vec<_> = receipt.handled.iter().map(|(_, a)| a.outcome).collect();
    outcomes.sort_by_key(|o| o.as_str());
    assert_eq!(outcomes, [Outcome::Forwarded, Outcome::Quarantined]);
    let replies: Vec<_> = receipt
        .handled
        .iter()
        .map(|(_, a)| crate::smtp::SmtpReply::for_outcome(a))
        .collect();
    assert_eq!(crate::smtp::SmtpReply::combine(replies).code, 250);
    assert_eq!(
        bench.queue.attempts()[0].recipients,
        ["support+globex@vendor.example"]
    );
}

/// Outcomes map to the SMTP codes of SPEC §4 and §6.
#[test]
fn every_outcome_has_its_smtp_code() {
    use crate::act::Acted;
    let rows = [
        (Outcome::Forwarded, 250, (2, 0, 0)),
        (Outcome::Spooled, 250, (2, 0, 0)),
        (Outcome::Quarantined, 250, (2, 0, 0)),
        (
            Outcome::Rejected(crate::policy::Reason::MalformedSender),
            550,
            (5, 7, 1),
        ),
        (Outcome::Deferred(Defer::TicketQueue), 451, (4, 4, 1)),
        (Outcome::Deferred(Defer::Storage), 452, (4, 3, 1)),
        (Outcome::Deferred(Defer::Authentication), 451, (4, 4, 3)),
        (Outcome::RefusedUpstream, 554, (5, 0, 0)),
    ];
    for (outcome, code, enhanced) in rows {
        let acted = Acted {
            queue_id: "Q1".into(),
            recipients: Vec::new(),
            outcome,
            auto_reply: AutoReply::None,
        };
        let reply = crate::smtp::SmtpReply::for_outcome(&acted);
        assert_eq!(
            (reply.code, reply.enhanced),
            (code, Some(enhanced)),
            "{outcome:?}"
        );
        assert_eq!(reply.is_positive(), outcome.is_safe(), "{outcome:?}");
    }
}
