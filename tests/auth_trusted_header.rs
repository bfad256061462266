//! Black-box: `trusted-header` mode, behind the vendor's own MTA that verified before us. Only
//! the topmost `Authentication-Results` counts, and only with a trusted authserv-id; headers
//! claiming our own authserv-id are removed before forwarding.

mod auth_support;

use auth_support::{header_values, message, send, start_gateway, HOSTNAME};

const ACME: &str = "support+acme@vendor.example";
const TRUSTED: &str = "mode = \"trusted-header\"\ntrusted_authserv_ids = [\"mx.vendor.example\"]\n";

#[test]
fn a_forged_pass_below_the_relays_fail_is_ignored() {
    let gw = start_gateway(TRUSTED, &[]);
    let forged = message(
        "alice@acme.example",
        "Owner change",
        &[
            "Authentication-Results: mx.vendor.example; spf=pass smtp.mailfrom=evil.example; dmarc=fail header.from=acme.example",
            "Authentication-Results: mx.vendor.example; dmarc=pass header.from=acme.example",
        ],
        "Please\n",
    );
    let fate = send(&gw, "attacker@evil.example", ACME, &forged);
    assert!(fate.smtp.starts_with("250 "), "{}", fate.smtp);
    assert!(fate.ticket.is_none());
    assert_eq!(fate.replies, 0);
    assert_eq!(fate.kept.len(), 1);
    assert_eq!(
        fate.kept[0].1["decision"]["reason"],
        "unauthenticated-sender"
    );
}

#[test]
fn the_relays_pass_is_forwarded_and_our_own_id_is_not_trusted_from_outside() {
    let gw = start_gateway(TRUSTED, &[]);
    let genuine = message(
        "alice@acme.example",
        "Invoice",
        &[
            // Topmost: the relay's own verdict.
            "Authentication-Results: mx.vendor.example; spf=pass smtp.mailfrom=acme.example;\r\n\tdkim=pass header.d=acme.example; dmarc=pass header.from=acme.example",
            // Forged by the sender with our authserv-id: removed on forward.
            &format!("Authentication-Results: {HOSTNAME}; dmarc=pass header.from=acme.example"),
        ],
        "Hello\n",
    );
    let fate = send(&gw, "alice@acme.example", ACME, &genuine);
    assert!(fate.smtp.starts_with("250 "), "{}", fate.smtp);
    let ar = fate.our_authentication_results();
    assert!(
        ar.contains("spf=pass smtp.mailfrom=acme.example")
            && ar.contains("dmarc=pass header.from=acme.example"),
        "{ar}"
    );
    let ticket = fate.ticket.unwrap();
    let all = header_values(&ticket, "Authentication-Results");
    assert_eq!(all.len(), 2, "ours and the relay's only: {all:?}");
    assert!(all[0].starts_with(HOSTNAME), "ours first: {all:?}");
    assert!(all[1].starts_with("mx.vendor.example"), "{all:?}");

    // A header with our own id as the topmost one is not trusted either.
    let only_ours = message(
        "alice@acme.example",
        "Invoice",
        &[&format!(
            "Authentication-Results: {HOSTNAME}; dmarc=pass header.from=acme.example"
        )],
        "Hello\n",
    );
    let fate = send(&gw, "attacker@evil.example", ACME, &only_ours);
    assert!(fate.ticket.is_none());
    assert_eq!(fate.kept.len(), 1);
    assert_eq!(
        fate.kept[0].1["decision"]["reason"],
        "unauthenticated-sender"
    );
}
