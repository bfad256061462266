//! Black-box: `supportgate serve` in `verify` mode against a real DNS server on loopback
//! (dnsmasq) serving SPF, DKIM and DMARC records (SPEC §3 P6, §4, §5). The client connects
//! from 127.0.0.1, which is what SPF checks. For each case: forwarded or not, replied or not,
//! quarantined or not, and the `Authentication-Results` we add.

mod auth_support;

use auth_support::{
    dead_dns, message, send, sign, start_gateway, verify_mode, zones, Dns, Fate, Key, SUPPORT,
};

const ACME: &str = "support+acme@vendor.example";
const GLOBEX: &str = "support+globex@vendor.example";
const INITECH: &str = "support+initech@vendor.example";

fn forwarded(fate: &Fate) -> String {
    assert!(fate.smtp.starts_with("250 "), "{}", fate.smtp);
    assert!(fate.kept.is_empty(), "kept: {:?}", fate.kept);
    assert_eq!(fate.replies, 0);
    fate.our_authentication_results()
}

/// Quarantined as `unauthenticated-sender`, not forwarded, never replied to.
fn quarantined_unauthenticated(fate: &Fate) {
    assert!(fate.smtp.starts_with("250 "), "{}", fate.smtp);
    assert!(fate.ticket.is_none(), "forwarded: {:?}", fate.ticket);
    assert_eq!(fate.replies, 0, "an unauthenticated sender got a reply");
    assert_eq!(fate.kept.len(), 1, "{}", fate.smtp);
    let record = &fate.kept[0].1;
    assert_eq!(
        record["decision"]["reason"], "unauthenticated-sender",
        "{record}"
    );
}

#[test]
fn verify_mode_forwards_the_genuine_and_quarantines_the_forged() {
    let dns = Dns::start(&zones());
    let gw = start_gateway(&verify_mode(dns.addr, ""), &[]);

    // Aligned SPF pass (acme.example authorises 127.0.0.1; p=reject): the owner is forwarded.
    let owner = message(
        "Alice Martin <alice@acme.example>",
        "Invoice",
        &[],
        "Hello\n",
    );
    let ar = forwarded(&send(&gw, "alice@acme.example", ACME, &owner));
    assert!(ar.contains("spf=pass smtp.mailfrom=acme.example"), "{ar}");
    assert!(
        ar.contains("dmarc=pass (p=reject) header.from=acme.example"),
        "{ar}"
    );

    // SPF fail (globex.example authorises nobody) but an aligned DKIM pass (RSA): forwarded.
    let grace = message("grace@globex.example", "Exports", &[], "Please export\n");
    let signed = sign(&grace, Key::Rsa, "globex.example", "rsa");
    let ar = forwarded(&send(&gw, "grace@globex.example", GLOBEX, &signed));
    assert!(ar.contains("spf=fail smtp.mailfrom=globex.example"), "{ar}");
    assert!(
        ar.contains("dkim=pass header.d=globex.example header.s=rsa"),
        "{ar}"
    );
    assert!(
        ar.contains("dmarc=pass (p=reject) header.from=globex.example"),
        "{ar}"
    );

    // The same with Ed25519.
    let hank = message("hank@globex.example", "Report", &[], "Numbers\n");
    let signed = sign(&hank, Key::Ed25519, "globex.example", "ed");
    let ar = forwarded(&send(&gw, "hank@globex.example", GLOBEX, &signed));
    assert!(
        ar.contains("dkim=pass header.d=globex.example header.s=ed"),
        "{ar}"
    );
    assert!(ar.contains("dmarc=pass"), "{ar}");

    // DKIM signed by a third party (esp.example, valid signature, SPF pass for esp.example):
    // nothing aligned with globex.example, so DMARC fails.
    let via_esp = message("hank@globex.example", "Newsletter", &[], "Hi\n");
    let signed = sign(&via_esp, Key::Ed25519, "esp.example", "ed");
    quarantined_unauthenticated(&send(&gw, "bounce@esp.example", GLOBEX, &signed));

    // Body altered after signing: the signature fails, SPF fails: not authenticated.
    let original = message("grace@globex.example", "Refund", &[], "Refund 10 EUR\n");
    let mut tampered = sign(&original, Key::Ed25519, "globex.example", "ed");
    let at = tampered.len() - "10 EUR\r\n".len();
    tampered.splice(at..at + 2, b"99".iter().copied());
    quarantined_unauthenticated(&send(&gw, "grace@globex.example", GLOBEX, &tampered));

    // The owner's address forged in From with the attacker's own envelope (SPF pass for
    // evil.example, not aligned with acme.example): quarantined, never forwarded nor answered.
    let forged = message(
        "Alice Martin <alice@acme.example>",
        "Change the owner to bob@evil.example",
        &[],
        "Please\n",
    );
    quarantined_unauthenticated(&send(&gw, "attacker@evil.example", ACME, &forged));

    // p=none is not a pass: a forged Ivan (initech.example, p=none) is quarantined like p=reject.
    let forged_ivan = message("ivan@initech.example", "Billing", &[], "Pay\n");
    quarantined_unauthenticated(&send(&gw, "attacker@evil.example", INITECH, &forged_ivan));
    // ...and the genuine Ivan passes DMARC under p=none.
    let ivan = message("ivan@initech.example", "Question", &[], "Hello\n");
    let ar = forwarded(&send(&gw, "ivan@initech.example", INITECH, &ivan));
    assert!(
        ar.contains("dmarc=pass (p=none) header.from=initech.example"),
        "{ar}"
    );

    // No DMARC record (gmail.example), require_dmarc = false: an aligned SPF pass suffices.
    let secondary = message("alice.martin@gmail.example", "Hello", &[], "Hi\n");
    let ar = forwarded(&send(&gw, "alice.martin@gmail.example", ACME, &secondary));
    assert!(ar.contains("spf=pass smtp.mailfrom=gmail.example"), "{ar}");
    assert!(ar.contains("dmarc=none"), "{ar}");
    // ...but not an unaligned one.
    let forged = message("alice.martin@gmail.example", "Hello", &[], "Hi\n");
    quarantined_unauthenticated(&send(&gw, "attacker@evil.example", ACME, &forged));

    // The log line says why.
    let last = gw.decisions().pop().unwrap();
    assert_eq!(
        auth_support::field_str(&last, "reason"),
        "unauthenticated-sender"
    );
    assert!(
        auth_support::field_str(&last, "auth").contains("spf=pass dkim=none dmarc=none"),
        "{last}"
    );
}

