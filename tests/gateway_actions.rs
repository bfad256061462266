//! Black-box: `supportgate serve` over a real socket, one action per test (SPEC §4, §6):
//! forward, reply (and keep), reject, quarantine; reply memory across a restart; P4; several
//! accounts in one transaction; a client that disappears mid-DATA.

mod gateway_support;

use gateway_support::{
    field_str, header, header_values, message, Gateway, Options, HOSTNAME, WAIT,
};
use std::time::{Duration, Instant};

const SUPPORT: &str = "support@vendor.example";

/// The decoded text body of a message from the outbox.
fn body_text(raw: &str) -> String {
    mail_parser::MessageParser::default()
        .parse(raw.as_bytes())
        .and_then(|m| m.body_text(0).map(|t| t.replace("\r\n", "\n")))
        .unwrap_or_else(|| panic!("no text body:\n{raw}"))
}

#[test]
fn accepted_mail_is_forwarded_once_with_our_trace_headers_and_forged_verdicts_removed() {
    let gw = Gateway::start(Options::default());
    let body = message(
        "Chloé Bernard <chloe@acme.example>",
        "Printer queue stuck",
        &[
            "X-Supportgate-Verdict: accept",
            "X-SUPPORTGATE-Account:\r\n globex",
            &format!("Authentication-Results: {HOSTNAME}; dmarc=pass header.from=acme.example"),
        ],
        "Hello,\nthe printer queue is stuck.\n.leading dot line\n",
    );
    let reply = gw.send(
        "chloe@acme.example",
        &["support+acme@vendor.example"],
        &body,
    );
    assert!(reply.starts_with("250 "), "{reply}\n{}", gw.log());

    let tickets = gw.tickets();
    assert_eq!(tickets.len(), 1, "{tickets:?}");
    let ticket = &tickets[0];
    let decision = &gw.wait_decisions(1)[0];
    let queue_id = field_str(decision, "queue_id");
    assert!(!queue_id.is_empty(), "{decision}");
    assert!(reply.contains(&queue_id), "{reply} vs {queue_id}");

    // Our headers come first, before the original ones.
    assert!(ticket.starts_with("Received: "), "{ticket}");
    let received = header_values(ticket, "Received");
    assert_eq!(received.len(), 1, "{received:?}");
    assert!(received[0].contains(&queue_id), "{received:?}");
    assert!(received[0].contains(HOSTNAME), "{received:?}");
    let auth = header_values(ticket, "Authentication-Results");
    assert_eq!(
        auth.len(),
        1,
        "forged Authentication-Results kept: {auth:?}"
    );
    assert!(auth[0].starts_with(HOSTNAME), "{auth:?}");
    assert!(
        !auth[0].contains("dmarc=pass"),
        "forged value kept: {auth:?}"
    );
    assert_eq!(header(ticket, "X-Supportgate-Verdict"), "accept");
    assert_eq!(header(ticket, "X-Supportgate-Reason"), "accepted");
    assert_eq!(header(ticket, "X-Supportgate-Account"), "acme");
    assert_eq!(header(ticket, "X-Supportgate-Agent"), "chloe@acme.example");
    assert_eq!(header(ticket, "X-Supportgate-Role"), "agent");
    assert!(
        !ticket.contains("globex"),
        "forged folded header kept:\n{ticket}"
    );
    // The original bytes follow (dot-stuffing undone).
    assert!(
        ticket.contains("Subject: Printer queue stuck\r\n"),
        "{ticket}"
    );
    assert!(ticket.ends_with("\r\n.leading dot line\r\n"), "{ticket}");

    assert!(gw.quarantine().is_empty());
    assert!(gw.outbox().is_empty());
    assert_eq!(field_str(decision, "verdict"), "accept");
    assert_eq!(field_str(decision, "action"), "forward");
}

