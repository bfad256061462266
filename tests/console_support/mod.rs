//! Shared by the `console_*` black-box tests: a real `supportgate serve` with `[console]` on a
//! free loopback port and a user made by `supportgate console passwd` (password on stdin),
//! and a small HTTP/1.1 client that keeps cookies and can speak from any 127.0.0.0/8 address
//! (the sign-in rate limit counts per client IP). Builds on `ops_support` for the server.
#![allow(dead_code)]

pub mod webdriver;

use crate::gateway_support::{bin, free_port, WAIT};
use crate::ops_support::{table, Server, Start};
use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Command, Stdio};

pub const USER: &str = "jdoe";
pub const PASSWORD: &str = "correct horse battery staple";

/// A server with the console on, signed in by the users file (or the SSO header when
/// `trusted_header` names it).
pub struct Console {
    pub server: Server,
    pub port: u16,
}

impl Console {
    pub fn start(trusted_header: Option<&'static str>) -> Console {
        let port = free_port();
        let start = Start {
            edit: Box::new(move |dir, config| {
                let console = table(config, "console");
                console.insert("listen".into(), format!("127.0.0.1:{port}").into());
                console.insert(
                    "users".into(),
                    dir.join("console-users.toml").display().to_string().into(),
                );
                console.insert(
                    "audit_log".into(),
                    dir.join("var/console-audit.jsonl")
                        .display()
                        .to_string()
                        .into(),
                );
                if let Some(header) = trusted_header {
                    console.insert("trusted_user_header".into(), header.into());
                }
                // The paging test sends more than a page (50) from one stranger on purpose:
                // `mail-loop` (20 per 10 minutes by default) would hold most of them back.
                table(config, "limits").insert("sender_messages".into(), 1_000_000.into());
            }),
            ..Start::default()
        };
        let server = Server::start(start);
        let console = Console { server, port };
        console.passwd(USER, PASSWORD);
        console
    }

    /// `supportgate console passwd NAME` with the password on stdin.
    pub fn passwd(&self, name: &str, password: &str) {
        let mut child = Command::new(bin())
            .args(["console", "passwd", name, "--config"])
            .arg(&self.server.config_path)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run supportgate console passwd");
        child
            .stdin
            .take()
            .unwrap()
            .write_all(format!("{password}\n").as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "console passwd: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    pub fn client(&self) -> Client {
        Client::new(self.port, [127, 0, 0, 1])
    }

    /// A client speaking from another loopback address (a different client IP).
    pub fn client_from(&self, ip: [u8; 4]) -> Client {
        Client::new(self.port, ip)
    }

    /// A client signed in as [`USER`].
    pub fn signed_in(&self) -> Client {
        let mut client = self.client();
        let answer = client.sign_in(USER, PASSWORD);
        assert_eq!(answer.status, 303, "{answer:?}");
        assert_eq!(answer.header("location"), Some("/quarantine"));
        client
    }

    /// The audit log's entries, oldest first.
    pub fn audit(&self) -> Vec<serde_json::Value> {
        std::fs::read_to_string(self.server.var("console-audit.jsonl"))
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
            .collect()
    }
}

#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Answer {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn set_cookies(&self) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case("set-cookie"))
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// The first form's CSRF token on the page.
    pub fn csrf(&self) -> String {
        let at = self
            .body
            .find("name=\"csrf\" value=\"")
            .unwrap_or_else(|| panic!("no CSRF field in:\n{}", self.body));
        let rest = &self.body[at + "name=\"csrf\" value=\"".len()..];
        rest[..rest.find('"').unwrap()].to_string()
    }
}

/// An HTTP/1.1 client: one connection per request, cookies kept.
pub struct Client {
    port: u16,
    source: [u8; 4],
    pub cookies: BTreeMap<String, String>,
    /// Extra request headers (`Accept-Language`, an SSO header).
    pub headers: Vec<(String, String)>,
}

impl Client {
    pub fn new(port: u16, source: [u8; 4]) -> Client {
        Client {
            port,
            source,
            cookies: BTreeMap::new(),
            headers: Vec::new(),
        }
    }

