//! Black-box: approval by the owner or an admin (SPEC §11, issue 14) over real SMTP against
//! `supportgate serve`: a plain agent's invoice request is held, the owner and the admin are
//! asked, the owner's reply releases it with the approval headers; everything else changes
//! nothing, a forged owner (`verify` mode against a real DNS server on loopback) included.

// The `gateway_support` harness, through `auth_support` (which builds on it): one `Gateway`
// type for the tests in `verify` mode and the others.
mod auth_support;

use auth_support::gw as gateway_support;
use auth_support::{start_gateway, verify_mode, zones, Dns};
use gateway_support::{field_str, header, header_values, message, poll, Gateway, Options};

const ACME: &str = "support+acme@vendor.example";

/// The decoded text body of a message.
fn body_text(raw: &str) -> String {
    mail_parser::MessageParser::default()
        .parse(raw.as_bytes())
        .and_then(|m| m.body_text(0).map(|t| t.into_owned()))
        .unwrap_or_default()
}

fn to(message: &str) -> String {
    header(message, "To")
}

/// Chloé (a plain agent of acme) asks for an invoice: held. Returns its queue id and the
/// approve address the owner was sent.
fn hold_an_invoice_request(gw: &Gateway) -> (String, String) {
    let before = gw.outbox().len();
    let request = message(
        "chloe@acme.example",
        "Invoice for March",
        &[],
        "Could you send me the March invoice?\n",
    );
    let reply = gw.send("chloe@acme.example", &[ACME], &request);
    assert!(reply.starts_with("250 "), "{reply}");
    let decision = gw
        .decisions()
        .into_iter()
        .rev()
        .find(|d| field_str(d, "reason") == "authorization-required")
        .expect("decision line");
    assert_eq!(field_str(&decision, "action"), "hold");
    assert_eq!(field_str(&decision, "outcome"), "held");
    let queue_id = field_str(&decision, "queue_id");
    let outbox = poll(|| {
        let outbox = gw.outbox();
        (outbox.len() >= before + 3).then_some(outbox)
    })
    .expect("three messages: the held notice and two approval requests");
    let new = &outbox[before..];
    assert_eq!(new.len(), 3, "{new:#?}");
    let held: Vec<_> = new.iter().filter(|m| to(m).contains("chloe@")).collect();
    assert_eq!(held.len(), 1, "{new:#?}");
    assert!(
        body_text(held[0]).contains("Nous avons conservé votre demande"),
        "{}",
        held[0]
    );
    let mut approve = String::new();
    for approver in ["alice@acme.example", "bruno@acme.example"] {
        let asked: Vec<_> = new.iter().filter(|m| to(m).contains(approver)).collect();
        assert_eq!(asked.len(), 1, "request to {approver}: {new:#?}");
        let reply_to = header(asked[0], "Reply-To");
        assert!(reply_to.starts_with("support+approve-"), "{reply_to}");
        assert!(reply_to.ends_with("@vendor.example"), "{reply_to}");
        let text = body_text(asked[0]);
        assert!(text.contains("chloe@acme.example"), "{text}");
        assert!(
            text.contains("> Could you send me the March invoice?"),
            "{text}"
        );
        assert!(
            text.contains(&reply_to.replace("approve-", "decline-")),
            "{text}"
        );
        approve = reply_to;
    }
    assert!(gw.tickets().is_empty(), "nothing forwarded while held");
    (queue_id, approve)
}

fn approval_lines(gw: &Gateway) -> Vec<serde_json::Value> {
    gw.decisions()
        .into_iter()
        .filter(|d| field_str(d, "verdict") == "approval")
        .collect()
}

fn wait_approval_lines(gw: &Gateway, n: usize) -> Vec<serde_json::Value> {
    poll(|| {
        let lines = approval_lines(gw);
        (lines.len() >= n).then_some(lines)
    })
    .unwrap_or_else(|| panic!("{n} approval lines:\n{}", gw.log()))
}

/// An approver's answer ("Reply" to the approval request, any text).
fn answer(from: &str) -> Vec<u8> {
    message(from, "Re: Votre accord est demandé", &[], "OK pour moi.\n")
}