#[test]
fn a_forged_verdict_on_refused_mail_reaches_neither_the_ticket_queue_nor_the_reply() {
    let gw = Gateway::start(Options::default());
    let body = message(
        "mallory@else.example",
        "Please help",
        &[
            "X-Supportgate-Verdict: accept",
            "X-Supportgate-Reason: accepted",
        ],
        "Let me in.\n",
    );
    let reply = gw.send(
        "mallory@else.example",
        &["support+acme@vendor.example"],
        &body,
    );
    assert!(reply.starts_with("250 "), "{reply}");
    assert!(gw.tickets().is_empty(), "{:?}", gw.tickets());
    let outbox = gw.outbox();
    assert_eq!(outbox.len(), 1);
    // The reply carries our own X-Supportgate-Reason, never the sender's verdict.
    assert!(
        header_values(&outbox[0], "X-Supportgate-Verdict").is_empty(),
        "{}",
        outbox[0]
    );
    assert_eq!(header(&outbox[0], "X-Supportgate-Reason"), "not-registered");
    let kept = gw.quarantine();
    assert_eq!(kept.len(), 1);
    assert_eq!(kept[0].1["decision"]["verdict"], "refuse");
    assert_eq!(kept[0].1["decision"]["reason"], "not-registered");
}

#[test]
fn not_registered_is_replied_to_and_kept() {
    let gw = Gateway::start(Options::default());
    let body = message(
        "Mallory <mallory@else.example>",
        "Where is my ticket?",
        &[],
        "Hi.\n",
    );
    // The envelope sender differs from From: the reply goes to the envelope sender.
    let reply = gw.send(
        "bounces-mallory@else.example",
        &["support+acme@vendor.example"],
        &body,
    );
    assert!(reply.starts_with("250 "), "{reply}");

    let kept = gw.quarantine();
    assert_eq!(kept.len(), 1, "{kept:?}");
    let (id, record, original) = &kept[0];
    assert_eq!(record["id"], id.as_str());
    assert_eq!(record["decision"]["reason"], "not-registered");
    assert_eq!(record["decision"]["verdict"], "refuse");
    assert_eq!(record["decision"]["account"], "acme");
    assert_eq!(record["decision"]["action"], "reply");
    assert_eq!(record["mail_from"], "bounces-mallory@else.example");
    assert_eq!(original.as_bytes(), body.as_slice());

    let outbox = gw.outbox();
    assert_eq!(outbox.len(), 1, "{outbox:?}");
    let auto = &outbox[0];
    assert_eq!(header(auto, "Auto-Submitted"), "auto-replied");
    assert!(
        header(auto, "To").contains("bounces-mallory@else.example"),
        "{auto}"
    );
    assert!(
        header(auto, "From").contains("no-reply@vendor.example"),
        "{auto}"
    );
    assert!(
        header(auto, "Subject").contains("Where is my ticket?"),
        "{auto}"
    );
    let message_id = header_values(&String::from_utf8_lossy(&body), "Message-ID").remove(0);
    assert_eq!(header(auto, "In-Reply-To"), message_id);
    assert!(header(auto, "References").contains(&message_id));
    assert!(gw.tickets().is_empty());

    let decision = &gw.wait_decisions(1)[0];
    assert_eq!(field_str(decision, "reason"), "not-registered");
    // The log line is written at the decision: the reply is in the spool then.
    assert_eq!(field_str(decision, "reply"), "queued");
    assert_eq!(gw.quarantine()[0].1["decision"]["reply"], "sent");
    assert_eq!(field_str(decision, "queue_id"), *id);
}

#[test]
fn malformed_sender_is_rejected_at_end_of_data_and_nothing_is_kept() {
    let gw = Gateway::start(Options::default());
    let body = message(
        "chloe@acme.example, mallory@else.example",
        "Two senders",
        &[],
        "Hi.\n",
    );
    let reply = gw.send("chloe@acme.example", &[SUPPORT], &body);
    assert!(reply.starts_with("550 5.7.1 "), "{reply}");
    let decision = &gw.wait_decisions(1)[0];
    assert_eq!(field_str(decision, "reason"), "malformed-sender");
    assert_eq!(field_str(decision, "action"), "reject");
    gw.assert_nothing_kept();
}

