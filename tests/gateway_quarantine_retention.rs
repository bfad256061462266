//! Black-box: `[quarantine] retention` (SPEC §13, default 14 days). A message kept longer ago
//! than that is out of `quarantine list` at once and purged by the server (at start, then
//! hourly), with a log line for the message and one for the run.

mod gateway_support;

use gateway_support::{field_str, message, Gateway, Options};
use std::fs;

#[test]
fn messages_older_than_the_retention_are_purged_and_logged() {
    let mut gw = Gateway::start(Options::default());
    for subject in ["Old one", "Recent one"] {
        let m = message("mallory@else.example", subject, &[], "Hi.\n");
        let reply = gw.send("mallory@else.example", &["support+acme@vendor.example"], &m);
        assert!(reply.starts_with("250 "), "{reply}");
    }
    let kept = gw.quarantine();
    assert_eq!(kept.len(), 2);
    let (old, recent) = (kept[0].0.clone(), kept[1].0.clone());
    // As if received 15 days ago.
    let path = gw.var("quarantine").join(&old).join("record.json");
    let mut record: serde_json::Value = serde_json::from_slice(&fs::read(&path).unwrap()).unwrap();
    let now = record["received_at"].as_u64().unwrap();
    record["received_at"] = (now - 15 * 86_400).into();
    fs::write(&path, serde_json::to_vec_pretty(&record).unwrap()).unwrap();

    let listed = gw.cli(&["quarantine", "list", "--json"]);
    let listed = String::from_utf8_lossy(&listed.stdout).into_owned();
    assert!(!listed.contains(&old), "past retention: {listed}");
    assert!(listed.contains(&recent), "{listed}");

    gw.restart();
    let purged = gateway_support::poll(|| {
        gw.events().into_iter().find(|e| {
            field_str(e, "message") == "quarantine retention: purge run"
                && field_str(e, "removed") == "1"
        })
    });
    assert!(purged.is_some(), "no purge run line:\n{}", gw.log());
    let line = gw
        .events()
        .into_iter()
        .find(|e| field_str(e, "message") == "quarantine retention: message purged")
        .unwrap_or_else(|| panic!("no purge line:\n{}", gw.log()));
    assert_eq!(field_str(&line, "id"), old);
    let left: Vec<String> = gw.quarantine().into_iter().map(|(id, _, _)| id).collect();
    assert_eq!(left, [recent]);
}
