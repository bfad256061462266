//! Black-box: the decision line in `[log] format = "json"` carries every key of issue 5 §1,
//! and never the body.

mod gateway_support;
mod ops_support;

use gateway_support::{field, message};
use ops_support::{Server, Start};

#[test]
fn the_json_decision_line_has_every_key_and_no_body() {
    let server = Server::start(Start::default());
    let body = message(
        "Mallory <mallory@else.example>",
        "Where is my ticket?",
        &[],
        "SECRET-BODY-LINE\n",
    );
    let reply = server.send(
        "bounces@else.example",
        &["support+acme@vendor.example"],
        &body,
    );
    assert!(reply.starts_with("250 "), "{reply}");
    let line = gateway_support::poll(|| server.decisions().into_iter().next())
        .unwrap_or_else(|| panic!("no decision line:\n{}", server.log()));
    for key in [
        "queue_id",
        "message_id",
        "peer",
        "helo",
        "mail_from",
        "from",
        "recipients",
        "account",
        "agent",
        "role",
        "verdict",
        "reason",
        "action",
        "auth",
        "reply",
        "size",
        "duration_ms",
    ] {
        assert!(field(&line, key).is_some(), "{key} missing in {line}");
    }
    let s = |k: &str| gateway_support::field_str(&line, k);
    assert_eq!(s("level"), "INFO");
    assert_eq!(s("peer"), "127.0.0.1");
    assert_eq!(s("helo"), "client.example");
    assert_eq!(s("mail_from"), "bounces@else.example");
    assert_eq!(s("from"), "mallory@else.example");
    assert_eq!(s("recipients"), "support+acme@vendor.example");
    assert_eq!(s("account"), "acme");
    assert_eq!(s("verdict"), "refuse");
    assert_eq!(s("reason"), "not-registered");
    assert_eq!(s("action"), "reply");
    assert_eq!(s("reply"), "queued");
    assert!(s("message_id").contains("@client.example"), "{line}");
    assert!(s("auth").starts_with("spf="), "{line}");
    assert_eq!(
        field(&line, "size").and_then(|v| v.as_u64()),
        Some(body.len() as u64)
    );
    // The queue id is the quarantine's folder name.
    let queue_id = s("queue_id");
    assert!(
        server.var("quarantine").join(&queue_id).is_dir(),
        "{queue_id}"
    );
    assert!(
        !server.log().contains("SECRET-BODY-LINE"),
        "the body reached the log"
    );

    // Session events are lines of their own, at their own level.
    let events = server.events();
    let connect = events
        .iter()
        .find(|e| gateway_support::field_str(e, "message") == "connect")
        .expect("a connect line");
    assert_eq!(gateway_support::field_str(connect, "level"), "INFO");
    assert!(field(connect, "session").is_some(), "{connect}");
}

#[test]
fn a_reply_suppressed_says_why_in_the_decision_line() {
    let server = Server::start(Start::default());
    // A stranger writes twice (two messages): the second auto-reply is suppressed. (An
    // auto-reply of theirs would be `automated`, never replied to: no reply to suppress.)
    for subject in ["Where is my ticket?", "Where is my ticket now?"] {
        let body = message("Mallory <mallory@else.example>", subject, &[], "Hi.\n");
        let reply = server.send(
            "mallory@else.example",
            &["support+acme@vendor.example"],
            &body,
        );
        assert!(reply.starts_with("250 "), "{reply}");
    }
    let lines = gateway_support::poll(|| {
        let decisions = server.decisions();
        (decisions.len() >= 2).then_some(decisions)
    })
    .unwrap();
    assert_eq!(
        gateway_support::field_str(&lines[0], "reply"),
        "queued",
        "{}",
        lines[0]
    );
    let reply = gateway_support::field_str(&lines[1], "reply");
    assert_eq!(reply, "suppressed:already-replied", "{}", lines[1]);
}
