//! Black-box: STARTTLS as the MX (issue 11 §5). The real binary serves a certificate from PEM
//! files; after certbot-style renewal (the files replaced, then SIGHUP) new sessions get the new
//! certificate while a session opened before goes on; a broken file on SIGHUP keeps the one in
//! force, logs why at ERROR and counts a failed reload. And the swaks line of docs/postfix.md
//! ("TLS and DNS as the MX") gets its 250 over TLS.

mod gateway_support;
mod ops_support;

use gateway_support::{dot_stuffed, field_str, message, repo_path, require_tool, WAIT};
use ops_support::{sample, table, Server, Start};
use std::fs;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tokio_rustls::rustls::{self, pki_types::CertificateDer, pki_types::ServerName};

/// A self-signed certificate for the names a client may use to reach the test server.
fn certificate() -> rcgen::CertifiedKey {
    rcgen::generate_simple_self_signed(vec![
        "mx.vendor.example".to_string(),
        "localhost".to_string(),
        "127.0.0.1".to_string(),
    ])
    .unwrap()
}

/// Where certbot would put them, inside the server's temporary folder.
fn live(dir: &Path) -> (PathBuf, PathBuf) {
    let live = dir.join("letsencrypt/live/mx.vendor.example");
    (live.join("fullchain.pem"), live.join("privkey.pem"))
}

fn install(dir: &Path, certified: &rcgen::CertifiedKey) {
    let (cert, key) = live(dir);
    fs::create_dir_all(cert.parent().unwrap()).unwrap();
    fs::write(&cert, certified.cert.pem()).unwrap();
    fs::write(&key, certified.key_pair.serialize_pem()).unwrap();
}

/// `supportgate serve` with `[server.tls]` pointing at `first`, metrics on.
fn tls_server(first: &rcgen::CertifiedKey) -> Server {
    let (cert_pem, key_pem) = (first.cert.pem(), first.key_pair.serialize_pem());
    Server::start(Start {
        metrics: true,
        edit: Box::new(move |dir, config| {
            let (cert, key) = live(dir);
            fs::create_dir_all(cert.parent().unwrap()).unwrap();
            fs::write(&cert, &cert_pem).unwrap();
            fs::write(&key, &key_pem).unwrap();
            // The documented [server.tls], with /etc/letsencrypt in the temporary folder.
            let documented: toml::Table = fragment("mx-tls.supportgate.toml").parse().unwrap();
            let mut tls = documented["server"]["tls"].as_table().unwrap().clone();
            for (_, value) in tls.iter_mut() {
                let path = value.as_str().unwrap();
                let moved = path.replace(
                    "/etc/letsencrypt",
                    &format!("{}/letsencrypt", dir.display()),
                );
                *value = moved.into();
            }
            assert_eq!(tls["certificate"].as_str(), cert.to_str());
            assert_eq!(tls["key"].as_str(), key.to_str());
            table(config, "server").insert("tls".into(), tls.into());
        }),
        ..Start::default()
    })
}

/// A rustls client that trusts exactly these certificates.
fn client(trusted: &[&rcgen::CertifiedKey]) -> Arc<rustls::ClientConfig> {
    let mut roots = rustls::RootCertStore::empty();
    for certified in trusted {
        roots.add(certified.cert.der().clone()).unwrap();
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    Arc::new(config)
}

/// One reply, its lines joined with `\n`.
fn reply(reader: &mut impl BufRead) -> String {
    let mut lines = Vec::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).expect("reading a reply") == 0 {
            break;
        }
        let line = line.trim_end().to_string();
        let last = line.as_bytes().get(3) != Some(&b'-');
        lines.push(line);
        if last {
            break;
        }
    }
    lines.join("\n")
}

/// An SMTP session after STARTTLS.
struct TlsSmtp {
    stream: BufReader<rustls::StreamOwned<rustls::ClientConnection, TcpStream>>,
}

impl TlsSmtp {
    fn start(port: u16, client: Arc<rustls::ClientConfig>) -> TlsSmtp {
        let mut tcp = TcpStream::connect(("127.0.0.1", port)).unwrap();
        tcp.set_read_timeout(Some(WAIT)).unwrap();
        tcp.set_write_timeout(Some(WAIT)).unwrap();
        {
            let mut plain = BufReader::new(&tcp);
            assert!(reply(&mut plain).starts_with("220 "));
            (&tcp).write_all(b"EHLO client.example\r\n").unwrap();
            assert!(reply(&mut plain).contains("STARTTLS"));
            (&tcp).write_all(b"STARTTLS\r\n").unwrap();
            assert!(reply(&mut plain).starts_with("220 2.0.0"));
            assert!(plain.buffer().is_empty(), "bytes after 220 to STARTTLS");
        }
        let name = ServerName::try_from("mx.vendor.example").unwrap();
        let mut connection = rustls::ClientConnection::new(client, name).unwrap();
        while connection.is_handshaking() {
            connection.complete_io(&mut tcp).expect("TLS handshake");
        }
        TlsSmtp {
            stream: BufReader::new(rustls::StreamOwned::new(connection, tcp)),
        }
    }