    pub fn get(&mut self, path: &str) -> Answer {
        self.request("GET", path, None)
    }

    pub fn post(&mut self, path: &str, form: &[(&str, &str)]) -> Answer {
        let body = form_body(form);
        self.request("POST", path, Some(body))
    }

    /// GET the sign-in page (for its CSRF token), then POST the form.
    pub fn sign_in(&mut self, user: &str, password: &str) -> Answer {
        let page = self.get("/sign-in");
        assert_eq!(page.status, 200, "{page:?}");
        let csrf = page.csrf();
        self.post(
            "/sign-in",
            &[("csrf", &csrf), ("username", user), ("password", password)],
        )
    }

    fn connect(&self) -> TcpStream {
        let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None)
            .expect("socket");
        let source = SocketAddr::from((self.source, 0));
        socket
            .bind(&source.into())
            .expect("bind the client address");
        socket
            .connect_timeout(&SocketAddr::from(([127, 0, 0, 1], self.port)).into(), WAIT)
            .expect("connect to the console");
        let stream: TcpStream = socket.into();
        stream.set_read_timeout(Some(WAIT)).unwrap();
        stream
    }

    pub fn request(&mut self, method: &str, path: &str, body: Option<String>) -> Answer {
        let mut stream = self.connect();
        let mut head = format!(
            "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nConnection: close\r\n",
            self.port
        );
        if !self.cookies.is_empty() {
            let jar: Vec<String> = self
                .cookies
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            head.push_str(&format!("Cookie: {}\r\n", jar.join("; ")));
        }
        for (name, value) in &self.headers {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        let body = body.unwrap_or_default();
        if method == "POST" {
            head.push_str("Content-Type: application/x-www-form-urlencoded\r\n");
            head.push_str(&format!("Content-Length: {}\r\n", body.len()));
        }
        head.push_str("\r\n");
        stream.write_all(head.as_bytes()).unwrap();
        stream.write_all(body.as_bytes()).unwrap();
        let mut raw = Vec::new();
        stream.read_to_end(&mut raw).expect("read the answer");
        let answer = parse_answer(&raw);
        for cookie in answer.set_cookies() {
            let pair = cookie.split(';').next().unwrap_or("");
            if let Some((name, value)) = pair.split_once('=') {
                if value.is_empty() || cookie.contains("Max-Age=0") {
                    self.cookies.remove(name);
                } else {
                    self.cookies.insert(name.to_string(), value.to_string());
                }
            }
        }
        answer
    }
}

pub fn form_body(form: &[(&str, &str)]) -> String {
    let mut out = form_urlencoded::Serializer::new(String::new());
    for (k, v) in form {
        out.append_pair(k, v);
    }
    out.finish()
}

pub fn parse_answer(raw: &[u8]) -> Answer {
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("an HTTP answer head");
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let mut lines = head.split("\r\n");
    let status: u16 = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|s| s.parse().ok())
        .expect("a status line");
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_string(), v.trim().to_string()))
        .collect();
    let mut body = raw[split + 4..].to_vec();
    let chunked = headers
        .iter()
        .any(|(n, v)| n.eq_ignore_ascii_case("transfer-encoding") && v.contains("chunked"));
    if chunked {
        body = dechunk(&body);
    }
    Answer {
        status,
        headers,
        body: String::from_utf8_lossy(&body).into_owned(),
    }
}

fn dechunk(mut data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    for _ in 0..100_000 {
        let Some(end) = data.windows(2).position(|w| w == b"\r\n") else {
            break;
        };
        let size_text = String::from_utf8_lossy(&data[..end]);
        let size = usize::from_str_radix(size_text.split(';').next().unwrap_or("").trim(), 16)
            .unwrap_or(0);
        if size == 0 {
            break;
        }
        let start = end + 2;
        out.extend_from_slice(&data[start..(start + size).min(data.len())]);
        data = &data[(start + size + 2).min(data.len())..];
    }
    out
}
