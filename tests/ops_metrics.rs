//! Black-box: `/metrics` after real mail (issue 5 "a test scrapes /metrics after sending mail
//! and asserts the counters moved by the right labels").

mod gateway_support;
mod ops_support;

use gateway_support::message;
use ops_support::{sample, Server, Start};

fn metrics_server() -> Server {
    Server::start(Start {
        metrics: true,
        ..Start::default()
    })
}

#[test]
fn counters_move_with_the_labels_of_what_happened() {
    let server = metrics_server();
    let before = settled_scrape(&server);
    assert_eq!(
        sample(
            &before,
            r#"supportgate_decisions_total{verdict="accept",reason="accepted",action="forward"}"#
        ),
        0.0
    );
    assert!(
        before.contains("supportgate_build_info{version=\""),
        "{before}"
    );

    let accepted = message("chloe@acme.example", "Printer queue stuck", &[], "Hi.\n");
    let reply = server.send(
        "chloe@acme.example",
        &["support+acme@vendor.example"],
        &accepted,
    );
    assert!(reply.starts_with("250 "), "{reply}");
    let refused = message(
        "Mallory <mallory@else.example>",
        "Where is my ticket?",
        &[],
        "Hi.\n",
    );
    let reply = server.send(
        "mallory@else.example",
        &["support+acme@vendor.example"],
        &refused,
    );
    assert!(reply.starts_with("250 "), "{reply}");
    // Same sender, same reason: the second auto-reply is suppressed (a new message: the same
    // Message-ID again would be `mail-loop`).
    let refused_again = message(
        "Mallory <mallory@else.example>",
        "Where is my ticket?",
        &[],
        "Hi.\n",
    );
    let reply = server.send(
        "mallory@else.example",
        &["support+acme@vendor.example"],
        &refused_again,
    );
    assert!(reply.starts_with("250 "), "{reply}");
    // A recipient that is no support address: 550 at RCPT.
    let mut smtp = server.smtp();
    smtp.expect("EHLO client.example", "250");
    smtp.expect("MAIL FROM:<x@else.example>", "250");
    smtp.expect("RCPT TO:<nobody@else.example>", "550");
    smtp.quit();

    let after = settled_scrape(&server);
    let expect = |series: &str, value: f64| {
        assert_eq!(sample(&after, series), value, "{series} in\n{after}");
    };
    expect(
        r#"supportgate_decisions_total{verdict="accept",reason="accepted",action="forward"}"#,
        1.0,
    );
    expect(
        r#"supportgate_decisions_total{verdict="refuse",reason="not-registered",action="reply"}"#,
        2.0,
    );
    // Queued at the decision, sent once the spool delivered it to the outbox.
    expect(r#"supportgate_auto_replies_total{result="queued"}"#, 1.0);
    let sent = r#"supportgate_auto_replies_total{result="sent"}"#;
    gateway_support::poll(|| (sample(&server.scrape(), sent) == 1.0).then_some(()))
        .unwrap_or_else(|| panic!("{sent} never reached 1:\n{}", server.scrape()));
    // The auto-reply went through the spool: made durable (one message, in one or more
    // fdatasync'd batches that took some time), delivered, nothing left waiting.
    let spooled = server.scrape();
    let spool = |series: &str| sample(&spooled, series);
    assert_eq!(spool("supportgate_spool_stored_total"), 1.0, "{spooled}");
    assert!(spool("supportgate_spool_syncs_total") >= 1.0, "{spooled}");
    assert!(
        spool("supportgate_spool_sync_seconds_total") > 0.0,
        "{spooled}"
    );
    assert_eq!(
        spool(r#"supportgate_spool_deliveries_total{result="delivered"}"#),
        1.0,
        "{spooled}"
    );
    assert_eq!(spool("supportgate_spool_messages"), 0.0, "{spooled}");
    // One address and reason remembered (the second reply was suppressed by it).
    expect("supportgate_reply_memory_entries", 1.0);
    expect(
        r#"supportgate_auto_replies_suppressed_total{cause="already-replied"}"#,
        1.0,
    );
    expect(
        r#"supportgate_authentication_results_total{method="spf",result="none"}"#,
        3.0,
    );
    // Four sessions of ours, after the start-up probes counted in `before`.
    let sessions = sample(&after, "supportgate_smtp_sessions_total")
        - sample(&before, "supportgate_smtp_sessions_total");
    assert_eq!(sessions, 4.0, "{after}");
    expect("supportgate_smtp_sessions_open", 0.0);
    expect("supportgate_decision_duration_seconds_count", 3.0);
    expect("supportgate_message_duration_seconds_count", 3.0);
    // Two refused messages kept in the quarantine (reply action keeps the message).
    expect("supportgate_quarantine_messages", 2.0);
    assert!(
        sample(&after, r#"supportgate_smtp_replies_total{class="5xx"}"#) >= 1.0,
        "{after}"
    );
    assert!(
        sample(&after, r#"supportgate_smtp_replies_total{class="2xx"}"#) >= 12.0,
        "{after}"
    );
    assert!(
        sample(&after, r#"supportgate_smtp_replies_total{class="3xx"}"#) >= 3.0,
        "{after}"
    );
}

#[test]
fn limit_hits_and_transport_errors_are_counted_by_kind() {
    let server = Server::start(Start {
        metrics: true,
        // A ticket queue that refuses connections: forward fails temporarily (451).
        options: gateway_support::Options {
            queue: Some(format!("smtp://127.0.0.1:{}", gateway_support::free_port())),
            ..Default::default()
        },
        edit: Box::new(|_, config| {
            ops_support::table(config, "server").insert("max_recipients".into(), 1.into());
        }),
        ..Start::default()
    });
    let mut smtp = server.smtp();
    smtp.expect("EHLO client.example", "250");
    smtp.expect("MAIL FROM:<chloe@acme.example>", "250");
    smtp.expect("RCPT TO:<support+acme@vendor.example>", "250");
    smtp.expect("RCPT TO:<support+globex@vendor.example>", "452");
    smtp.expect("DATA", "354");
    let body = message("chloe@acme.example", "Printer", &[], "Hi.\n");
    smtp.write(&gateway_support::dot_stuffed(&body));
    smtp.write(b".\r\n");
    let reply = smtp.reply();
    assert!(reply.starts_with("451 "), "{reply}");
    smtp.quit();

    let after = server.scrape();
    assert_eq!(
        sample(
            &after,
            r#"supportgate_smtp_limit_hits_total{kind="recipients"}"#
        ),
        1.0,
        "{after}"
    );
    assert_eq!(
        sample(
            &after,
            r#"supportgate_transport_errors_total{transport="queue",kind="temporary"}"#
        ),
        1.0,
        "{after}"
    );
    assert_eq!(
        sample(&after, r#"supportgate_smtp_replies_total{class="4xx"}"#),
        2.0,
        "{after}"
    );
}

#[test]
fn only_get_metrics_is_served() {
    let server = metrics_server();
    let (status, _) = server.http_get("/");
    assert!(status.contains(" 404 "), "{status}");
    let (status, _) = server.http_get("/metrics/../etc/passwd");
    assert!(status.contains(" 404 "), "{status}");
    let (status, body) = server.http_get("/metrics?name[]=x");
    assert!(status.contains(" 200 "), "{status}");
    assert!(body.ends_with("# EOF\n"), "{body}");
}

/// A scrape once no session is open and the session count has stopped moving (the start-up
/// probe's connection and our last QUIT are counted when the server gets to them, which may be
/// just after the client side is done).
fn settled_scrape(server: &Server) -> String {
    let total = |scrape: &str| sample(scrape, "supportgate_smtp_sessions_total");
    gateway_support::poll(|| {
        let first = server.scrape();
        std::thread::sleep(std::time::Duration::from_millis(100));
        let second = server.scrape();
        (sample(&second, "supportgate_smtp_sessions_open") == 0.0
            && total(&first) == total(&second))
        .then_some(second)
    })
    .unwrap_or_else(|| server.scrape())
}