    /// The certificate the server presented in this session's handshake.
    fn presented(&self) -> CertificateDer<'static> {
        let chain = self.stream.get_ref().conn.peer_certificates().unwrap();
        chain[0].clone().into_owned()
    }

    fn cmd(&mut self, line: &str) -> String {
        self.write(format!("{line}\r\n").as_bytes());
        reply(&mut self.stream)
    }

    fn write(&mut self, bytes: &[u8]) {
        let stream = self.stream.get_mut();
        stream.write_all(bytes).unwrap();
        stream.flush().unwrap();
    }

    /// A whole transaction over TLS: the final reply.
    fn transaction(&mut self) -> String {
        assert!(self.cmd("EHLO client.example").starts_with("250"));
        assert!(self
            .cmd("MAIL FROM:<chloe@acme.example>")
            .starts_with("250"));
        assert!(self
            .cmd("RCPT TO:<support+acme@vendor.example>")
            .starts_with("250"));
        assert!(self.cmd("DATA").starts_with("354"));
        let body = message("chloe@acme.example", "Printer queue stuck", &[], "Hi.\n");
        self.write(&dot_stuffed(&body));
        self.cmd(".")
    }
}

#[test]
fn sighup_serves_the_renewed_certificate_to_new_sessions_and_keeps_open_ones() {
    let (a, b) = (certificate(), certificate());
    let server = tls_server(&a);
    let trusting = client(&[&a, &b]);

    let mut before = TlsSmtp::start(server.port, Arc::clone(&trusting));
    assert_eq!(before.presented(), *a.cert.der());
    assert!(before.cmd("NOOP").starts_with("250"));

    // certbot renews: new files at the same paths, then the deploy hook's reload.
    install(server.dir.path(), &b);
    server.signal("HUP");
    server.wait_log("SIGHUP: TLS certificate reloaded", 1);

    let mut after = TlsSmtp::start(server.port, Arc::clone(&trusting));
    assert_eq!(after.presented(), *b.cert.der());
    let queued = after.transaction();
    assert!(queued.starts_with("250 "), "{queued}\n{}", server.log());

    // The session opened with A goes on, in TLS, to a delivered message.
    let queued = before.transaction();
    assert!(queued.starts_with("250 "), "{queued}\n{}", server.log());
    assert!(before.cmd("QUIT").starts_with("221"));

    // A broken certificate file: B stays in force, the log says why, the metric counts it.
    let (cert, _) = live(server.dir.path());
    fs::write(&cert, "-----BEGIN CERTIFICATE-----\nnot base64\n").unwrap();
    let failure = server.failed_reload();
    assert_eq!(field_str(&failure, "level"), "ERROR");
    let error = field_str(&failure, "error");
    assert!(
        error.contains("server.tls") && error.contains("fullchain.pem"),
        "{failure}"
    );
    let mut later = TlsSmtp::start(server.port, trusting);
    assert_eq!(later.presented(), *b.cert.der());
    assert!(later.cmd("QUIT").starts_with("221"));

    let scrape = server.scrape();
    for (result, count) in [("success", 1.0), ("failure", 1.0)] {
        let series = format!("supportgate_config_reloads_total{{result=\"{result}\"}}");
        assert_eq!(sample(&scrape, &series), count, "{scrape}");
    }
}

/// The fenced block after `<!-- fragment: NAME -->` in docs/postfix.md.
fn fragment(name: &str) -> String {
    let doc = fs::read_to_string(repo_path("docs/postfix.md")).unwrap();
    let marker = format!("<!-- fragment: {name} -->");
    let start = doc.find(&marker).expect("fragment marker") + marker.len();
    let block = doc[start..].trim_start();
    let block = block.strip_prefix("```").expect("a fenced block");
    let body = &block[block.find('\n').unwrap() + 1..];
    body[..body.find("```").expect("closing fence")].to_string()
}

/// Words of a shell command: `'…'` quoting, `\` line continuations, `#` comment lines.
fn shell_words(command: &str) -> Vec<String> {
    let joined = command
        .lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .collect::<Vec<_>>()
        .join("\n")
        .replace("\\\n", " ");
    let mut words = Vec::new();
    let mut word: Option<String> = None;
    let mut quoted = false;
    for c in joined.chars() {
        match c {
            '\'' => {
                quoted = !quoted;
                word.get_or_insert_with(String::new);
            }
            c if c.is_whitespace() && !quoted => words.extend(word.take()),
            c => word.get_or_insert_with(String::new).push(c),
        }
    }
    assert!(!quoted, "unbalanced quote in {command}");
    words.extend(word);
    words
}

#[test]
fn the_documented_swaks_tls_line_gets_250_over_starttls() {
    let swaks = require_tool("swaks", "swaks");
    let a = certificate();
    let server = tls_server(&a);
    let words = shell_words(&fragment("mx-tls.swaks"));
    assert_eq!(words[0], "swaks", "{words:?}");
    assert!(words.iter().any(|w| w == "--tls"), "{words:?}");
    // The documented line, pointed at the test server; trusting its self-signed certificate
    // (the real one is verified against the system's CAs).
    let (cert, _) = live(server.dir.path());
    let args: Vec<String> = words[1..]
        .iter()
        .map(|w| {
            w.replace(
                "mx.vendor.example:25",
                &format!("127.0.0.1:{}", server.port),
            )
        })
        .chain(["--tls-ca-path".to_string(), cert.display().to_string()])
        .collect();
    let out = std::process::Command::new(swaks)
        .args(&args)
        .output()
        .unwrap();
    let transcript = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{args:?}\n{transcript}\n{}\n{}",
        String::from_utf8_lossy(&out.stderr),
        server.log()
    );
    assert!(transcript.contains("TLS started"), "{transcript}");
    // `<~ ` marks what the server said inside TLS.
    assert!(
        transcript.contains("<~  250 2.0.0 Queued as "),
        "{transcript}"
    );
    let decided = gateway_support::poll(|| server.decisions().into_iter().next())
        .unwrap_or_else(|| panic!("no decision:\n{}", server.log()));
    assert_eq!(field_str(&decided, "reason"), "accepted", "{decided}");
}