#[test]
fn the_owner_approves_the_admin_is_too_late_and_others_change_nothing() {
    let gw = Gateway::start(Options::default());
    let (queue_id, approve) = hold_an_invoice_request(&gw);

    // A plain agent, and the owner of another account, write to the approve address.
    for intruder in ["agent@acme.example", "grace@globex.example"] {
        let reply = gw.send(intruder, &[&approve], &answer(intruder));
        assert!(reply.starts_with("250 "), "{reply}");
    }
    let lines = wait_approval_lines(&gw, 2);
    assert!(
        lines
            .iter()
            .all(|l| field_str(l, "reason") == "not-an-approver"),
        "{lines:#?}"
    );
    assert!(
        lines.iter().all(|l| field_str(l, "request") == queue_id),
        "{lines:#?}"
    );
    let kept = gw.quarantine();
    assert_eq!(kept.len(), 2, "both quarantined");
    assert!(kept.iter().all(|(_, record, _)| record["note"]
        .as_str()
        .unwrap_or_default()
        .contains("changed nothing")));
    assert!(gw.tickets().is_empty(), "nothing released");
    let outbox_before = gw.outbox().len();

    // The owner answers: the original goes to the ticket queue, with the approval headers.
    let reply = gw.send(
        "alice@acme.example",
        &[&approve],
        &answer("alice@acme.example"),
    );
    assert!(reply.starts_with("250 "), "{reply}");
    let tickets = poll(|| {
        let tickets = gw.tickets();
        (!tickets.is_empty()).then_some(tickets)
    })
    .expect("the approved request in the ticket queue");
    assert_eq!(
        tickets.len(),
        1,
        "only the request, never the approval message"
    );
    let ticket = &tickets[0];
    assert_eq!(
        header(ticket, "X-Supportgate-Approved-By"),
        "alice@acme.example"
    );
    assert_eq!(header(ticket, "X-Supportgate-Approved-Role"), "owner");
    assert_eq!(header(ticket, "X-Supportgate-Verdict"), "accept");
    assert_eq!(header(ticket, "X-Supportgate-Queue-Id"), queue_id);
    assert_eq!(header(ticket, "Subject"), "Invoice for March");
    assert!(ticket.contains("Could you send me the March invoice?"));
    let lines = wait_approval_lines(&gw, 3);
    assert_eq!(field_str(&lines[2], "reason"), "approved");
    assert_eq!(field_str(&lines[2], "outcome"), "consumed");
    assert_eq!(
        field_str(&lines[2], "request"),
        queue_id,
        "shares the held request's queue id"
    );
    let granted = poll(|| {
        gw.outbox()
            .into_iter()
            .find(|m| body_text(m).contains("approuvée"))
    })
    .expect("the requester told");
    assert!(to(&granted).contains("chloe@acme.example"), "{granted}");
    assert_eq!(gw.outbox().len(), outbox_before + 1);

    // The admin's later answer changes nothing: no second ticket, a short answer to him.
    let reply = gw.send(
        "bruno@acme.example",
        &[&approve],
        &answer("bruno@acme.example"),
    );
    assert!(reply.starts_with("250 "), "{reply}");
    let lines = wait_approval_lines(&gw, 4);
    assert_eq!(field_str(&lines[3], "reason"), "no-longer-pending");
    let late = poll(|| {
        gw.outbox()
            .into_iter()
            .find(|m| body_text(m).contains("n'attend plus"))
    })
    .expect("the no-longer-pending answer");
    let late = &late;
    assert!(to(late).contains("bruno@acme.example"), "{late}");
    assert!(body_text(late).contains("n'attend plus"), "{late}");
    assert_eq!(gw.tickets().len(), 1, "one release only");
    // The CLI agrees: decided, and no longer pending.
    let listed = gw.cli(&["approval", "list", "--all", "--json"]);
    let text = String::from_utf8_lossy(&listed.stdout);
    assert!(
        text.contains(&queue_id) && text.contains("\"approved\""),
        "{text}"
    );
    let again = gw.cli(&["approval", "approve", &queue_id, "--by", "jdoe"]);
    assert_eq!(again.status.code(), Some(1), "{again:?}");
}

#[test]
fn a_decline_quarantines_the_request_and_tells_the_requester() {
    let gw = Gateway::start(Options::default());
    let (queue_id, approve) = hold_an_invoice_request(&gw);
    let decline = approve.replace("+approve-", "+decline-");
    let reply = gw.send(
        "bruno@acme.example",
        &[&decline],
        &answer("bruno@acme.example"),
    );
    assert!(reply.starts_with("250 "), "{reply}");
    let kept = poll(|| {
        gw.quarantine()
            .into_iter()
            .find(|(id, _, _)| *id == queue_id)
    })
    .expect("the declined request in the quarantine");
    let note = kept.1["note"].as_str().unwrap_or_default().to_string();
    assert!(
        note.contains("declined by bruno@acme.example (admin)"),
        "{note}"
    );
    assert!(gw.tickets().is_empty());
    let declined = poll(|| {
        gw.outbox()
            .into_iter()
            .find(|m| body_text(m).contains("refusée"))
    })
    .expect("the requester told");
    assert!(to(&declined).contains("chloe@acme.example"));
    // Approving afterwards changes nothing.
    gw.send(
        "alice@acme.example",
        &[&approve],
        &answer("alice@acme.example"),
    );
    wait_approval_lines(&gw, 2);
    assert!(gw.tickets().is_empty());
}