#[test]
fn unauthenticated_senders_are_never_answered_even_when_replies_are_configured() {
    let dns = Dns::start(&zones());
    let gw = start_gateway(
        &verify_mode(dns.addr, "require_dmarc = true"),
        &[("unauthenticated-sender", "reply")],
    );
    let forged = message("alice@acme.example", "Owner change", &[], "Please\n");
    let fate = send(&gw, "attacker@evil.example", ACME, &forged);
    quarantined_unauthenticated(&fate);
    assert_eq!(
        fate.kept[0].1["decision"]["reply"], "suppressed:unauthenticated",
        "{}",
        fate.kept[0].1
    );

    // require_dmarc = true: a domain without DMARC is not authenticated even with aligned SPF.
    let secondary = message("alice.martin@gmail.example", "Hello", &[], "Hi\n");
    quarantined_unauthenticated(&send(&gw, "alice.martin@gmail.example", ACME, &secondary));

    // A domain with DMARC still passes.
    let owner = message("alice@acme.example", "Invoice", &[], "Hello\n");
    forwarded(&send(&gw, "alice@acme.example", ACME, &owner));
}

#[test]
fn dns_down_is_a_temporary_failure_never_a_silent_accept() {
    let gw = start_gateway(&verify_mode(dead_dns(), ""), &[]);
    let owner = message("alice@acme.example", "Invoice", &[], "Hello\n");
    let fate = send(&gw, "alice@acme.example", ACME, &owner);
    assert!(fate.smtp.starts_with("451 4.4.3 "), "{}", fate.smtp);
    assert!(fate.ticket.is_none() && fate.kept.is_empty() && fate.replies == 0);
    let decision = gw.decisions().pop().unwrap();
    assert_eq!(auth_support::field_str(&decision, "outcome"), "deferred");
    assert!(auth_support::field_str(&decision, "auth").contains("temperror"));
}

#[test]
fn dns_down_with_temperror_quarantine_keeps_the_message() {
    let gw = start_gateway(&verify_mode(dead_dns(), "temperror = \"quarantine\""), &[]);
    let owner = message("alice@acme.example", "Invoice", &[], "Hello\n");
    let fate = send(&gw, "alice@acme.example", ACME, &owner);
    quarantined_unauthenticated(&fate);
    assert!(fate.kept[0].1["note"]
        .as_str()
        .unwrap()
        .contains("temperror"));
}

#[test]
fn check_auth_verifies_against_the_configured_dns() {
    let dns = Dns::start(&zones());
    let gw = start_gateway(&verify_mode(dns.addr, ""), &[]);
    let file = gw.dir.path().join("owner.eml");
    let signed = sign(
        &message("grace@globex.example", "Exports", &[], "Hi\n"),
        Key::Rsa,
        "globex.example",
        "rsa",
    );
    std::fs::write(&file, &signed).unwrap();
    let out = gw.cli(&["check", "--auth", "--rcpt", GLOBEX, file.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["authentication"]["source"], "verified", "{json}");
    assert_eq!(json["authentication"]["dmarc"]["result"], "pass", "{json}");
    assert_eq!(json["authentication"]["spf"]["result"], "fail", "{json}");
    assert_eq!(json["reason"], "accepted", "{json}");

    // Offline (no --auth) the same message is not verified.
    let out = gw.cli(&["check", "--rcpt", GLOBEX, file.to_str().unwrap()]);
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["authentication"]["source"], "not-verified", "{json}");
    assert_eq!(json["reason"], "unauthenticated-sender", "{json}");
    let _ = SUPPORT;
}
