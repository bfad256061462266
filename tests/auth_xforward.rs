//! Black-box: XFORWARD (what Postfix's before-queue proxy sends, docs/postfix.md (b)) in
//! `verify` mode against a real DNS server (dnsmasq). acme.example authorises only
//! 192.0.2.7, an address the test client cannot have: its mail passes SPF only when a trusted
//! peer's XFORWARD says the original client was 192.0.2.7. From a peer not in
//! `[server] xforward_from` the command is not offered, refused, and believed nowhere.

mod auth_support;

use auth_support::{field_str, header_values, message, start_gateway, verify_mode, Dns, Gateway};

const ACME: &str = "support+acme@vendor.example";

fn zones() -> Vec<(&'static str, String)> {
    vec![
        ("acme.example", "v=spf1 ip4:192.0.2.7 -all".into()),
        ("_dmarc.acme.example", "v=DMARC1; p=reject".into()),
    ]
}

/// One transaction on `smtp` (after EHLO, and XFORWARD if any); waits for its decision line
/// and returns its reason.
fn transaction(gw: &Gateway, smtp: &mut auth_support::gw::Smtp, body: &str) -> String {
    let before = gw.decisions().len();
    smtp.expect("MAIL FROM:<alice@acme.example>", "250");
    smtp.expect(&format!("RCPT TO:<{ACME}>"), "250");
    smtp.expect("DATA", "354");
    let mail = message("Alice Martin <alice@acme.example>", "Invoice", &[], body);
    smtp.write(&auth_support::gw::dot_stuffed(&mail));
    let reply = smtp.cmd(".");
    assert!(reply.starts_with("250 "), "{reply}");
    let decisions = gw.wait_decisions(before + 1);
    field_str(&decisions[before], "reason")
}

#[test]
fn xforward_from_a_trusted_proxy_gives_spf_the_original_client() {
    let dns = Dns::start(&zones());
    let mut gw = start_gateway(&verify_mode(dns.addr, ""), &[]);
    gw.reconfigure(
        "server",
        "xforward_from",
        toml::Value::Array(vec!["127.0.0.1".into()]),
    );
    let mut smtp = gw.smtp();
    let ehlo = smtp.expect("EHLO mx.vendor.example", "250");
    assert!(
        ehlo.lines()
            .any(|l| l[4..].starts_with("XFORWARD ") && l.contains(" ADDR") && l.contains(" HELO")),
        "{ehlo}"
    );
    // Postfix spreads the attributes over commands as it likes; xtext-encoded values.
    smtp.expect(
        "XFORWARD NAME=mail.acme.example ADDR=192.0.2.7 PORT=40123",
        "250",
    );
    smtp.expect(
        "XFORWARD PROTO=ESMTP HELO=mail.acme.example SOURCE=REMOTE IDENT=[UNAVAILABLE]",
        "250",
    );
    assert_eq!(transaction(&gw, &mut smtp, "first\n"), "accepted");
    let ticket = gw.tickets().pop().expect("forwarded");
    let ours = header_values(&ticket, "Authentication-Results");
    assert!(
        ours.iter()
            .any(|v| v.contains("spf=pass smtp.mailfrom=acme.example")),
        "{ours:?}"
    );
    let received = header_values(&ticket, "Received");
    assert!(
        received[0].contains("mail.acme.example") && received[0].contains("192.0.2.7"),
        "our Received: names the original client: {received:?}"
    );

    // The attributes were for that transaction only: the next one is the proxy's own
    // (127.0.0.1, not authorised by acme.example), so it is not authenticated.
    assert_eq!(
        transaction(&gw, &mut smtp, "second\n"),
        "unauthenticated-sender"
    );
    // Not inside a transaction, and not with bad attributes.
    smtp.expect("MAIL FROM:<alice@acme.example>", "250");
    smtp.expect("XFORWARD ADDR=192.0.2.7", "503");
    smtp.expect("RSET", "250");
    smtp.expect("XFORWARD ADDR=192.0.2.300", "501");
    smtp.expect("XFORWARD COLOR=blue", "501");
    // XFORWARD, then RSET: forgotten as well.
    smtp.expect("XFORWARD ADDR=192.0.2.7", "250");
    smtp.expect("RSET", "250");
    assert_eq!(
        transaction(&gw, &mut smtp, "third\n"),
        "unauthenticated-sender"
    );
    smtp.quit();
}

#[test]
fn xforward_from_anyone_else_is_neither_offered_nor_believed() {
    let dns = Dns::start(&zones());
    // The default: xforward_from = [], the client (127.0.0.1) is nobody's proxy.
    let gw = start_gateway(&verify_mode(dns.addr, ""), &[]);
    let mut smtp = gw.smtp();
    let ehlo = smtp.expect("EHLO mail.acme.example", "250");
    assert!(!ehlo.contains("XFORWARD"), "{ehlo}");
    let refused = smtp.cmd("XFORWARD NAME=mail.acme.example ADDR=192.0.2.7 HELO=mail.acme.example");
    assert!(refused.starts_with("500 5.5.1"), "{refused}");
    assert_eq!(
        transaction(&gw, &mut smtp, "forged client\n"),
        "unauthenticated-sender"
    );
    smtp.quit();
    assert!(
        gw.log()
            .contains("XFORWARD refused: peer not in server.xforward_from"),
        "{}",
        gw.log()
    );
}