#[test]
fn an_unanswered_request_expires_into_the_quarantine() {
    let gw = Gateway::start_edited(Options::default(), |config| {
        let mut approval = toml::Table::new();
        approval.insert(
            "path".into(),
            config["reply_memory"]["path"]
                .as_str()
                .unwrap()
                .replace("reply-memory", "approvals")
                .into(),
        );
        approval.insert("expiry".into(), "2s".into());
        config.insert("approval".into(), approval.into());
    });
    let (queue_id, approve) = hold_an_invoice_request(&gw);
    let kept = poll(|| {
        gw.quarantine()
            .into_iter()
            .find(|(id, _, _)| *id == queue_id)
    })
    .expect("the expired request in the quarantine");
    assert!(
        kept.1["note"]
            .as_str()
            .unwrap_or_default()
            .contains("expired"),
        "{:?}",
        kept.1
    );
    let expired = poll(|| {
        gw.outbox()
            .into_iter()
            .find(|m| body_text(m).contains("n'a répondu à temps"))
    });
    assert!(expired.is_some_and(|m| to(&m).contains("chloe@acme.example")));
    // The owner's late answer: no ticket, told it is no longer pending.
    gw.send(
        "alice@acme.example",
        &[&approve],
        &answer("alice@acme.example"),
    );
    let lines = wait_approval_lines(&gw, 1);
    assert_eq!(field_str(&lines[0], "reason"), "no-longer-pending");
    assert!(gw.tickets().is_empty());
}

#[test]
fn a_held_request_survives_a_restart_and_is_approved_after_it() {
    let mut gw = Gateway::start(Options::default());
    let (queue_id, approve) = hold_an_invoice_request(&gw);
    gw.restart();
    let reply = gw.send(
        "alice@acme.example",
        &[&approve],
        &answer("alice@acme.example"),
    );
    assert!(reply.starts_with("250 "), "{reply}");
    let ticket = poll(|| gw.tickets().into_iter().next()).expect("released after the restart");
    assert_eq!(header(&ticket, "X-Supportgate-Queue-Id"), queue_id);
    assert_eq!(
        header(&ticket, "X-Supportgate-Approved-By"),
        "alice@acme.example"
    );
}

#[test]
fn an_operator_approves_from_the_command_line() {
    let gw = Gateway::start(Options::default());
    let (queue_id, _) = hold_an_invoice_request(&gw);
    let listed = gw.cli(&["approval", "list"]);
    let text = String::from_utf8_lossy(&listed.stdout).to_string();
    assert!(
        text.contains(&queue_id) && text.contains("pending"),
        "{text}"
    );
    let approved = gw.cli(&["approval", "approve", &queue_id, "--by", "jdoe"]);
    assert!(approved.status.success(), "{approved:?}");
    let ticket = poll(|| gw.tickets().into_iter().next()).expect("released by the operator");
    assert_eq!(header(&ticket, "X-Supportgate-Approved-By"), "jdoe");
    assert_eq!(header(&ticket, "X-Supportgate-Approved-Role"), "operator");
}