#[test]
fn quarantine_action_keeps_without_reply() {
    let gw = Gateway::start(Options {
        actions: vec![("not-registered", "quarantine")],
        ..Options::default()
    });
    let body = message("mallory@else.example", "Hello", &[], "Hi.\n");
    let reply = gw.send(
        "mallory@else.example",
        &["support+acme@vendor.example"],
        &body,
    );
    assert!(reply.starts_with("250 "), "{reply}");
    let kept = gw.quarantine();
    assert_eq!(kept.len(), 1);
    assert_eq!(kept[0].1["decision"]["reason"], "not-registered");
    assert_eq!(kept[0].1["decision"]["action"], "quarantine");
    assert!(gw.outbox().is_empty(), "{:?}", gw.outbox());
    assert!(gw.tickets().is_empty());
}

#[test]
fn reply_memory_survives_a_restart() {
    let mut gw = Gateway::start(Options::default());
    let body = message("mallory@else.example", "Hello again", &[], "Hi.\n");
    let rcpt = ["support+acme@vendor.example"];
    let first = gw.send("mallory@else.example", &rcpt, &body);
    assert!(first.starts_with("250 "), "{first}");
    assert_eq!(gw.outbox().len(), 1);

    gw.restart();
    // A new message (its own Message-ID: the same one again would be `mail-loop`).
    let again = message("mallory@else.example", "Hello again", &[], "Hi.\n");
    let second = gw.send("mallory@else.example", &rcpt, &again);
    assert!(second.starts_with("250 "), "{second}");

    assert_eq!(gw.outbox().len(), 1, "a second auto-reply went out");
    let kept = gw.quarantine();
    assert_eq!(kept.len(), 2);
    assert_eq!(kept[0].1["decision"]["reply"], "sent");
    assert_eq!(
        kept[1].1["decision"]["reply"], "suppressed:already-replied",
        "{}",
        kept[1].1
    );
    let decisions = gw.wait_decisions(2);
    assert_eq!(
        field_str(&decisions[1], "reply"),
        "suppressed:already-replied"
    );
}

#[test]
fn p4_invoice_from_an_agent_notifies_owner_and_admin_without_disclosing_them() {
    let gw = Gateway::start(Options::default());
    let body = message(
        "chloe@acme.example",
        "Invoice for March",
        &[],
        "Could you send me the invoice?\n",
    );
    let reply = gw.send(
        "chloe@acme.example",
        &["support+acme@vendor.example"],
        &body,
    );
    assert!(reply.starts_with("250 "), "{reply}");
    let decision = &gw.wait_decisions(1)[0];
    assert_eq!(field_str(decision, "reason"), "authorization-required");
    assert_eq!(field_str(decision, "category"), "billing");

    let outbox = gw.outbox();
    let to = |m: &String| header(m, "To");
    let replies: Vec<_> = outbox
        .iter()
        .filter(|m| to(m).contains("chloe@acme.example"))
        .collect();
    assert_eq!(replies.len(), 1, "{outbox:#?}");
    for privileged in ["alice@acme.example", "bruno@acme.example"] {
        let notes: Vec<_> = outbox
            .iter()
            .filter(|m| to(m).contains(privileged))
            .collect();
        assert_eq!(notes.len(), 1, "notifications to {privileged}: {outbox:#?}");
        assert!(!to(notes[0]).contains("chloe"), "{}", notes[0]);
        // acme is French: the category's French label, while the log keeps its name.
        let text = body_text(notes[0]);
        assert!(text.contains("« facturation »"), "{text}");
    }
    let text = body_text(replies[0]);
    assert!(text.contains("« facturation »"), "{text}");
    assert_eq!(outbox.len(), 3, "{outbox:#?}");
    assert!(
        !outbox
            .iter()
            .any(|m| m.contains("alice.martin@gmail.example")),
        "a secondary address was used"
    );
    let reply_text = replies[0].to_ascii_lowercase();
    for secret in [
        "alice@acme.example",
        "bruno@acme.example",
        "alice.martin@gmail.example",
    ] {
        assert!(
            !reply_text.contains(secret),
            "reply discloses {secret}:\n{}",
            replies[0]
        );
    }
    assert!(gw.tickets().is_empty());
}

