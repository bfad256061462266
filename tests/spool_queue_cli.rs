//! Black-box: `supportgate queue list|show|flush|delete` against a running server whose
//! upstream answers `451` (the messages stay in the spool with the upstream's answer), and
//! `[spool] max_age`: a message the upstream keeps deferring ends in the quarantine.

mod gateway_support;

use gateway_support::sink::{Answer, Sink};
use gateway_support::{message, poll, Gateway, Options};
use serde_json::Value;

const ACME: &str = "support+acme@vendor.example";

fn queued_id(reply: &str) -> String {
    reply
        .trim()
        .rsplit(' ')
        .next()
        .unwrap_or_default()
        .to_string()
}

fn listed(gw: &Gateway) -> Vec<Value> {
    let out = gw.cli(&["queue", "list", "--json"]);
    assert!(out.status.success(), "{out:?}");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn queue_commands_show_the_upstream_answer_flush_and_delete() {
    let sink = Sink::start(Answer::TempFail);
    let gw = Gateway::start(Options {
        queue: Some(sink.url()),
        spool: true,
        // Without `queue flush`, the second attempt would come in an hour.
        spool_retry_schedule: Some(vec!["1h"]),
        ..Options::default()
    });
    let mut ids = Vec::new();
    for n in 0..2 {
        let body = message(
            "chloe@acme.example",
            &format!("Deferred #{n}"),
            &[],
            "Hi.\n",
        );
        let reply = gw.send("chloe@acme.example", &[ACME], &body);
        assert!(reply.starts_with("250 "), "{reply}");
        ids.push(queued_id(&reply));
    }
    ids.sort();
    let entries = poll(|| {
        let entries = listed(&gw);
        entries
            .iter()
            .all(|e| e["attempts"].as_u64() >= Some(1))
            .then_some(entries)
    })
    .unwrap_or_else(|| panic!("no attempt recorded:\n{}", gw.log()));
    let listed_ids: Vec<&str> = entries.iter().map(|e| e["id"].as_str().unwrap()).collect();
    assert_eq!(listed_ids, ids);
    let next = entries[0]["next_attempt"].as_u64().unwrap_or_default();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    assert!(next > now + 3000, "retry in about an hour: {next} vs {now}");
    let answer = entries[0]["last_answer"].as_str().unwrap_or_default();
    assert!(answer.contains("451"), "{answer}");

    let show = gw.cli(&["queue", "show", &ids[0]]);
    let text = String::from_utf8_lossy(&show.stdout);
    assert!(
        show.status.success() && text.contains("Subject: Deferred #0"),
        "{show:?}"
    );

    let attempts_before = sink.received().len();
    let flush = gw.cli(&["queue", "flush"]);
    assert!(flush.status.success(), "{flush:?}");
    assert!(String::from_utf8_lossy(&flush.stdout).contains("2 message(s) waiting"));
    sink.wait_for(attempts_before + 2);

    let delete = gw.cli(&["queue", "delete", &ids[1]]);
    assert!(delete.status.success(), "{delete:?}");
    let said = String::from_utf8_lossy(&delete.stdout);
    assert!(
        said.starts_with(&format!("deleted {}", ids[1])) && said.contains("Deferred #1"),
        "{said}"
    );
    let remaining: Vec<Value> = listed(&gw);
    assert_eq!(remaining.len(), 1);
    let again = gw.cli(&["queue", "delete", &ids[1]]);
    assert_eq!(again.status.code(), Some(1), "{again:?}");
    assert!(gw.quarantine().is_empty(), "deleted, not quarantined");
}

#[test]
fn a_message_deferred_beyond_max_age_goes_to_the_quarantine_with_the_last_answer() {
    let sink = Sink::start(Answer::TempFail);
    let gw = Gateway::start(Options {
        queue: Some(sink.url()),
        spool: true,
        spool_max_age: Some("2s"),
        ..Options::default()
    });
    let body = message("chloe@acme.example", "Never taken", &[], "Hi.\n");
    let reply = gw.send("chloe@acme.example", &[ACME], &body);
    assert!(reply.starts_with("250 "), "{reply}");
    let kept = poll(|| {
        let q = gw.quarantine();
        (!q.is_empty()).then_some(q)
    })
    .unwrap_or_else(|| panic!("not quarantined after max_age:\n{}", gw.log()));
    let note = kept[0].1["note"].as_str().unwrap_or_default().to_string();
    assert!(note.contains("max_age") && note.contains("451"), "{note}");
    assert!(sink.received().len() >= 2, "retried before giving up");
    poll(|| listed(&gw).is_empty().then_some(())).expect("removed from the spool");
}
