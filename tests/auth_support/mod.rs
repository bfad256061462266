//! Shared by the `auth_*` tests: a real DNS server on loopback (Debian's `dnsmasq`, started
//! per test with the zones it needs), the committed DKIM test keys, a DKIM signer (mail-auth's),
//! and `supportgate serve` started with an `[authentication]` section of the test's choosing
//! (the `gateway_support` harness, reused as is).
#![allow(dead_code)]

#[path = "../gateway_support/mod.rs"]
pub mod gw;

use mail_auth::common::crypto::{Ed25519Key, RsaKey, Sha256};
use mail_auth::common::headers::HeaderWriter;
use mail_auth::dkim::DkimSigner;
use mail_parser::decoders::base64::base64_decode;
use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

#[allow(unused_imports)]
pub use gw::{field_str, header_values, message, Gateway, Options, HOSTNAME};

pub const SUPPORT: &str = "support@vendor.example";

fn fixture(name: &str) -> String {
    std::fs::read_to_string(gw::repo_path(&format!("tests/fixtures/auth/{name}")))
        .unwrap_or_else(|e| panic!("tests/fixtures/auth/{name}: {e}"))
}

/// `v=DKIM1` records of the committed test keys.
pub fn rsa_dkim_record() -> String {
    format!("v=DKIM1; k=rsa; p={}", fixture("rsa2048.pub.b64").trim())
}

pub fn ed25519_dkim_record() -> String {
    format!(
        "v=DKIM1; k=ed25519; p={}",
        fixture("ed25519.pub.b64").trim()
    )
}

pub enum Key {
    Rsa,
    Ed25519,
}

/// `message` with a `DKIM-Signature` for `domain`/`selector` prepended.
pub fn sign(message: &[u8], key: Key, domain: &str, selector: &str) -> Vec<u8> {
    let headers = ["From", "To", "Subject", "Date", "Message-ID"];
    let signature = match key {
        Key::Rsa => {
            // `from_key_der` wants rustls-pki-types, which the crate does not depend on.
            #[allow(deprecated)]
            let key = RsaKey::<Sha256>::from_rsa_pem(&fixture("rsa2048.pem")).expect("RSA key");
            DkimSigner::from_key(key)
                .domain(domain)
                .selector(selector)
                .headers(headers)
                .sign(message)
        }
        Key::Ed25519 => {
            let der = base64_decode(fixture("ed25519.pkcs8.b64").trim().as_bytes()).unwrap();
            let key = Ed25519Key::from_pkcs8_maybe_unchecked_der(&der).expect("Ed25519 key");
            DkimSigner::from_key(key)
                .domain(domain)
                .selector(selector)
                .headers(headers)
                .sign(message)
        }
    }
    .expect("DKIM signing");
    let mut signed = signature.to_header().into_bytes();
    signed.extend_from_slice(message);
    signed
}

