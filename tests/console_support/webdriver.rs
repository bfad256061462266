//! A WebDriver client (W3C protocol, plain HTTP/JSON) for Debian's `chromedriver`, driving a
//! headless `chromium` with a fresh profile. The driver and the browser are killed on drop.

use crate::gateway_support::{free_port, require_tool};
use serde_json::{json, Value};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// One WebDriver command may take this long (starting the browser does).
const COMMAND_WAIT: Duration = Duration::from_secs(60);
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

pub struct Browser {
    driver: Child,
    port: u16,
    session: String,
    _profile: tempfile::TempDir,
}

impl Browser {
    pub fn start() -> Browser {
        let chromium = require_tool("chromium", "chromium");
        let chromedriver = require_tool("chromedriver", "chromium-driver");
        let port = free_port();
        let driver = Command::new(chromedriver)
            .arg(format!("--port={port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromedriver");
        let deadline = Instant::now() + Duration::from_secs(20);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "chromedriver is not listening");
            std::thread::sleep(Duration::from_millis(50));
        }
        let profile = tempfile::tempdir().unwrap();
        let mut browser = Browser {
            driver,
            port,
            session: String::new(),
            _profile: profile,
        };
        let capabilities = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": chromium.display().to_string(),
                "args": [
                    "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                    "--disable-background-networking", "--disable-component-update",
                    "--disable-sync", "--no-first-run", "--window-size=1280,900",
                    format!("--user-data-dir={}", browser._profile.path().display()),
                ]
            }
        }}});
        let created = browser.command("POST", "/session", Some(capabilities));
        browser.session = created["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no session: {created}"))
            .to_string();
        // An element looked for right after a click may belong to the page the click is still
        // loading (seen on a loaded machine): the driver waits for it, up to this bound.
        let timeouts = browser.session_path("/timeouts");
        browser.command("POST", &timeouts, Some(json!({ "implicit": 10_000 })));
        browser
    }

    /// One command; its `value`. Panics on a WebDriver error.
    fn command(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let answer = self.raw(method, path, body);
        if let Some(error) = answer.get("error") {
            panic!("WebDriver {method} {path}: {error}: {}", answer["message"]);
        }
        answer
    }

    /// One command; its `value`, errors included.
    fn raw(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let mut stream = TcpStream::connect(("127.0.0.1", self.port)).expect("chromedriver");
        stream.set_read_timeout(Some(COMMAND_WAIT)).unwrap();
        let body = body.map(|b| b.to_string()).unwrap_or_default();
        write!(
            stream,
            "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            self.port,
            body.len()
        )
        .unwrap();
        let answer = super::parse_answer(&read_answer(&mut stream));
        let value: Value =
            serde_json::from_str(&answer.body).unwrap_or_else(|e| panic!("{e}: {}", answer.body));
        value["value"].clone()
    }

    fn session_path(&self, tail: &str) -> String {
        format!("/session/{}{tail}", self.session)
    }

    pub fn open(&self, url: &str) {
        self.command(
            "POST",
            &self.session_path("/url"),
            Some(json!({ "url": url })),
        );
    }

    pub fn url(&self) -> String {
        self.command("GET", &self.session_path("/url"), None)
            .as_str()
            .unwrap_or("")
            .to_string()
    }

    /// Waits (bounded) until the page's address contains `part`: the page a click asked for
    /// is the one being read.
    pub fn wait_for_url(&self, part: &str) {
        self.wait_for_url_where(part, |url| url.contains(part));
    }

    /// Waits (bounded) until the page's address ends with `end` (a redirect, a sign-in).
    pub fn wait_for_url_end(&self, end: &str) {
        self.wait_for_url_where(end, |url| url.ends_with(end));
    }

    fn wait_for_url_where(&self, what: &str, done: impl Fn(&str) -> bool) {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let url = self.url();
            if done(&url) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{what}: the page stayed at {url}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The element matching a CSS selector (panics if none).
    pub fn find(&self, css: &str) -> String {
        let found = self.command(
            "POST",
            &self.session_path("/element"),
            Some(json!({ "using": "css selector", "value": css })),
        );
        found[ELEMENT]
            .as_str()
            .unwrap_or_else(|| panic!("no element {css}: {found}"))
            .to_string()
    }

    pub fn type_into(&self, css: &str, text: &str) {
        let element = self.find(css);
        self.command(
            "POST",
            &self.session_path(&format!("/element/{element}/value")),
            Some(json!({ "text": text })),
        );
    }

    pub fn click(&self, css: &str) {
        let element = self.find(css);
        self.command(
            "POST",
            &self.session_path(&format!("/element/{element}/click")),
            Some(json!({})),
        );
    }

    /// The text of the element matching `css`. A page still loading after a click can replace
    /// the element between finding and reading it ("stale element reference"): found again,
    /// a bounded number of times.
    pub fn text(&self, css: &str) -> String {
        for _ in 0..50 {
            let element = self.find(css);
            let path = self.session_path(&format!("/element/{element}/text"));
            let answer = self.raw("GET", &path, None);
            match answer.get("error").and_then(Value::as_str) {
                Some("stale element reference") => std::thread::sleep(Duration::from_millis(100)),
                Some(error) => panic!("WebDriver GET {path}: {error}: {}", answer["message"]),
                None => return answer.as_str().unwrap_or("").to_string(),
            }
        }
        panic!("{css}: the element went stale 50 times in a row")
    }

    pub fn source(&self) -> String {
        self.command("GET", &self.session_path("/source"), None)
            .as_str()
            .unwrap_or("")
            .to_string()
    }

    /// Runs a script in the page (the test's own, not the page's) and returns its result.
    pub fn evaluate(&self, script: &str) -> Value {
        self.command(
            "POST",
            &self.session_path("/execute/sync"),
            Some(json!({ "script": script, "args": [] })),
        )
    }

    /// The text of an open alert, if one is open.
    pub fn alert(&self) -> Option<String> {
        let answer = self.raw("GET", &self.session_path("/alert/text"), None);
        if answer.get("error").is_some() {
            return None;
        }
        answer.as_str().map(str::to_string)
    }

    pub fn screenshot_png(&self) -> Vec<u8> {
        use base64::Engine;
        let data = self.command("GET", &self.session_path("/screenshot"), None);
        base64::engine::general_purpose::STANDARD
            .decode(data.as_str().unwrap_or(""))
            .expect("a base64 PNG")
    }
}

/// An HTTP answer read up to its `Content-Length` (chromedriver may keep the connection open).
fn read_answer(stream: &mut TcpStream) -> Vec<u8> {
    let mut raw = Vec::new();
    let mut buffer = [0u8; 16 * 1024];
    loop {
        if let Some(end) = raw.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&raw[..end]).to_ascii_lowercase();
            let length = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse::<usize>().ok());
            if length.is_some_and(|n| raw.len() >= end + 4 + n) {
                return raw;
            }
        }
        let n = stream
            .read(&mut buffer)
            .expect("read chromedriver's answer");
        if n == 0 {
            return raw;
        }
        raw.extend_from_slice(&buffer[..n]);
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        if !self.session.is_empty() {
            let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                self.raw("DELETE", &format!("/session/{}", self.session), None)
            }));
        }
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}
