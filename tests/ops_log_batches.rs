//! Black-box: `serve`'s log lines written in batches (`[log] flush_interval`, README "Logs"):
//! with the default every line arrives, in order; a stop writes what was collected, even with
//! a long interval; text lines too.

mod gateway_support;
mod ops_support;

use gateway_support::{field_str, message, poll};
use ops_support::{table, Server, Start};

/// The configuration's `[log] flush_interval` set to `interval`, or removed (the default).
fn with_interval(interval: Option<&'static str>, format: &'static str) -> Start {
    Start {
        edit: Box::new(move |_, config| {
            let log = table(config, "log");
            log.insert("format".into(), format.into());
            match interval {
                Some(interval) => log.insert("flush_interval".into(), interval.into()),
                None => log.remove("flush_interval"),
            };
        }),
        ..Start::default()
    }
}

fn send_one(server: &Server, n: usize) {
    let body = message(
        "Mallory <mallory@else.example>",
        &format!("Question {n}"),
        &[],
        "Hello.\n",
    );
    let reply = server.send(
        "mallory@else.example",
        &["support+acme@vendor.example"],
        &body,
    );
    assert!(reply.starts_with("250 "), "{reply}");
}

#[test]
fn with_the_default_interval_every_line_arrives_in_order() {
    let server = Server::start(with_interval(None, "json"));
    for n in 0..20 {
        send_one(&server, n);
    }
    let disconnects = |server: &Server| {
        server
            .events()
            .iter()
            .filter(|e| field_str(e, "message") == "disconnect")
            .count()
    };
    let decisions = poll(|| {
        let d = server.decisions();
        (d.len() >= 20 && disconnects(&server) >= 21).then_some(d)
    })
    .unwrap_or_else(|| panic!("not 20 sessions logged:\n{}", server.log()));
    assert_eq!(decisions.len(), 20, "{}", server.log());
    // Each session's lines in their order: connect, its message, disconnect.
    let events = server.events();
    // (The harness's readiness probe is a session too, without a message.)
    let sessions: Vec<String> = events
        .iter()
        .filter(|e| field_str(e, "message") == "message")
        .map(|e| field_str(e, "session"))
        .collect();
    assert_eq!(sessions.len(), 20, "{}", server.log());
    for session in &sessions {
        let of_session: Vec<String> = events
            .iter()
            .filter(|e| &field_str(e, "session") == session)
            .map(|e| field_str(e, "message"))
            .collect();
        assert_eq!(of_session.first().map(String::as_str), Some("connect"));
        assert_eq!(of_session.last().map(String::as_str), Some("disconnect"));
        assert!(
            of_session.iter().any(|m| m == "message"),
            "{session}: {of_session:?}"
        );
    }
    // Every line is whole: one JSON object each.
    for line in server.log().lines() {
        assert!(
            serde_json::from_str::<serde_json::Value>(line).is_ok(),
            "{line:?}"
        );
    }
}

#[test]
fn a_stop_writes_the_collected_lines_without_waiting_out_a_long_interval() {
    let mut server = Server::start(with_interval(Some("1s"), "text"));
    send_one(&server, 1);
    let status = server.terminate().expect("exited");
    assert!(status.success(), "{status}:\n{}", server.log());
    let log = server.log();
    for wanted in [
        "connect",
        "reason=\"not-registered\"",
        "disconnect",
        "shutdown complete",
    ] {
        assert!(log.contains(wanted), "{wanted:?} missing:\n{log}");
    }
    assert!(log.ends_with('\n'), "{log:?}");
}
