//! Black-box, real faults (issue 6): the upstream flaps — it drops the connection in the middle
//! of DATA, then defers (451), then refuses (550). The acknowledged message stays in the spool
//! through the first two, with a log line each, and ends in the quarantine with the upstream's
//! answer after the third: never lost, never delivered twice.

mod gateway_support;

use gateway_support::sink::{Answer, Sink};
use gateway_support::{free_port, message, poll, Gateway, Options};

const ACME: &str = "support+acme@vendor.example";
const RETRY: &str = "spool: ticket queue unavailable; will retry";

fn retries(gw: &Gateway) -> usize {
    gw.log().matches(RETRY).count()
}

#[test]
fn a_flapping_upstream_ends_in_the_quarantine_with_a_log_line_for_each_failure() {
    let port = free_port();
    let dropping = Sink::start_on(port, Answer::DropInData);
    let gw = Gateway::start(Options {
        queue: Some(format!("smtp://127.0.0.1:{port}")),
        spool: true,
        spool_retry_schedule: Some(vec!["1s"]),
        ..Options::default()
    });
    let body = message("chloe@acme.example", "Printer on fire", &[], "Hello.\n");
    let reply = gw.send("chloe@acme.example", &[ACME], &body);
    assert!(reply.starts_with("250 "), "{reply}");

    // 1. Dropped mid-DATA: a temporary failure, the message stays in the spool.
    poll(|| (retries(&gw) >= 1).then_some(()))
        .unwrap_or_else(|| panic!("no retry after a drop mid-DATA:\n{}", gw.log()));
    assert!(dropping.received().is_empty(), "nothing completed");
    drop(dropping);

    // 2. Deferred with 451: still temporary, retried again.
    let deferring = Sink::start_on(port, Answer::TempFail);
    poll(|| (!deferring.received().is_empty() && retries(&gw) >= 2).then_some(()))
        .unwrap_or_else(|| panic!("no retry after a 451:\n{}", gw.log()));
    assert!(
        gw.quarantine().is_empty(),
        "a temporary failure is not a refusal"
    );
    drop(deferring);

    // 3. Refused with 550: quarantined with the upstream's answer, and out of the spool.
    let refusing = Sink::start_on(port, Answer::PermFail);
    let kept = poll(|| {
        let kept = gw.quarantine();
        (!kept.is_empty()).then_some(kept)
    })
    .unwrap_or_else(|| panic!("not quarantined after a 550:\n{}", gw.log()));
    assert_eq!(kept.len(), 1, "{kept:?}");
    let note = kept[0].1["note"].as_str().unwrap_or_default().to_string();
    assert!(note.contains("550"), "{note}");
    // The record is visible a moment before the spool lets go and logs it.
    assert!(
        gateway_support::poll(|| gw
            .log()
            .contains("spool: not deliverable; moved to the quarantine")
            .then_some(()))
        .is_some(),
        "{}",
        gw.log()
    );
    assert!(refusing.received().iter().all(|r| !r.accepted));
    poll(|| gw.spooled().is_empty().then_some(()))
        .unwrap_or_else(|| panic!("still in the spool:\n{}", gw.log()));
}
