//! Black-box (issue 9): auto-replies and releases go through the durable spool. A reply
//! transport that is down costs the client nothing and loses no reply; a release is delivered
//! once, with the delivery context, however many times support staff ask.

mod gateway_support;

use gateway_support::sink::{closed_port, Answer, Sink};
use gateway_support::{header, message, poll, Gateway, Options};
use serde_json::Value;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

fn stderr(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// The record as `quarantine show` prints it (its first JSON object).
fn shown_record(gw: &Gateway, id: &str) -> Value {
    let shown = gw.cli(&["quarantine", "show", id]);
    assert!(shown.status.success(), "{}", stderr(&shown));
    let text = String::from_utf8_lossy(&shown.stdout).into_owned();
    let json_end = text
        .find("\n--- headers")
        .expect("headers after the record");
    serde_json::from_str(&text[..json_end]).unwrap_or_else(|e| panic!("{e}: {text}"))
}

fn refused_id(gw: &Gateway) -> String {
    let kept = poll(|| {
        let kept = gw.quarantine();
        (!kept.is_empty()).then_some(kept)
    })
    .expect("a quarantined message");
    kept[0].0.clone()
}

#[test]
fn reply_transport_down_then_back_the_reply_is_queued_then_sent() {
    let port = closed_port();
    let gw = Gateway::start(Options {
        replies: Some(format!("smtp://127.0.0.1:{port}")),
        ..Options::default()
    });
    let body = message(
        "mallory@else.example",
        "Where is my order?",
        &[],
        "Hello.\n",
    );
    let reply = gw.send(
        "mallory@else.example",
        &["support+acme@vendor.example"],
        &body,
    );
    assert!(
        reply.starts_with("250 "),
        "the client loses nothing: {reply}"
    );
    let id = refused_id(&gw);
    let decision = &gw.wait_decisions(1)[0];
    assert_eq!(gateway_support::field_str(decision, "reply"), "queued");
    assert_eq!(shown_record(&gw, &id)["decision"]["reply"], "queued");
    // At least one attempt failed against the closed port before the transport comes back.
    poll(|| {
        gw.log()
            .contains("spool: reply transport unavailable; will retry")
            .then_some(())
    })
    .unwrap_or_else(|| panic!("no failed attempt logged:\n{}", gw.log()));
    assert_eq!(shown_record(&gw, &id)["decision"]["reply"], "queued");

    let sink = Sink::start_on(port, Answer::Accept);
    let got = sink.wait_for(1);
    assert_eq!(got[0].mail_from, "<>");
    assert_eq!(got[0].rcpt_to, ["<mallory@else.example>"]);
    assert!(got[0].data.contains("Auto-Submitted: auto-replied"));
    poll(|| (shown_record(&gw, &id)["decision"]["reply"] == "sent").then_some(()))
        .unwrap_or_else(|| panic!("record not updated:\n{}", gw.log()));
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(sink.received().len(), 1, "the reply is sent once");
}

#[test]
fn release_twice_over_smtp_delivers_one_copy_and_records_both() {
    let sink = Sink::start(Answer::Accept);
    let gw = Gateway::start(Options {
        queue: Some(sink.url()),
        spool: true,
        ..Options::default()
    });
    let body = message("mallory@else.example", "Please forward me", &[], "Hello.\n");
    let reply = gw.send(
        "mallory@else.example",
        &["support+acme@vendor.example"],
        &body,
    );
    assert!(reply.starts_with("250 "), "{reply}");
    let id = refused_id(&gw);

    let first = gw.cli(&["quarantine", "release", &id, "--by", "alice"]);
    assert!(first.status.success(), "{}", stderr(&first));
    let second = gw.cli(&["quarantine", "release", &id, "--by", "bob"]);
    assert_eq!(second.status.code(), Some(1), "{}", stderr(&second));
    assert!(
        stderr(&second).contains("already released by alice at "),
        "{}",
        stderr(&second)
    );

    let got = sink.wait_for(1);
    let ticket = &got[0].data;
    assert_eq!(header(ticket, "X-Supportgate-Released-By"), "alice");
    assert_eq!(header(ticket, "X-Supportgate-Queue-Id"), id);
    assert!(
        header(ticket, "Received").contains("by gw.test (supportgate)"),
        "{ticket}"
    );
    assert!(
        header(ticket, "Authentication-Results").starts_with("gw.test;"),
        "{ticket}"
    );
    poll(|| (shown_record(&gw, &id)["released"]["outcome"] == "delivered").then_some(()))
        .unwrap_or_else(|| panic!("release outcome not recorded:\n{}", gw.log()));
    let record = shown_record(&gw, &id);
    let attempts = record["release_attempts"].as_array().unwrap();
    assert_eq!(attempts.len(), 2, "{record}");
    assert_eq!(attempts[0]["by"], "alice");
    assert_eq!(attempts[1]["by"], "bob");
    assert!(attempts[1]["outcome"]
        .as_str()
        .unwrap()
        .starts_with("refused: already released by alice"));
    // The spool is empty and the sink still has one copy: nothing else will come.
    let queued = gw.cli(&["queue", "list", "--json"]);
    assert!(queued.status.success(), "{}", stderr(&queued));
    assert!(
        queued.stdout.is_empty(),
        "{}",
        String::from_utf8_lossy(&queued.stdout)
    );
    assert_eq!(sink.received().len(), 1);
}

#[test]
fn release_through_pipe_tells_the_command_account_agent_and_queue_id() {
    let scripts = tempfile::tempdir().unwrap();
    let script = scripts.path().join("gate.sh");
    let env = scripts.path().join("env.txt");
    fs::write(
        &script,
        format!(
            "#!/bin/sh\ncat > /dev/null\nenv | grep '^SUPPORTGATE_' | sort > '{}'\n",
            env.display()
        ),
    )
    .unwrap();
    fs::set_permissions(&script, fs::Permissions::from_mode(0o755)).unwrap();
    let gw = Gateway::start(Options {
        queue: Some(format!("pipe:{}", script.display())),
        // Refused and kept (not held for approval, SPEC 11), so that it can be released.
        actions: vec![("authorization-required", "reply")],
        ..Options::default()
    });
    // A plain agent asking for an invoice: refused (P4), kept with its account and agent.
    let body = message("chloe@acme.example", "Facture de mars", &[], "Merci.\n");
    let reply = gw.send(
        "chloe@acme.example",
        &["support+acme@vendor.example"],
        &body,
    );
    assert!(reply.starts_with("250 "), "{reply}");
    let id = refused_id(&gw);
    assert!(
        !env.exists(),
        "nothing reached the helpdesk before the release"
    );
    let released = gw.cli(&["quarantine", "release", &id, "--by", "alice"]);
    assert!(released.status.success(), "{}", stderr(&released));
    let text = poll(|| fs::read_to_string(&env).ok().filter(|t| !t.is_empty()))
        .unwrap_or_else(|| panic!("the command did not run:\n{}", gw.log()));
    assert!(text.contains("SUPPORTGATE_ACCOUNT=acme\n"), "{text}");
    assert!(
        text.contains("SUPPORTGATE_AGENT=chloe@acme.example\n"),
        "{text}"
    );
    assert!(text.contains("SUPPORTGATE_ROLE=agent\n"), "{text}");
    assert!(
        text.contains(&format!("SUPPORTGATE_QUEUE_ID={id}\n")),
        "{text}"
    );
    assert!(
        text.contains("SUPPORTGATE_SENDER=chloe@acme.example\n"),
        "{text}"
    );
}