#[test]
fn a_forged_owner_changes_nothing_and_gets_no_reply() {
    let dns = Dns::start(&zones());
    let gw = start_gateway(&verify_mode(dns.addr, ""), &[]);
    // Chloé's own envelope passes SPF (acme.example authorises loopback; DMARC p=reject).
    let (queue_id, approve) = hold_an_invoice_request(&gw);
    let outbox_before = gw.outbox().len();

    // The owner's address in From, the attacker's envelope: SPF passes for evil.example only,
    // nothing is aligned with acme.example, so DMARC fails and P6 does not authenticate her.
    let forged = answer("Alice Martin <alice@acme.example>");
    let reply = gw.send("attacker@evil.example", &[&approve], &forged);
    assert!(reply.starts_with("250 "), "{reply}");
    let lines = wait_approval_lines(&gw, 1);
    assert_eq!(field_str(&lines[0], "reason"), "unauthenticated-sender");
    assert_eq!(field_str(&lines[0], "request"), queue_id);
    let kept = poll(|| {
        let kept = gw.quarantine();
        (!kept.is_empty()).then_some(kept)
    })
    .expect("the forged approval quarantined");
    assert_eq!(kept.len(), 1, "{kept:?}");
    let note = kept[0].1["note"].as_str().unwrap_or_default();
    assert!(note.contains("changed nothing"), "{note}");
    assert!(
        kept[0].2.contains("alice@acme.example"),
        "the forged message is what was kept"
    );
    // Still pending, nothing released, nobody answered.
    let listed = gw.cli(&["approval", "list", "--json"]);
    let text = String::from_utf8_lossy(&listed.stdout);
    assert!(
        text.contains(&queue_id) && text.contains("\"pending\""),
        "{text}"
    );
    assert!(
        gw.tickets().is_empty(),
        "a forged owner released the request"
    );

    // The genuine owner, whose envelope passes SPF aligned, approves: only now a ticket. The
    // outbox then holds the requester's notice of the approval and nothing for the forger.
    let reply = gw.send(
        "alice@acme.example",
        &[&approve],
        &answer("alice@acme.example"),
    );
    assert!(reply.starts_with("250 "), "{reply}");
    let ticket = poll(|| gw.tickets().into_iter().next()).expect("approved by the owner");
    assert_eq!(
        header(&ticket, "X-Supportgate-Approved-By"),
        "alice@acme.example"
    );
    let granted = poll(|| {
        gw.outbox()
            .into_iter()
            .find(|m| body_text(m).contains("approuvée"))
    })
    .expect("the requester told");
    assert!(to(&granted).contains("chloe@acme.example"));
    let outbox = gw.outbox();
    assert_eq!(outbox.len(), outbox_before + 1, "{outbox:#?}");
    assert!(
        outbox.iter().all(|m| !to(m).contains("evil.example")),
        "{outbox:#?}"
    );
}

#[test]
fn one_message_to_an_approve_address_and_the_support_address_is_served_for_each() {
    let gw = Gateway::start(Options::default());
    let (queue_id, approve) = hold_an_invoice_request(&gw);

    // A plain agent writes to both: her message is a ticket of its own, the approval part
    // changes nothing (a copy kept in the quarantine for the approve address only).
    let both = message(
        "agent@acme.example",
        "Printer on fire",
        &[],
        "Also, please approve.\n",
    );
    let reply = gw.send("agent@acme.example", &[&approve, ACME], &both);
    assert!(reply.starts_with("250 "), "{reply}");
    let lines = wait_approval_lines(&gw, 1);
    assert_eq!(field_str(&lines[0], "reason"), "not-an-approver");
    let ticket = poll(|| gw.tickets().into_iter().next()).expect("her message as a ticket");
    assert_eq!(header(&ticket, "Subject"), "Printer on fire");
    assert!(header_values(&ticket, "X-Supportgate-Approved-By").is_empty());
    let kept = gw.quarantine();
    assert_eq!(kept.len(), 1, "{kept:?}");
    assert_eq!(kept[0].1["recipients"], serde_json::json!([approve]));
    assert!(kept[0].1["note"]
        .as_str()
        .unwrap_or_default()
        .contains("changed nothing"));

    // The owner writes to both: the held request is approved, and her own message is a ticket
    // too — two tickets, each once.
    let both = message(
        "alice@acme.example",
        "Re: Votre accord est demandé",
        &[],
        "OK, and a question of my own.\n",
    );
    let reply = gw.send("alice@acme.example", &[&approve, ACME], &both);
    assert!(reply.starts_with("250 "), "{reply}");
    let tickets = poll(|| {
        let tickets = gw.tickets();
        (tickets.len() >= 3).then_some(tickets)
    })
    .expect("the approved request and the owner's own message");
    assert_eq!(tickets.len(), 3, "{tickets:#?}");
    let approved: Vec<_> = tickets
        .iter()
        .filter(|t| header(t, "X-Supportgate-Queue-Id") == queue_id)
        .collect();
    assert_eq!(approved.len(), 1, "{tickets:#?}");
    assert_eq!(
        header(approved[0], "X-Supportgate-Approved-By"),
        "alice@acme.example"
    );
    assert_eq!(header(approved[0], "Subject"), "Invoice for March");
    let own: Vec<_> = tickets
        .iter()
        .filter(|t| header(t, "Subject") == "Re: Votre accord est demandé")
        .collect();
    assert_eq!(own.len(), 1, "{tickets:#?}");
    assert!(header_values(own[0], "X-Supportgate-Approved-By").is_empty());
    assert_eq!(
        field_str(&wait_approval_lines(&gw, 2)[1], "reason"),
        "approved"
    );
}
