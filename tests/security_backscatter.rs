//! Black-box regression tests for issue 10 finding 1 (backscatter): an auto-reply goes only to
//! an address the sender authenticated. Before the fix, a DKIM-signed message with a forged
//! `MAIL FROM:<victim+N@…>` got one reply per `+N` at the victim, echoing the spam Subject.

mod auth_support;

use auth_support::gw::{header, poll, Gateway, Options};
use auth_support::{
    message, rsa_dkim_record, send, sign, start_gateway, verify_mode, zones, Dns, Key,
};

const ACME: &str = "support+acme@vendor.example";

fn zones_with_victim() -> Vec<(&'static str, String)> {
    let mut zones = zones();
    // The victim publishes "no host may send for me"; the attacker signs for its own domain.
    zones.push(("victim.example", "v=spf1 -all".into()));
    zones.push(("rsa._domainkey.evil.example", rsa_dkim_record()));
    zones
}

fn spam(n: usize) -> Vec<u8> {
    let body = message(
        "Mallory <mallory@evil.example>",
        &format!("Cheap pills {n}"),
        &[],
        "Buy now.\n",
    );
    sign(&body, Key::Rsa, "evil.example", "rsa")
}

fn reply_recipients(gw: &Gateway) -> Vec<String> {
    gw.outbox().iter().map(|m| header(m, "To")).collect()
}

#[test]
fn backscatter_a_forged_reverse_path_gets_no_reply_and_the_authenticated_from_gets_one() {
    let dns = Dns::start(&zones_with_victim());
    let gw = start_gateway(&verify_mode(dns.addr, ""), &[]);
    for n in 1..=6 {
        let fate = send(&gw, &format!("victim+{n}@victim.example"), ACME, &spam(n));
        assert!(fate.smtp.starts_with("250 "), "{}", fate.smtp);
        assert_eq!(fate.kept.len(), 1, "kept for support staff");
        assert_eq!(fate.kept[0].1["decision"]["reason"], "not-registered");
    }
    let to = reply_recipients(&gw);
    assert_eq!(to.len(), 1, "one reply in all: {to:?}");
    assert!(to[0].contains("mallory@evil.example"), "{to:?}");
    assert!(to.iter().all(|t| !t.contains("victim")), "{to:?}");
}

#[test]
fn backscatter_an_aligned_reverse_path_with_spf_pass_gets_the_reply() {
    let dns = Dns::start(&zones_with_victim());
    let gw = start_gateway(&verify_mode(dns.addr, ""), &[]);
    // evil.example's SPF authorises 127.0.0.1: its own bounce address is authenticated.
    let fate = send(&gw, "bounces+x1@evil.example", ACME, &spam(1));
    assert!(fate.smtp.starts_with("250 "), "{}", fate.smtp);
    let to = reply_recipients(&gw);
    assert_eq!(to.len(), 1, "{to:?}");
    assert!(to[0].contains("bounces+x1@evil.example"), "{to:?}");
    // The same address with another tag is the same person: no second reply.
    send(&gw, "bounces+x2@evil.example", ACME, &spam(2));
    assert_eq!(reply_recipients(&gw).len(), 1);
}

#[test]
fn backscatter_through_trusted_header_replies_to_the_authenticated_from() {
    let trusted = "mode = \"trusted-header\"\ntrusted_authserv_ids = [\"mx.vendor.example\"]\n";
    let gw = start_gateway(trusted, &[]);
    for n in 1..=3 {
        let body = message(
            "mallory@evil.example",
            &format!("Cheap pills {n}"),
            &[&format!(
                "Authentication-Results: mx.vendor.example; spf=fail smtp.mailfrom=victim+{n}@victim.example;\r\n\tdkim=pass header.d=evil.example; dmarc=pass header.from=evil.example"
            )],
            "Buy now.\n",
        );
        let fate = send(&gw, &format!("victim+{n}@victim.example"), ACME, &body);
        assert!(fate.smtp.starts_with("250 "), "{}", fate.smtp);
    }
    let to = reply_recipients(&gw);
    assert_eq!(to.len(), 1, "{to:?}");
    assert!(to[0].contains("mallory@evil.example"), "{to:?}");
}

#[test]
fn backscatter_replies_are_capped_per_hour_with_a_log_line() {
    let mut gw = Gateway::start(Options::default());
    gw.reconfigure("replies", "max_per_hour", 2.into());
    for n in 1..=4 {
        let from = format!("stranger{n}@else.example");
        let reply = gw.send(&from, &[ACME], &message(&from, "Hello", &[], "Hi.\n"));
        assert!(reply.starts_with("250 "), "{reply}");
    }
    assert_eq!(gw.outbox().len(), 2);
    let kept = gw.quarantine();
    assert_eq!(kept.len(), 4, "every message is kept");
    let fates: Vec<String> = kept
        .iter()
        .map(|k| k.1["decision"]["reply"].as_str().unwrap_or("").to_string())
        .collect();
    assert_eq!(
        fates
            .iter()
            .filter(|f| *f == "suppressed:rate-limit")
            .count(),
        2,
        "{fates:?}"
    );
    let warned = gw.log().matches("auto-reply cap reached").count();
    assert_eq!(warned, 1, "one log line per hour:\n{}", gw.log());
}

#[test]
fn backscatter_p4_replays_notify_the_owner_once() {
    // The refusal path (`reply`): a held request (SPEC 11's `hold`) asks the owner each time,
    // bounded by [replies] max_per_hour and mail-loop instead.
    let gw = Gateway::start(Options {
        actions: vec![("authorization-required", "reply")],
        ..Options::default()
    });
    for n in 1..=3 {
        let body = message("chloe@acme.example", "Facture de mars", &[], "Merci.\n");
        let reply = gw.send(&format!("chloe+{n}@acme.example"), &[ACME], &body);
        assert!(reply.starts_with("250 "), "{reply}");
    }
    poll(|| (gw.quarantine().len() == 3).then_some(())).expect("three kept");
    let to = reply_recipients(&gw);
    // One reply to the requester, one notification each to the owner and the admin.
    assert_eq!(to.len(), 3, "{to:?}");
    assert_eq!(
        to.iter()
            .filter(|t| t.contains("alice@acme.example"))
            .count(),
        1
    );
    assert_eq!(
        to.iter()
            .filter(|t| t.contains("bruno@acme.example"))
            .count(),
        1
    );
    assert_eq!(to.iter().filter(|t| t.contains("chloe")).count(), 1);
}