/// A loopback port free for both UDP and TCP a moment ago.
fn free_dns_port() -> u16 {
    loop {
        let udp = UdpSocket::bind("127.0.0.1:0").unwrap();
        let port = udp.local_addr().unwrap().port();
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}

/// `dnsmasq` serving TXT records for names under `.example` (everything else under
/// `.example` is NXDOMAIN; TTL 300 s); killed on drop.
pub struct Dns {
    child: Child,
    pub addr: SocketAddr,
}

impl Dns {
    pub fn start(records: &[(&str, String)]) -> Dns {
        Dns::start_with(records, &[])
    }

    /// [`Dns::start`] with more dnsmasq options (`--mx-host=…`, `--host-record=…`).
    pub fn start_with(records: &[(&str, String)], extra: &[&str]) -> Dns {
        let dnsmasq = gw::require_tool("dnsmasq", "dnsmasq-base");
        let port = free_dns_port();
        let mut command = Command::new(dnsmasq);
        command.args([
            "--keep-in-foreground",
            &format!("--port={port}"),
            "--listen-address=127.0.0.1",
            "--bind-interfaces",
            "--no-resolv",
            "--no-hosts",
            "--conf-file=/dev/null",
            "--pid-file=",
            "--local=/example/",
            "--local-ttl=300",
        ]);
        for (name, text) in records {
            // TXT character-strings hold at most 255 bytes: long records (RSA keys) are split
            // (a comma separates them; dnsmasq keeps quotes given on its command line).
            assert!(!text.contains(','), "{text}");
            let chunks: Vec<String> = text
                .as_bytes()
                .chunks(250)
                .map(|c| String::from_utf8_lossy(c).into_owned())
                .collect();
            command.arg(format!("--txt-record={name},{}", chunks.join(",")));
        }
        command.args(extra);
        let child = command
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start dnsmasq");
        let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
        let mut dns = Dns { child, addr };
        for _ in 0..200 {
            if let Ok(Some(status)) = dns.child.try_wait() {
                panic!("dnsmasq exited early: {status}");
            }
            if TcpStream::connect(addr).is_ok() {
                return dns;
            }
            std::thread::sleep(Duration::from_millis(25));
        }
        let _ = dns.child.kill();
        panic!("dnsmasq did not listen on {addr}");
    }
}

impl Drop for Dns {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The test zones: who may send from 127.0.0.1 (SPF), the DKIM keys, the DMARC policies.
pub fn zones() -> Vec<(&'static str, String)> {
    vec![
        // acme.example: SPF authorises loopback; DMARC p=reject.
        ("acme.example", "v=spf1 ip4:127.0.0.1 -all".into()),
        ("_dmarc.acme.example", "v=DMARC1; p=reject".into()),
        ("rsa._domainkey.acme.example", rsa_dkim_record()),
        // globex.example: SPF does not authorise loopback; signs with both keys; p=reject.
        ("globex.example", "v=spf1 -all".into()),
        (
            "_dmarc.globex.example",
            "v=DMARC1; p=reject; adkim=r".into(),
        ),
        ("rsa._domainkey.globex.example", rsa_dkim_record()),
        ("ed._domainkey.globex.example", ed25519_dkim_record()),
        // initech.example: SPF authorises loopback; DMARC p=none (monitoring only).
        ("initech.example", "v=spf1 ip4:127.0.0.1 -all".into()),
        ("_dmarc.initech.example", "v=DMARC1; p=none".into()),
        // gmail.example: SPF authorises loopback; no DMARC record at all.
        ("gmail.example", "v=spf1 ip4:127.0.0.1 -all".into()),
        // A third party (an ESP) that signs and sends for anyone; no DMARC.
        ("esp.example", "v=spf1 ip4:127.0.0.1 -all".into()),
        ("ed._domainkey.esp.example", ed25519_dkim_record()),
        // The attacker's own domain, with a perfectly valid SPF record.
        ("evil.example", "v=spf1 ip4:127.0.0.1 -all".into()),
    ]
}

/// `supportgate serve` on the shared test configuration with `[authentication]` replaced by
/// `authentication` (TOML table body) and `[actions]` overrides.
pub fn start_gateway(authentication: &str, actions: &[(&'static str, &'static str)]) -> Gateway {
    let mut gateway = Gateway::start(Options {
        actions: actions.to_vec(),
        ..Options::default()
    });
    let text = std::fs::read_to_string(&gateway.config_path).unwrap();
    let mut config: toml::Table = text.parse().unwrap();
    let section: toml::Table = authentication
        .parse()
        .expect("[authentication] in the test");
    config.insert("authentication".into(), section.into());
    std::fs::write(&gateway.config_path, toml::to_string(&config).unwrap()).unwrap();
    gateway.restart();
    gateway
}

/// `[authentication]` for verify mode against `dns`.
pub fn verify_mode(dns: SocketAddr, extra: &str) -> String {
    format!("mode = \"verify\"\nnameservers = [\"{dns}\"]\ndns_timeout = \"2s\"\n{extra}")
}

/// A port where nothing answers DNS (bound, then released).
pub fn dead_dns() -> SocketAddr {
    format!("127.0.0.1:{}", free_dns_port()).parse().unwrap()
}

/// What became of one message: `(forwarded, replied, quarantined)` and our
/// `Authentication-Results` value when forwarded.
pub struct Fate {
    pub smtp: String,
    pub ticket: Option<String>,
    pub replies: usize,
    pub kept: Vec<(String, serde_json::Value, String)>,
}

impl Fate {
    pub fn our_authentication_results(&self) -> String {
        let ticket = self.ticket.as_deref().expect("forwarded");
        let values = header_values(ticket, "Authentication-Results");
        let ours: Vec<&String> = values.iter().filter(|v| v.starts_with(HOSTNAME)).collect();
        assert_eq!(ours.len(), 1, "{values:?}");
        ours[0].split_whitespace().collect::<Vec<_>>().join(" ")
    }
}

/// Sends one message on a fresh gateway state-read: the new ticket / replies / kept items
/// that appeared because of it.
pub fn send(gateway: &Gateway, mail_from: &str, rcpt: &str, message: &[u8]) -> Fate {
    let tickets_before = gateway.tickets().len();
    let outbox_before = gateway.outbox().len();
    let kept_before = gateway.quarantine().len();
    let decisions_before = gateway.decisions().len();
    let smtp = gateway.send(mail_from, &[rcpt], message);
    gateway.wait_decisions(decisions_before + 1);
    let tickets = gateway.tickets();
    Fate {
        smtp,
        ticket: tickets.get(tickets_before).cloned(),
        replies: gateway.outbox().len() - outbox_before,
        kept: gateway.quarantine().into_iter().skip(kept_before).collect(),
    }
}
