//! STARTTLS with a self-signed certificate made at test time.

mod smtp_support;

use std::sync::Arc;

use smtp_support::*;
use supportgate::smtp::{load_tls_config, ReloadableTls};
use tokio_rustls::rustls::{self, pki_types::ServerName};

struct Tls {
    server: Arc<rustls::ServerConfig>,
    client: tokio_rustls::TlsConnector,
    _dir: tempfile::TempDir,
}

/// Writes a fresh certificate and key as PEM files, loads them the way production does and
/// builds a client that trusts exactly that certificate.
fn tls() -> Tls {
    let certified = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cert_path = dir.path().join("cert.pem");
    let key_path = dir.path().join("key.pem");
    std::fs::write(&cert_path, certified.cert.pem()).unwrap();
    std::fs::write(&key_path, certified.key_pair.serialize_pem()).unwrap();
    let server = load_tls_config(&cert_path, &key_path).unwrap();

    let mut roots = rustls::RootCertStore::empty();
    roots.add(certified.cert.der().clone()).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let client = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    Tls {
        server,
        client: tokio_rustls::TlsConnector::from(Arc::new(client)),
        _dir: dir,
    }
}

#[tokio::test]
async fn starttls_resets_the_session_and_discards_pipelined_commands() {
    let tls = tls();
    let mut config = test_config();
    config.tls = Some(Arc::new(ReloadableTls::new(tls.server.clone())));
    let server = start(config).await;

    let mut c = Client::greeted(server.addr()).await;
    let ehlo = c.cmd("EHLO client.example").await;
    assert!(
        ehlo.contains("250-STARTTLS") || ehlo.contains("250 STARTTLS"),
        "{ehlo}"
    );
    // Injection attempt: commands pipelined behind STARTTLS in the same write. Were they kept,
    // they would run inside the TLS session as if the client had sent them there.
    c.send("STARTTLS\r\nEHLO evil\r\nMAIL FROM:<x@y>\r\n").await;
    assert!(c.reply().await.starts_with("220 2.0.0"));

    let name = ServerName::try_from("localhost").unwrap();
    let stream = tokio::time::timeout(WAIT, tls.client.connect(name, c.into_inner()))
        .await
        .expect("handshake timeout")
        .expect("handshake");
    let mut c = Client::new(stream);
    // The first reply inside TLS answers our first command, not an injected one.
    assert_eq!(c.cmd("NOOP").await, "250 2.0.0 Ok");
    // HELO was forgotten...
    c.expect("MAIL FROM:<a@example.org>", "503 5.5.1").await;
    let ehlo = c.cmd("EHLO client.example").await;
    assert!(!ehlo.contains("STARTTLS"), "STARTTLS offered twice: {ehlo}");
    // ...and the injected MAIL was never honoured: no transaction is open.
    c.expect("RCPT TO:<support@vendor.example>", "503 5.5.1")
        .await;
    c.expect("STARTTLS", "503 5.5.1").await;
    assert!(transaction(&mut c, b"over tls\r\n.\r\n")
        .await
        .starts_with("250"));
    c.expect("QUIT", "221").await;

    let messages = server.handler.messages();
    assert_eq!(messages.len(), 1);
    assert!(messages[0].0.tls);
    assert_eq!(
        messages[0].1.mail_from.as_deref(),
        Some("sender@example.org")
    );
}

/// Issue 10, finding 6: STARTTLS after MAIL would start TLS in the middle of a transaction
/// (RFC 3207 §4: a client issues it before any transaction). `503 5.5.1`, and the session and
/// its transaction go on in plaintext.
#[tokio::test]
async fn issue10_6_starttls_inside_a_transaction_is_a_bad_sequence() {
    let tls = tls();
    let mut config = test_config();
    config.tls = Some(Arc::new(ReloadableTls::new(tls.server.clone())));
    let server = start(config).await;
    let mut c = Client::greeted(server.addr()).await;
    c.cmd("EHLO client.example").await;
    c.expect("MAIL FROM:<a@example.org>", "250").await;
    c.expect("STARTTLS", "503 5.5.1").await;
    c.expect("RCPT TO:<support@vendor.example>", "250").await;
    c.expect("STARTTLS", "503 5.5.1").await;
    c.expect("DATA", "354").await;
    c.send("plain\r\n.\r\n").await;
    assert!(c.reply().await.starts_with("250"));
    // Between transactions it is fine again.
    c.expect("STARTTLS", "220 2.0.0").await;
    assert!(!server.handler.messages()[0].0.tls);
}

#[test]
fn load_tls_config_reports_missing_files() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope.pem");
    assert!(load_tls_config(&missing, &missing).is_err());
    let empty = dir.path().join("empty.pem");
    std::fs::write(&empty, "").unwrap();
    let err = load_tls_config(&empty, &empty).unwrap_err();
    assert!(err.to_string().contains("no certificate"), "{err}");
}
