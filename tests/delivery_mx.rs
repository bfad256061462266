//! The `mx` reply target against a real DNS server (Debian's `dnsmasq`) on loopback: it asks
//! the resolver of `[authentication] nameservers` (the system resolver knows nothing of these
//! names), delivers to the best MX, falls back to the domain itself when it has no MX (RFC 5321
//! §5.1), calls a domain that does not exist permanent and a lookup that fails temporary; and
//! uses STARTTLS whenever the MX offers it, with a certificate that would not verify.

mod auth_support;
mod smtp_support;

use auth_support::gw::sink::{Answer, Sink};
use auth_support::Dns;
use std::net::{SocketAddr, UdpSocket};
use std::time::Duration;
use supportgate::config::{AuthenticationMode, AuthenticationSettings};
use supportgate::delivery::mx::MxTarget;
use supportgate::delivery::{DeliveryContext, DeliveryError, Parcel, Target};

/// dnsmasq answering for `.example` only: `victim.example` has MX `mx1.victim.example`
/// (127.0.0.1), `plain.example` has no MX but an A record (127.0.0.1).
fn dns() -> Dns {
    Dns::start_with(
        &[],
        &[
            "--mx-host=victim.example,mx1.victim.example,10",
            "--host-record=mx1.victim.example,127.0.0.1",
            "--host-record=plain.example,127.0.0.1",
        ],
    )
}

fn target(nameserver: SocketAddr, smtp_port: u16) -> MxTarget {
    let settings = AuthenticationSettings {
        mode: AuthenticationMode::Off,
        trusted_authserv_ids: Vec::new(),
        nameservers: vec![nameserver],
        dns_timeout: Duration::from_secs(2),
        require_dmarc: false,
        quarantine_on_temperror: false,
    };
    let (config, options) = supportgate::authentication::resolver_config(&settings).unwrap();
    MxTarget::new(
        config,
        options,
        "gw.test",
        Duration::from_secs(10),
        smtp_port,
    )
    .unwrap()
}

fn send(target: &MxTarget, to: &str) -> Result<(), DeliveryError> {
    let recipients = vec![to.to_string()];
    let context = DeliveryContext::default();
    let parcel = Parcel {
        mail_from: None,
        recipients: &recipients,
        bytes: b"From: <no-reply@vendor.example>\r\nSubject: Auto: hi\r\n\r\nBody.\r\n",
        unique: "mx-test",
        context: &context,
    };
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(target.deliver(parcel))
}

#[test]
fn mx_target_resolves_with_the_configured_nameservers() {
    let dns = dns();
    let sink = Sink::start(Answer::Accept);
    let target = target(dns.addr, sink.port);
    send(&target, "victim@victim.example").expect("delivered through the MX");
    send(&target, "someone@plain.example").expect("delivered to the implicit MX");
    let got = sink.wait_for(2);
    assert_eq!(got[0].mail_from, "<>");
    assert_eq!(got[0].rcpt_to, ["<victim@victim.example>"]);
    assert_eq!(got[1].rcpt_to, ["<someone@plain.example>"]);
    assert!(got[0].data.contains("Subject: Auto: hi"));
    // A name the configured server says does not exist: permanent, no retry will find it.
    let missing = send(&target, "x@nowhere.example");
    assert!(
        matches!(missing, Err(DeliveryError::Permanent(_))),
        "{missing:?}"
    );
}

#[test]
fn mx_target_with_a_dead_nameserver_fails_temporarily() {
    let dead = UdpSocket::bind("127.0.0.1:0").unwrap();
    let addr = dead.local_addr().unwrap();
    drop(dead);
    let target = target(addr, 1);
    let result = send(&target, "victim@victim.example");
    assert!(
        matches!(result, Err(DeliveryError::Temporary(_))),
        "{result:?}"
    );
}

/// Opportunistic STARTTLS (issue 11): an MX offering STARTTLS with a self-signed certificate
/// for another name (supportgate's own SMTP server, recording what it receives) gets the
/// reply over TLS; verification is relaxed as between MTAs, never a reason to fail.
#[test]
fn mx_target_uses_starttls_when_the_mx_offers_it() {
    // The recording server takes recipients @vendor.example only.
    let dns = Dns::start_with(
        &[],
        &[
            "--mx-host=vendor.example,mx1.vendor.example,10",
            "--host-record=mx1.vendor.example,127.0.0.1",
        ],
    );
    let certified = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    std::fs::write(&cert, certified.cert.pem()).unwrap();
    std::fs::write(&key, certified.key_pair.serialize_pem()).unwrap();
    let mut config = smtp_support::test_config();
    config.tls = Some(std::sync::Arc::new(supportgate::smtp::ReloadableTls::new(
        supportgate::smtp::load_tls_config(&cert, &key).unwrap(),
    )));
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let server = runtime.block_on(smtp_support::start(config));

    let target = target(dns.addr, server.addr().port());
    send(&target, "someone@vendor.example").expect("delivered over STARTTLS");
    let received = server.handler.messages();
    assert_eq!(received.len(), 1);
    let (session, envelope, bytes) = &received[0];
    assert!(session.tls, "the reply was sent without TLS: {session:?}");
    assert_eq!(session.helo.as_deref(), Some("gw.test"));
    assert_eq!(envelope.rcpt_to, ["someone@vendor.example"]);
    assert!(String::from_utf8_lossy(bytes).contains("Subject: Auto: hi"));
}
