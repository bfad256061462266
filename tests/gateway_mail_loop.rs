//! Black-box, over SMTP: SPEC §10 `mail-loop`. More than `[limits] sender_messages` messages
//! from one sender within `sender_window`, or one Message-ID twice, and the sender's mail is
//! quarantined for `sender_block`; then it is accepted again. The counts are in the redb
//! sender history and survive a restart.

mod gateway_support;

use gateway_support::{field_str, message, poll, Gateway, Options};

const ACME: &str = "support+acme@vendor.example";

fn start(block: &'static str) -> Gateway {
    Gateway::start(Options {
        limits: vec![("sender_block", block.into())],
        ..Options::default()
    })
}

fn reasons(gw: &Gateway) -> Vec<String> {
    gw.decisions()
        .iter()
        .map(|d| field_str(d, "reason"))
        .collect()
}

fn log_lines(gw: &Gateway, text: &str) -> usize {
    gw.log().lines().filter(|l| l.contains(text)).count()
}

#[test]
fn twenty_five_messages_in_a_minute_the_first_twenty_go_through_then_the_block_ends() {
    let gw = start("3s");
    for i in 0..25 {
        let bytes = message(
            "Chloé <chloe@acme.example>",
            &format!("Printer {i}"),
            &[],
            "Hi.\n",
        );
        let reply = gw.send("chloe@acme.example", &[ACME], &bytes);
        assert!(reply.starts_with("250"), "message {i}: {reply}");
    }
    gw.wait_decisions(25);
    let reasons = reasons(&gw);
    assert_eq!(reasons[..20], vec!["accepted"; 20][..], "{reasons:?}");
    assert_eq!(reasons[20..], vec!["mail-loop"; 5][..], "{reasons:?}");
    assert_eq!(gw.tickets().len(), 20);
    let kept = gw.quarantine();
    assert_eq!(kept.len(), 5);
    assert!(kept
        .iter()
        .all(|(_, record, _)| record["decision"]["reason"] == "mail-loop"));
    assert_eq!(
        log_lines(&gw, "mail loop: sender blocked"),
        1,
        "{}",
        gw.log()
    );
    // Another sender is not held back.
    let other = message("bruno@acme.example", "Hello", &[], "Hi.\n");
    gw.send("bruno@acme.example", &[ACME], &other);
    gw.wait_decisions(26);
    assert_eq!(reasons_last(&gw), "accepted");

    let ended = poll(|| (log_lines(&gw, "mail loop: block ended") == 1).then_some(()));
    assert!(ended.is_some(), "no end of block logged:\n{}", gw.log());
    let again = message("chloe@acme.example", "Printer, later", &[], "Hi.\n");
    assert!(gw
        .send("chloe@acme.example", &[ACME], &again)
        .starts_with("250"));
    gw.wait_decisions(27);
    assert_eq!(
        reasons_last(&gw),
        "accepted",
        "accepted again after the block"
    );
    assert_eq!(gw.tickets().len(), 22);
    assert_eq!(log_lines(&gw, "mail loop: sender blocked"), 1);
    assert_eq!(log_lines(&gw, "mail loop: block ended"), 1);
}

fn reasons_last(gw: &Gateway) -> String {
    reasons(gw).pop().unwrap_or_default()
}

#[test]
fn a_repeated_message_id_starts_a_block() {
    let gw = start("1h");
    let first = message("hank@globex.example", "Login slow", &[], "Hi.\n");
    let globex = "support+globex@vendor.example";
    assert!(gw
        .send("hank@globex.example", &[globex], &first)
        .starts_with("250"));
    // The same message again (same Message-ID): a loop.
    assert!(gw
        .send("hank@globex.example", &[globex], &first)
        .starts_with("250"));
    // And now anything from Hank is held back.
    let next = message("hank@globex.example", "Something else", &[], "Hi.\n");
    gw.send("hank@globex.example", &[globex], &next);
    gw.wait_decisions(3);
    assert_eq!(reasons(&gw), ["accepted", "mail-loop", "mail-loop"]);
    assert_eq!(gw.tickets().len(), 1);
    assert_eq!(gw.quarantine().len(), 2);
    assert_eq!(log_lines(&gw, "mail loop: sender blocked"), 1);
}

#[test]
fn counts_and_blocks_survive_a_restart() {
    let mut gw = start("1h");
    for i in 0..20 {
        let bytes = message(
            "grace@globex.example",
            &format!("Question {i}"),
            &[],
            "Hi.\n",
        );
        gw.send("grace@globex.example", &["support@vendor.example"], &bytes);
    }
    gw.wait_decisions(20);
    gw.restart();
    let bytes = message("grace@globex.example", "One more", &[], "Hi.\n");
    gw.send("grace@globex.example", &["support@vendor.example"], &bytes);
    gw.wait_decisions(21);
    assert_eq!(reasons_last(&gw), "mail-loop", "the 21st, after a restart");
    gw.restart();
    let bytes = message(
        "grace@globex.example",
        "After the second restart",
        &[],
        "Hi.\n",
    );
    gw.send("grace@globex.example", &["support@vendor.example"], &bytes);
    gw.wait_decisions(22);
    assert_eq!(
        reasons_last(&gw),
        "mail-loop",
        "the block survives a restart"
    );
}
