//! Black-box: `verify` behind the milter front (issue 17 §4). The client IP, HELO and MAIL FROM
//! come from the milter steps (`SMFIC_CONNECT`, `SMFIC_HELO`, `SMFIC_MAIL`), not from the
//! socket (which is Postfix's, 127.0.0.1): SPF against a real DNS server on loopback (dnsmasq)
//! must see them. Each case changes one of the three and the verdict follows.

mod auth_support;
mod milter_support;

use auth_support::{message, start_gateway, verify_mode, Dns};
use milter_support::{Answer, Envelope};

const ACME: &str = "support+acme@vendor.example";
const INITECH: &str = "support+initech@vendor.example";

/// acme.example: only 203.0.113.7 may send (SPF on the client IP and MAIL FROM);
/// initech.example: any client whose HELO name has an address (`exists:%{h}`: SPF on HELO).
fn zones() -> Vec<(&'static str, String)> {
    vec![
        ("acme.example", "v=spf1 ip4:203.0.113.7 -all".into()),
        ("_dmarc.acme.example", "v=DMARC1; p=reject".into()),
        ("initech.example", "v=spf1 exists:%{h} -all".into()),
        ("_dmarc.initech.example", "v=DMARC1; p=reject".into()),
    ]
}

fn ask(port: u16, client_ip: &str, helo: &str, from: &str, rcpt: &str) -> Answer {
    let body = message(from, "Question", &[], "Hello\n");
    let envelope = Envelope {
        client_ip: client_ip.parse().unwrap(),
        helo,
        mail_from: from,
        recipients: &[rcpt],
    };
    milter_support::connect_tcp(port).send(&envelope, &body)
}

fn forwarded_with(answer: &Answer, spf: &str) {
    assert_eq!(answer.final_code(), 'c', "{:?}", answer.responses);
    let ar = answer
        .added("Authentication-Results")
        .unwrap_or_else(|| panic!("no Authentication-Results: {:?}", answer.responses));
    assert!(ar.contains(spf), "{ar}");
}

/// Kept in our quarantine as unauthenticated: discarded for Postfix.
fn kept_unauthenticated(answer: &Answer, gw: &auth_support::Gateway) {
    assert_eq!(answer.final_code(), 'd', "{:?}", answer.responses);
    let last = gw.decisions().pop().expect("a decision");
    assert_eq!(
        auth_support::field_str(&last, "reason"),
        "unauthenticated-sender",
        "{last}"
    );
}

#[test]
fn verify_behind_the_milter_checks_the_client_helo_and_sender_postfix_reports() {
    let dns = Dns::start_with(&zones(), &["--host-record=mx.initech.example,192.0.2.25"]);
    let mut gw = start_gateway(&verify_mode(dns.addr, ""), &[]);
    let port = auth_support::gw::free_port();
    gw.reconfigure("milter", "listen", format!("127.0.0.1:{port}").into());
    milter_support::wait_port(port);

    // Client IP: the authorised address passes, another fails (same HELO, same sender).
    let answer = ask(
        port,
        "203.0.113.7",
        "mail.acme.example",
        "alice@acme.example",
        ACME,
    );
    forwarded_with(&answer, "spf=pass smtp.mailfrom=acme.example");
    let answer = ask(
        port,
        "198.51.100.1",
        "mail.acme.example",
        "alice@acme.example",
        ACME,
    );
    kept_unauthenticated(&answer, &gw);

    // HELO: initech's record authorises a HELO name that resolves, whatever the IP.
    let answer = ask(
        port,
        "198.51.100.1",
        "mx.initech.example",
        "ivan@initech.example",
        INITECH,
    );
    forwarded_with(&answer, "spf=pass smtp.mailfrom=initech.example");
    let answer = ask(
        port,
        "198.51.100.1",
        "nx.initech.example",
        "ivan@initech.example",
        INITECH,
    );
    kept_unauthenticated(&answer, &gw);
}