#[test]
fn one_transaction_for_two_accounts_gets_one_decision_each() {
    let gw = Gateway::start(Options::default());
    let body = message("chloe@acme.example", "Printer queue stuck", &[], "Hi.\n");
    let reply = gw.send(
        "chloe@acme.example",
        &[
            "support+acme@vendor.example",
            "support+globex@vendor.example",
        ],
        &body,
    );
    assert!(reply.starts_with("250 "), "{reply}");

    let decisions = gw.wait_decisions(2);
    assert_eq!(decisions.len(), 2, "{decisions:#?}");
    let mut by_account: Vec<(String, String, String)> = decisions
        .iter()
        .map(|d| {
            (
                field_str(d, "account"),
                field_str(d, "reason"),
                field_str(d, "recipients"),
            )
        })
        .collect();
    by_account.sort();
    assert_eq!(by_account[0].0, "acme");
    assert_eq!(by_account[0].1, "accepted");
    assert_eq!(by_account[0].2, "support+acme@vendor.example");
    assert_eq!(by_account[1].0, "globex");
    assert_eq!(by_account[1].1, "not-registered");
    assert_eq!(by_account[1].2, "support+globex@vendor.example");
    assert_ne!(
        field_str(&decisions[0], "queue_id"),
        field_str(&decisions[1], "queue_id")
    );

    let tickets = gw.tickets();
    assert_eq!(tickets.len(), 1);
    assert_eq!(header(&tickets[0], "X-Supportgate-Account"), "acme");
    let kept = gw.quarantine();
    assert_eq!(kept.len(), 1);
    assert_eq!(kept[0].1["decision"]["account"], "globex");
    assert_eq!(kept[0].1["recipients"][0], "support+globex@vendor.example");
    let outbox = gw.outbox();
    assert_eq!(outbox.len(), 1);
    assert!(header(&outbox[0], "To").contains("chloe@acme.example"));
}

