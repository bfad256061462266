//! Black-box: the spool in front of an `smtp://` ticket queue (issue 6). The client gets `250`
//! once the message is fsync'd in the spool; the spool delivery hands it over in the
//! background, retries while the upstream is down, quarantines what the upstream refuses, and
//! after a crash (SIGKILL) the restarted server delivers what was waiting.

mod gateway_support;

use gateway_support::sink::{closed_port, Answer, Sink};
use gateway_support::{message, poll, Gateway, Options};
use std::path::Path;

const ACME: &str = "support+acme@vendor.example";

fn accepted_message(n: usize) -> Vec<u8> {
    message(
        "chloe@acme.example",
        &format!("Printer queue stuck #{n}"),
        &[],
        "Hello.\n",
    )
}

fn spooled_gateway(port: u16) -> Gateway {
    Gateway::start(Options {
        queue: Some(format!("smtp://127.0.0.1:{port}")),
        spool: true,
        ..Options::default()
    })
}

/// Names of the files in a spool folder (`tmp`); `queue`: the ids waiting in the spool (its
/// segments, read as `queue list` reads them — there is no file per message any more).
fn spool_files(gw: &Gateway, folder: &str) -> Vec<String> {
    match folder {
        "queue" => gw.spooled(),
        _ => files(&gw.var("spool").join(folder)),
    }
}

fn files(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|d| {
            d.filter_map(Result::ok)
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

fn queued_id(reply: &str) -> String {
    reply
        .trim()
        .rsplit(' ')
        .next()
        .unwrap_or_default()
        .to_string()
}

fn wait_spool_empty(gw: &Gateway) {
    poll(|| spool_files(gw, "queue").is_empty().then_some(())).unwrap_or_else(|| {
        panic!(
            "spool not emptied: {:?}\n{}",
            spool_files(gw, "queue"),
            gw.log()
        )
    });
}

fn log_lines_with(gw: &Gateway, text: &str) -> usize {
    gw.log().lines().filter(|l| l.contains(text)).count()
}

#[test]
fn upstream_down_mail_is_spooled_with_250_then_delivered_when_it_comes_back() {
    let port = closed_port();
    let gw = spooled_gateway(port);
    let mut ids = Vec::new();
    for n in 0..3 {
        let reply = gw.send("chloe@acme.example", &[ACME], &accepted_message(n));
        assert!(
            reply.starts_with("250 ") && reply.contains("Queued as"),
            "{reply}\n{}",
            gw.log()
        );
        ids.push(queued_id(&reply));
    }
    ids.sort();
    assert_eq!(spool_files(&gw, "queue"), ids, "{}", gw.log());
    poll(|| (log_lines_with(&gw, "ticket queue unavailable; will retry") >= 3).then_some(()))
        .unwrap_or_else(|| panic!("no retry logged:\n{}", gw.log()));
    assert_eq!(
        spool_files(&gw, "queue"),
        ids,
        "still waiting while the upstream is down"
    );

    let sink = Sink::start_on(port, Answer::Accept);
    let received = sink.wait_for(3);
    wait_spool_empty(&gw);
    for id in &ids {
        assert!(
            received.iter().any(|r| r.data.contains(id.as_str())),
            "{id} not delivered: {received:?}"
        );
    }
    assert!(
        received
            .iter()
            .all(|r| r.rcpt_to == [format!("<{ACME}>")] || r.rcpt_to == [ACME.to_string()]),
        "{received:?}"
    );
    poll(|| (log_lines_with(&gw, "delivered to the ticket queue") == 3).then_some(()))
        .unwrap_or_else(|| panic!("one delivered line per message:\n{}", gw.log()));
    assert!(spool_files(&gw, "tmp").is_empty() && spool_files(&gw, "delivered").is_empty());
    assert!(gw.quarantine().is_empty());
}

#[test]
fn upstream_5xx_moves_the_message_to_the_quarantine_with_its_answer() {
    let sink = Sink::start(Answer::PermFail);
    let gw = spooled_gateway(sink.port);
    let reply = gw.send("chloe@acme.example", &[ACME], &accepted_message(0));
    assert!(reply.starts_with("250 "), "{reply}");
    let id = queued_id(&reply);
    sink.wait_for(1);
    let kept = poll(|| {
        let q = gw.quarantine();
        (!q.is_empty()).then_some(q)
    })
    .unwrap_or_else(|| panic!("nothing quarantined:\n{}", gw.log()));
    assert_eq!(kept.len(), 1);
    let (kept_id, record, message) = &kept[0];
    assert_eq!(kept_id, &id);
    let note = record["note"].as_str().unwrap_or_default();
    assert!(
        note.contains("refused it (5xx)") && note.contains("550"),
        "{note}"
    );
    assert!(message.contains("Printer queue stuck #0"), "{message}");
    wait_spool_empty(&gw);
    poll(|| (log_lines_with(&gw, "moved to the quarantine") == 1).then_some(()))
        .unwrap_or_else(|| panic!("one quarantine line expected:\n{}", gw.log()));
}

#[test]
fn after_a_sigkill_the_restarted_server_delivers_what_was_spooled() {
    let port = closed_port();
    let mut gw = spooled_gateway(port);
    let mut ids = Vec::new();
    for n in 0..4 {
        let reply = gw.send("chloe@acme.example", &[ACME], &accepted_message(n));
        assert!(reply.starts_with("250 "), "{reply}\n{}", gw.log());
        ids.push(queued_id(&reply));
    }
    gw.kill();
    ids.sort();
    assert_eq!(
        spool_files(&gw, "queue"),
        ids,
        "the spool survives the kill"
    );

    // The upstream comes back while the gateway is dead: only the restarted one can deliver.
    let sink = Sink::start_on(port, Answer::Accept);
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert!(sink.received().is_empty());
    gw.spawn();
    let received = sink.wait_for(4);
    wait_spool_empty(&gw);
    for id in &ids {
        let copies = received
            .iter()
            .filter(|r| r.data.contains(id.as_str()))
            .count();
        assert_eq!(copies, 1, "{id}: {copies} copies");
    }
    assert!(
        gw.log().contains("\"waiting\":4"),
        "the restarted server found the 4 messages:\n{}",
        gw.log()
    );
}
