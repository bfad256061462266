//! Black-box: `supportgate quarantine list|show|release|delete` against the quarantine that a
//! running `supportgate serve` filled (SPEC §4, §7).

mod gateway_support;

use gateway_support::{header, header_values, message, Gateway, Options};
use serde_json::Value;

fn stdout(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn list_show_release_and_delete_what_the_server_kept() {
    let gw = Gateway::start(Options::default());
    // Issue 11 §8: an empty spool (off here, `[spool] enabled = false`) says so.
    let queue = gw.cli(&["queue", "list"]);
    assert!(queue.status.success(), "{}", stderr(&queue));
    assert!(stdout(&queue).contains("is empty"), "{}", stdout(&queue));
    assert!(
        stdout(&queue).contains("enabled = false"),
        "{}",
        stdout(&queue)
    );
    let queue = gw.cli(&["queue", "list", "--json"]);
    assert_eq!(stdout(&queue), "", "--json stays empty for scripts");
    let refused = message(
        "mallory@else.example",
        "Please forward me",
        &[
            "X-Supportgate-Verdict: accept",
            "X-Supportgate-Released-By: mallory",
        ],
        "Hello.\n",
    );
    let reply = gw.send(
        "mallory@else.example",
        &["support+acme@vendor.example"],
        &refused,
    );
    assert!(reply.starts_with("250 "), "{reply}");
    let other = message("team@acme.example", "From the team", &[], "Hi.\n");
    let reply = gw.send(
        "team@acme.example",
        &["support+acme@vendor.example"],
        &other,
    );
    assert!(reply.starts_with("250 "), "{reply}");
    assert_eq!(gw.quarantine().len(), 2);

    // list --json: one object per line, oldest first.
    let listed = gw.cli(&["quarantine", "list", "--json"]);
    assert!(listed.status.success(), "{}", stderr(&listed));
    let records: Vec<Value> = stdout(&listed)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    assert_eq!(records.len(), 2, "{}", stdout(&listed));
    assert_eq!(records[0]["decision"]["reason"], "not-registered");
    assert_eq!(records[0]["mail_from"], "mallory@else.example");
    assert_eq!(records[0]["subject"], "Please forward me");
    assert_eq!(records[1]["decision"]["reason"], "group-address");
    let id = records[0]["id"].as_str().unwrap().to_string();

    // --reason filters.
    let filtered = gw.cli(&["quarantine", "list", "--json", "--reason", "group-address"]);
    assert!(filtered.status.success());
    assert_eq!(
        stdout(&filtered).lines().count(),
        1,
        "{}",
        stdout(&filtered)
    );

    // An unknown reason code is refused, with the known ones (issue 11 §8).
    let unknown = gw.cli(&["quarantine", "list", "--reason", "nope"]);
    assert_eq!(unknown.status.code(), Some(2), "{}", stderr(&unknown));
    assert!(
        stderr(&unknown).contains("unknown reason code \"nope\""),
        "{}",
        stderr(&unknown)
    );
    assert!(
        stderr(&unknown).contains("not-registered, unknown-sender"),
        "{}",
        stderr(&unknown)
    );

    // show: the record and the headers as received.
    let shown = gw.cli(&["quarantine", "show", &id]);
    assert!(shown.status.success(), "{}", stderr(&shown));
    let text = stdout(&shown);
    assert!(text.contains(&id), "{text}");
    // `received_at` (Unix time) is followed by `received`, the same instant in RFC 3339.
    let received_at = records[0]["received_at"].as_u64().unwrap();
    let expected = time::OffsetDateTime::from_unix_timestamp(received_at as i64)
        .unwrap()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    assert!(
        text.contains(&format!(
            "\"received_at\": {received_at},\n  \"received\": \"{expected}\""
        )),
        "{text}"
    );
    assert!(text.contains("not-registered"), "{text}");
    assert!(text.contains("Subject: Please forward me"), "{text}");

    // release --by alice: through the spool into the ticket Maildir, forged headers gone,
    // operator recorded.
    let released = gw.cli(&["quarantine", "release", &id, "--by", "alice"]);
    assert!(released.status.success(), "{}", stderr(&released));
    let tickets = gateway_support::poll(|| {
        let tickets = gw.tickets();
        (!tickets.is_empty()).then_some(tickets)
    })
    .unwrap_or_else(|| panic!("released message not delivered:\n{}", gw.log()));
    assert_eq!(tickets.len(), 1);
    let ticket = &tickets[0];
    assert_eq!(header(ticket, "X-Supportgate-Released-By"), "alice");
    assert_eq!(header(ticket, "X-Supportgate-Verdict"), "accept");
    assert_eq!(header(ticket, "X-Supportgate-Queue-Id"), id);
    assert_eq!(header_values(ticket, "X-Supportgate-Released-By").len(), 1);
    assert!(ticket.contains("Subject: Please forward me\r\n"));
    assert!(ticket.ends_with("\r\n\r\nHello.\r\n"), "{ticket}");
    let record = gw
        .quarantine()
        .into_iter()
        .find(|(i, _, _)| *i == id)
        .expect("a released message stays listed")
        .1;
    assert_eq!(record["released"]["by"], "alice", "{record}");
    assert!(record["released"]["at"].as_u64().unwrap() > 0);

    // delete: gone; a second delete exits 1.
    let deleted = gw.cli(&["quarantine", "delete", &id]);
    assert!(deleted.status.success(), "{}", stderr(&deleted));
    assert!(gw.quarantine().iter().all(|(i, _, _)| *i != id));
    let again = gw.cli(&["quarantine", "delete", &id]);
    assert_eq!(again.status.code(), Some(1), "{}", stderr(&again));
    assert_eq!(gw.cli(&["quarantine", "show", &id]).status.code(), Some(1));
    let listed = gw.cli(&["quarantine", "list", "--json"]);
    assert_eq!(stdout(&listed).lines().count(), 1);

    // An id that is not one is unusable input, not a path.
    let bad = gw.cli(&["quarantine", "delete", "../tickets"]);
    assert_eq!(bad.status.code(), Some(2), "{}", stderr(&bad));
    assert_eq!(gw.tickets().len(), 1);
}
