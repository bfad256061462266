//! SPF + DKIM (RSA-2048) + DMARC of a 10 KB signed message (issue 4: goal ≤ 150 µs with a warm
//! cache), beside the same with every cache cold against a DNS server on loopback (dnsmasq,
//! started here; report only).
//!
//! Run: `cargo bench --bench auth` (needs `dnsmasq`, package dnsmasq-base).

use criterion::{black_box, criterion_group, criterion_main, BatchSize, Criterion};
use mail_auth::common::crypto::{RsaKey, Sha256};
use mail_auth::common::headers::HeaderWriter;
use mail_auth::dkim::DkimSigner;
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::process::{Child, Command, Stdio};
use std::time::Duration;
use supportgate::authentication::{Connection, Verifier};
use supportgate::config::{AuthenticationMode, AuthenticationSettings};
use supportgate::policy::AuthOutcome;

fn fixture(name: &str) -> String {
    let path = format!("{}/tests/fixtures/auth/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

struct Dns(Child);

impl Drop for Dns {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_dns() -> (Dns, SocketAddr) {
    let port = UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let key = fixture("rsa2048.pub.b64");
    let key = format!("v=DKIM1; k=rsa; p={}", key.trim());
    let chunks: Vec<&str> = key
        .as_bytes()
        .chunks(250)
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect();
    let child = Command::new("dnsmasq")
        .args([
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
            "--txt-record=acme.example,v=spf1 ip4:127.0.0.1 -all",
            "--txt-record=_dmarc.acme.example,v=DMARC1; p=reject",
            &format!(
                "--txt-record=rsa._domainkey.acme.example,{}",
                chunks.join(",")
            ),
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("dnsmasq (apt-get install dnsmasq-base)");
    let dns = Dns(child); // killed and waited for on drop
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    for _ in 0..200 {
        if TcpStream::connect(addr).is_ok() {
            return (dns, addr);
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    panic!("dnsmasq did not start");
}

fn signed_message() -> Vec<u8> {
    let mut text = String::from(
        "From: Alice Martin <alice@acme.example>\r\nTo: support+acme@vendor.example\r\n\
         Subject: Invoice 2025-01 is wrong\r\nDate: Mon, 6 Jan 2025 10:00:00 +0000\r\n\
         Message-ID: <bench@acme.example>\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n",
    );
    while text.len() < 10 * 1024 {
        text.push_str("The invoice for January lists three seats; we have two agents.\r\n");
    }
    #[allow(deprecated)] // from_key_der needs rustls-pki-types, not a dependency here
    let key = RsaKey::<Sha256>::from_rsa_pem(&fixture("rsa2048.pem")).unwrap();
    let signature = DkimSigner::from_key(key)
        .domain("acme.example")
        .selector("rsa")
        .headers(["From", "To", "Subject", "Date", "Message-ID"])
        .sign(text.as_bytes())
        .unwrap();
    let mut message = signature.to_header().into_bytes();
    message.extend_from_slice(text.as_bytes());
    message
}

fn bench(c: &mut Criterion) {
    let (_dns, addr) = start_dns();
    let settings = AuthenticationSettings {
        mode: AuthenticationMode::Verify,
        trusted_authserv_ids: Vec::new(),
        nameservers: vec![addr],
        dns_timeout: Duration::from_secs(2),
        require_dmarc: false,
        quarantine_on_temperror: false,
    };
    let message = signed_message();
    let connection = Connection {
        ip: "127.0.0.1".parse().unwrap(),
        helo: Some("mail.acme.example"),
        mail_from: Some("alice@acme.example"),
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let verifier = Verifier::new(&settings, "gw.bench").unwrap();
    let first = runtime.block_on(verifier.verify(&message, &connection));
    assert_eq!(first.dmarc.result, AuthOutcome::Pass, "{}", first.summary());
    assert_eq!(first.spf.result, AuthOutcome::Pass);
    assert_eq!(first.dkim[0].result, AuthOutcome::Pass);

    let mut group = c.benchmark_group("auth_10kb");
    group.bench_function("spf_dkim_dmarc_warm_cache", |b| {
        b.iter(|| runtime.block_on(verifier.verify(black_box(&message), &connection)))
    });
    group.bench_function("spf_dkim_dmarc_cold_loopback_dns", |b| {
        b.iter_batched(
            || Verifier::new(&settings, "gw.bench").unwrap(),
            |fresh| runtime.block_on(fresh.verify(black_box(&message), &connection)),
            BatchSize::SmallInput,
        )
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