#[test]
fn a_client_that_disconnects_mid_data_leaves_nothing() {
    let gw = Gateway::start(Options::default());
    let mut smtp = gw.smtp();
    let local = smtp.local_addr().to_string();
    smtp.expect("EHLO client.example", "250");
    smtp.expect("MAIL FROM:<chloe@acme.example>", "250");
    smtp.expect("RCPT TO:<support+acme@vendor.example>", "250");
    smtp.expect("DATA", "354");
    let body = message(
        "chloe@acme.example",
        "Cut short",
        &[],
        "first line\nsecond line\n",
    );
    smtp.write(&body);
    smtp.shutdown();

    // Wait until the server has seen the session end.
    let deadline = Instant::now() + WAIT;
    let session = loop {
        let events = gw.events();
        let session = events
            .iter()
            .find(|e| field_str(e, "message") == "connect" && field_str(e, "peer") == local)
            .map(|e| field_str(e, "session"));
        if let Some(session) = session {
            if events.iter().any(|e| {
                field_str(e, "message") == "disconnect" && field_str(e, "session") == session
            }) {
                break session;
            }
        }
        assert!(
            Instant::now() < deadline,
            "no disconnect logged:\n{}",
            gw.log()
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(!session.is_empty());
    assert!(gw.decisions().is_empty(), "{:#?}", gw.decisions());
    gw.assert_nothing_kept();
}

/// SPEC §4: "Every message gets exactly one decision" for the account it concerns. A bare
/// support address beside a `+acme` tag concerns the same account (found from the sender's
/// registrations), so the ticket queue must get the message once.
#[test]
fn the_same_account_named_two_ways_in_one_transaction_gives_one_ticket() {
    let gw = Gateway::start(Options::default());
    let body = message("chloe@acme.example", "Printer queue stuck", &[], "Hi.\n");
    let reply = gw.send(
        "chloe@acme.example",
        &[SUPPORT, "support+acme@vendor.example"],
        &body,
    );
    assert!(reply.starts_with("250 "), "{reply}");
    let decisions = gw.wait_decisions(1);
    let tickets = gw.tickets();
    assert_eq!(
        tickets.len(),
        1,
        "the acme ticket queue got the message {} times; decisions: {decisions:#?}",
        tickets.len()
    );
}

/// Our own `Authentication-Results` authserv-id in an inbound header is a forgery (RFC 8601
/// §5); it must be removed however the header is folded.
#[test]
fn a_folded_forged_authentication_results_with_our_authserv_id_is_removed() {
    let gw = Gateway::start(Options::default());
    let body = message(
        "chloe@acme.example",
        "Printer queue stuck",
        &[&format!(
            "Authentication-Results:\r\n\t{HOSTNAME}; dmarc=pass header.from=acme.example"
        )],
        "Hi.\n",
    );
    let reply = gw.send(
        "chloe@acme.example",
        &["support+acme@vendor.example"],
        &body,
    );
    assert!(reply.starts_with("250 "), "{reply}");
    let tickets = gw.tickets();
    let auth = header_values(&tickets[0], "Authentication-Results");
    assert_eq!(auth.len(), 1, "forged header kept: {auth:#?}");
}

/// SPEC §5: values copied from the incoming mail into the auto-reply are sanitised. An encoded
/// CR LF in the Subject must not become a header of the reply.
#[test]
fn an_encoded_line_break_in_the_subject_does_not_inject_a_header_into_the_reply() {
    let gw = Gateway::start(Options::default());
    let body = message(
        "mallory@else.example",
        "=?utf-8?q?Hi=0D=0ABcc:_victim@else.example=0D=0AX-Injected:_yes?=",
        &[],
        "Hi.\n",
    );
    // The folded Message-ID (copied into the reply's In-Reply-To) replaces the helper's: a
    // second Message-ID field would make the message malformed (P7, rejected).
    let text = String::from_utf8(body).unwrap();
    let start = text.find("Message-ID: ").unwrap();
    let end = start + text[start..].find("\r\n").unwrap();
    let body = format!(
        "{}Message-ID: <a@b>\r\n X-Folded-Injected: yes{}",
        &text[..start],
        &text[end..]
    )
    .into_bytes();
    let reply = gw.send(
        "mallory@else.example",
        &["support+globex@vendor.example"],
        &body,
    );
    assert!(reply.starts_with("250 "), "{reply}");
    let outbox = gw.outbox();
    assert_eq!(outbox.len(), 1);
    let auto = &outbox[0];
    for injected in ["Bcc", "X-Injected", "X-Folded-Injected"] {
        assert!(
            header_values(auto, injected).is_empty(),
            "{injected} injected:\n{auto}"
        );
    }
    assert_eq!(header_values(auto, "Subject").len(), 1, "{auto}");
}

/// SPEC §5: no reply when "a reply with the same reason already went to that address within
/// the configured interval". One transaction for two accounts, refused for the same reason for
/// both, gives the sender one auto-reply, not two.
#[test]
fn one_sender_refused_for_the_same_reason_twice_in_one_transaction_gets_one_reply() {
    let gw = Gateway::start(Options::default());
    let body = message("mallory@else.example", "Hello", &[], "Hi.\n");
    let reply = gw.send(
        "mallory@else.example",
        &[
            "support+acme@vendor.example",
            "support+globex@vendor.example",
        ],
        &body,
    );
    assert!(reply.starts_with("250 "), "{reply}");
    let decisions = gw.wait_decisions(2);
    for d in &decisions {
        assert_eq!(field_str(d, "reason"), "not-registered");
    }
    assert_eq!(gw.quarantine().len(), 2);
    let outbox = gw.outbox();
    assert_eq!(
        outbox.len(),
        1,
        "{} auto-replies for the same reason to the same address:\n{outbox:#?}",
        outbox.len()
    );
}
