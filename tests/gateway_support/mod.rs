//! Shared by the `gateway_*` black-box tests: the real `supportgate serve` binary started on a
//! free loopback port with a configuration in a temporary folder, a blocking SMTP client, and
//! readers for what the gateway left on disk (ticket Maildir, outbox Maildir, quarantine) and in
//! its JSON log. Every wait is bounded.
#![allow(dead_code)]

pub mod sink;

use serde_json::Value;
use std::fs;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::time::{Duration, Instant};

/// Upper bound for one SMTP reply or one poll of the disk or the log.
pub const WAIT: Duration = Duration::from_secs(10);

/// Our hostname in the test configuration (greeting, `Received:`, authserv-id).
pub const HOSTNAME: &str = "gw.test";

pub fn repo_path(relative: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(relative)
}

pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_supportgate")
}

/// A port that was free a moment ago (bound on 127.0.0.1:0, then released).
pub fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    listener.local_addr().unwrap().port()
}

/// What a test changes in the shipped configuration.
#[derive(Clone, Default)]
pub struct Options {
    /// `[actions]` overrides: reason code → action.
    pub actions: Vec<(&'static str, &'static str)>,
    /// `[queue] target`; default: the `tickets` Maildir in the temporary folder.
    pub queue: Option<String>,
    /// `[replies] transport`; default: the `outbox` Maildir in the temporary folder.
    pub replies: Option<String>,
    /// `[spool] enabled`; false (synchronous relay) unless a test is about the spool.
    pub spool: bool,
    /// `[spool] path`; default: `spool` in the temporary folder.
    pub spool_path: Option<PathBuf>,
    /// `[spool] max_age`; default: the shipped one.
    pub spool_max_age: Option<&'static str>,
    /// `[spool] retry_schedule`; default `["1s"]`.
    pub spool_retry_schedule: Option<Vec<&'static str>>,
    /// `[limits]` overrides (`sender_messages`, `sender_window`, `sender_block`); default: the
    /// shipped limits.
    pub limits: Vec<(&'static str, toml::Value)>,
}

/// A running `supportgate serve`, its temporary folder and its log; killed on drop.
pub struct Gateway {
    pub dir: tempfile::TempDir,
    pub config_path: PathBuf,
    pub port: u16,
    child: Option<Child>,
}

impl Gateway {
    pub fn start(options: Options) -> Gateway {
        Gateway::start_edited(options, |_| {})
    }

    /// [`Gateway::start`] with the test's own changes to the configuration table.
    pub fn start_edited(options: Options, edit: impl FnOnce(&mut toml::Table)) -> Gateway {
        let dir = tempfile::tempdir().expect("tempdir");
        let config_path = dir.path().join("supportgate.toml");
        let mut config: toml::Table = config_text(dir.path(), &options).parse().unwrap();
        edit(&mut config);
        fs::write(&config_path, toml::to_string(&config).unwrap()).unwrap();
        let mut gateway = Gateway {
            dir,
            config_path,
            port: 0,
            child: None,
        };
        gateway.spawn();
        gateway
    }

    pub fn var(&self, name: &str) -> PathBuf {
        self.dir.path().join("var").join(name)
    }

    pub fn log_path(&self) -> PathBuf {
        self.dir.path().join("stderr.log")
    }

    /// Starts the binary (again) on a new free port and waits until it accepts connections.
    pub fn spawn(&mut self) {
        assert!(self.child.is_none(), "already running");
        // A free port can be taken by a parallel test before the server binds it: then the
        // server cannot listen, and a probe could reach the other test's server. Ready means
        // this server logged that it listens on its port; a port taken meanwhile is replaced.
        for _ in 0..3 {
            if self.spawn_on(free_port()) {
                return;
            }
        }
        panic!(
            "supportgate serve: three ports in a row were taken:\n{}",
            self.log()
        );
    }

    /// False if the port was taken before the server could bind it.
    fn spawn_on(&mut self, port: u16) -> bool {
        self.port = port;
        let logged_before = self.log().len();
        let log = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log_path())
            .unwrap();
        let child = Command::new(bin())
            .arg("serve")
            .arg("--config")
            .arg(&self.config_path)
            .arg("--listen")
            .arg(format!("127.0.0.1:{}", self.port))
            .env_remove("SUPPORTGATE_LOG")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::from(log))
            .spawn()
            .expect("spawn supportgate serve");
        self.child = Some(child);
        let address = format!("127.0.0.1:{}", self.port);
        for _ in 0..100 {
            let since = self
                .log()
                .get(logged_before..)
                .unwrap_or_default()
                .to_string();
            if let Some(status) = self.child.as_mut().unwrap().try_wait().unwrap() {
                self.child = None;
                if since.contains("cannot listen") && since.contains("in use") {
                    return false;
                }
                panic!("supportgate serve exited early ({status}):\n{}", self.log());
            }
            let listening = since
                .lines()
                .any(|l| l.contains("listening") && l.contains(&address));
            if listening && TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!(
            "supportgate serve did not accept on port {} within 5 s:\n{}",
            self.port,
            self.log()
        );
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Sends SIGTERM and waits (bounded) for the exit status.
    pub fn terminate(&mut self, bound: Duration) -> Option<ExitStatus> {
        let mut child = self.child.take()?;
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(child.id().to_string())
            .status();
        let deadline = Instant::now() + bound;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = child.try_wait() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = child.kill();
        let _ = child.wait();
        None
    }

    /// SIGKILL: the server dies at once, as in a crash or a power cut.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Stops the server (SIGTERM, asserting a clean exit) and starts it again on the same
    /// folder and configuration.
    pub fn restart(&mut self) {
        let status = self.terminate(Duration::from_secs(10));
        assert!(
            status.is_some_and(|s| s.success()),
            "exit {status:?}:\n{}",
            self.log()
        );
        self.spawn();
    }

    /// Sets `[section] key = value` in the configuration and restarts the server with it.
    pub fn reconfigure(&mut self, section: &str, key: &str, value: toml::Value) {
        let text = fs::read_to_string(&self.config_path).unwrap();
        let mut config: toml::Table = text.parse().unwrap();
        config
            .entry(section)
            .or_insert_with(|| toml::Table::new().into())
            .as_table_mut()
            .expect("a table")
            .insert(key.into(), value);
        fs::write(&self.config_path, toml::to_string(&config).unwrap()).unwrap();
        self.restart();
    }

    pub fn log(&self) -> String {
        fs::read_to_string(self.log_path()).unwrap_or_default()
    }

    /// Every JSON log line (the test configuration logs JSON).
    pub fn events(&self) -> Vec<Value> {
        self.log()
            .lines()
            .filter_map(|line| serde_json::from_str::<Value>(line).ok())
            .collect()
    }

    /// The decision lines: target `supportgate::decision`, with a `reason` field. (The
    /// `disconnect` line of every session has a `reason` too: why the session ended.)
    pub fn decisions(&self) -> Vec<Value> {
        self.events()
            .into_iter()
            .filter(|e| {
                field_str(e, "target") == "supportgate::decision" && field(e, "reason").is_some()
            })
            .collect()
    }

    /// Waits until at least `n` decision lines are logged; returns them all.
    pub fn wait_decisions(&self, n: usize) -> Vec<Value> {
        poll(|| {
            let d = self.decisions();
            (d.len() >= n).then_some(d)
        })
        .unwrap_or_else(|| panic!("expected {n} decision line(s) in the log:\n{}", self.log()))
    }

    pub fn tickets(&self) -> Vec<String> {
        maildir_new(&self.var("tickets"))
    }

    /// The reply outbox, once the spool has nothing left to deliver (replies and
    /// notifications go through it; bounded by [`WAIT`], then read as it is).
    pub fn outbox(&self) -> Vec<String> {
        self.settle();
        maildir_new(&self.var("outbox"))
    }

    /// The ids waiting in the spool, sorted (read from its segments, as `queue list` does).
    pub fn spooled(&self) -> Vec<String> {
        spooled_in(&self.var("spool"))
    }

    /// Waits (bounded by [`WAIT`]) until the spool is empty: every reply, notification,
    /// release and spooled ticket has been delivered or given up.
    pub fn settle(&self) -> bool {
        poll(|| self.spooled().is_empty().then_some(())).is_some()
    }

    /// `(id, record.json, message.eml)` of every kept message, oldest first.
    pub fn quarantine(&self) -> Vec<(String, Value, String)> {
        let root = self.var("quarantine");
        let mut ids: Vec<String> = fs::read_dir(&root)
            .map(|entries| {
                entries
                    .filter_map(Result::ok)
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    // `.tmp-ID` is a message being written: it appears under its id once whole.
                    .filter(|name| !name.starts_with('.'))
                    .collect()
            })
            .unwrap_or_default();
        ids.sort();
        ids.into_iter()
            .map(|id| {
                let folder = root.join(&id);
                let record = fs::read(folder.join("record.json"))
                    .unwrap_or_else(|e| panic!("{}: {e}", folder.display()));
                let record: Value = serde_json::from_slice(&record).unwrap();
                let message = fs::read_to_string(folder.join("message.eml")).unwrap();
                (id, record, message)
            })
            .collect()
    }

    /// Nothing in the ticket queue, the outbox (new/ or tmp/) or the quarantine.
    pub fn assert_nothing_kept(&self) {
        for maildir in ["tickets", "outbox"] {
            for sub in ["new", "tmp", "cur"] {
                let path = self.var(maildir).join(sub);
                let entries = fs::read_dir(&path).map(|d| d.count()).unwrap_or(0);
                assert_eq!(entries, 0, "{} is not empty", path.display());
            }
        }
        let quarantine: Vec<_> = fs::read_dir(self.var("quarantine"))
            .map(|d| d.filter_map(Result::ok).map(|e| e.file_name()).collect())
            .unwrap_or_default();
        assert!(
            quarantine.is_empty(),
            "quarantine is not empty: {quarantine:?}"
        );
    }

    /// Runs another `supportgate` command against this configuration.
    pub fn cli(&self, args: &[&str]) -> Output {
        let mut command = Command::new(bin());
        command.args(args);
        command.arg("--config").arg(&self.config_path);
        command
            .stdin(Stdio::null())
            .output()
            .expect("run supportgate")
    }

    pub fn smtp(&self) -> Smtp {
        Smtp::connect(self.port)
    }

    /// One whole transaction on a new connection; returns the reply to the end of DATA.
    pub fn send(&self, mail_from: &str, rcpts: &[&str], message: &[u8]) -> String {
        let mut smtp = self.smtp();
        let reply = smtp.transaction(mail_from, rcpts, message);
        smtp.quit();
        reply
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        self.terminate(Duration::from_secs(5));
    }
}

/// A field of a JSON log event, flattened (`fields.x`) or not (`x`).
/// Runs `supportgate serve` with `config` when it is expected not to start: waits (bounded)
/// for it to exit and returns its status and standard error.
pub fn serve_refusing(config: &Path) -> (ExitStatus, String) {
    use std::io::Read;
    let mut child = Command::new(bin())
        .args([
            "serve",
            "--listen",
            &format!("127.0.0.1:{}", free_port()),
            "--config",
        ])
        .arg(config)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let Some(status) = poll(|| child.try_wait().unwrap()) else {
        let _ = child.kill();
        panic!("serve did not exit");
    };
    let mut stderr = String::new();
    if let Some(mut pipe) = child.stderr.take() {
        pipe.read_to_string(&mut stderr).unwrap();
    }
    (status, stderr)
}

pub fn field<'a>(event: &'a Value, name: &str) -> Option<&'a Value> {
    event
        .get(name)
        .or_else(|| event.get("fields").and_then(|f| f.get(name)))
}

pub fn field_str(event: &Value, name: &str) -> String {
    match field(event, name) {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Null) | None => String::new(),
        Some(other) => other.to_string(),
    }
}

/// Polls `f` every 20 ms until it returns Some, for at most [`WAIT`].
pub fn poll<T>(mut f: impl FnMut() -> Option<T>) -> Option<T> {
    let deadline = Instant::now() + WAIT;
    loop {
        if let Some(v) = f() {
            return Some(v);
        }
        if Instant::now() > deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The shipped configuration with the test's paths, port-independent; `[metrics]` removed,
/// JSON log.
pub fn config_text(dir: &Path, options: &Options) -> String {
    let shipped = fs::read_to_string(repo_path("config/supportgate.toml")).unwrap();
    let mut config: toml::Table = shipped.parse().expect("config/supportgate.toml");
    let var = dir.join("var");
    let s = |p: PathBuf| toml::Value::String(p.display().to_string());
    let table = |config: &mut toml::Table, name: &str| -> toml::Table {
        config
            .get(name)
            .and_then(|v| v.as_table())
            .cloned()
            .unwrap_or_default()
    };

    let mut server = table(&mut config, "server");
    server.insert("hostname".into(), HOSTNAME.into());
    server.insert("shutdown_grace".into(), "3s".into());
    server.insert("pid_file".into(), s(var.join("supportgate.pid")));
    config.insert("server".into(), server.into());

    let mut directory = table(&mut config, "directory");
    directory.insert(
        "path".into(),
        s(repo_path("tests/gateway_support/directory.toml")),
    );
    config.insert("directory".into(), directory.into());

    let mut queue = table(&mut config, "queue");
    let target = options
        .queue
        .clone()
        .unwrap_or_else(|| format!("maildir:{}", var.join("tickets").display()));
    queue.insert("target".into(), target.into());
    config.insert("queue".into(), queue.into());

    let mut spool = table(&mut config, "spool");
    spool.insert("enabled".into(), options.spool.into());
    let spool_path = options
        .spool_path
        .clone()
        .unwrap_or_else(|| var.join("spool"));
    spool.insert("path".into(), s(spool_path));
    // Retries a second apart, so that a test sees the upstream come back within its bounds.
    let schedule = options.spool_retry_schedule.clone().unwrap_or(vec!["1s"]);
    spool.insert("retry_schedule".into(), schedule.into());
    if let Some(max_age) = options.spool_max_age {
        spool.insert("max_age".into(), max_age.into());
    }
    config.insert("spool".into(), spool.into());

    let mut replies = table(&mut config, "replies");
    let transport = options
        .replies
        .clone()
        .unwrap_or_else(|| format!("maildir:{}", var.join("outbox").display()));
    replies.insert("transport".into(), transport.into());
    replies.insert("templates".into(), s(repo_path("config/templates")));
    config.insert("replies".into(), replies.into());

    let mut quarantine = table(&mut config, "quarantine");
    quarantine.insert("path".into(), s(var.join("quarantine")));
    config.insert("quarantine".into(), quarantine.into());

    let mut memory = table(&mut config, "reply_memory");
    memory.insert("path".into(), s(dir.join("reply-memory.redb")));
    config.insert("reply_memory".into(), memory.into());

    // Each server its own approval store: the shipped `../var/approvals.redb` is outside the
    // temporary folder, so parallel tests would share (and wait for) one file.
    let mut approval = table(&mut config, "approval");
    approval.insert("path".into(), s(dir.join("approvals.redb")));
    config.insert("approval".into(), approval.into());

    let mut history = table(&mut config, "sender_history");
    history.insert("path".into(), s(dir.join("sender-history.redb")));
    config.insert("sender_history".into(), history.into());

    let mut limits = table(&mut config, "limits");
    for (key, value) in &options.limits {
        limits.insert((*key).into(), value.clone());
    }
    config.insert("limits".into(), limits.into());

    let mut actions = table(&mut config, "actions");
    for (reason, action) in &options.actions {
        actions.insert((*reason).into(), (*action).into());
    }
    config.insert("actions".into(), actions.into());

    let mut log = table(&mut config, "log");
    log.insert("format".into(), "json".into());
    log.insert("level".into(), "info".into());
    // The tests read the log as the record of what happened before a reply: each line at
    // once. The default (INFO lines in batches) is tested by tests/ops_log_batches.rs.
    log.insert("flush_interval".into(), "0s".into());
    config.insert("log".into(), log.into());

    config.remove("metrics");
    toml::to_string(&config).unwrap()
}

/// The messages in a Maildir's `new/`, sorted by file name (the queue id: oldest first).
pub fn maildir_new(root: &Path) -> Vec<String> {
    let mut paths: Vec<PathBuf> = fs::read_dir(root.join("new"))
        .map(|d| d.filter_map(Result::ok).map(|e| e.path()).collect())
        .unwrap_or_default();
    paths.sort();
    paths
        .iter()
        .map(|p| String::from_utf8_lossy(&fs::read(p).unwrap()).into_owned())
        .collect()
}

/// The header section of a message, unfolded: `(name, value)` in order.
pub fn headers(message: &str) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for line in message.split("\r\n") {
        if line.is_empty() {
            break;
        }
        if line.starts_with([' ', '\t']) {
            if let Some(last) = out.last_mut() {
                if !last.1.is_empty() {
                    last.1.push(' ');
                }
                last.1.push_str(line.trim());
            }
            continue;
        }
        if let Some((name, value)) = line.split_once(':') {
            out.push((name.trim().to_string(), value.trim().to_string()));
        }
    }
    out
}

/// Values of every header field called `name` (case-insensitive).
pub fn header_values(message: &str, name: &str) -> Vec<String> {
    headers(message)
        .into_iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v)
        .collect()
}

/// The single value of `name`; panics (showing the message) if absent or repeated.
pub fn header(message: &str, name: &str) -> String {
    let values = header_values(message, name);
    assert_eq!(values.len(), 1, "{name}: {values:?} in\n{message}");
    values.into_iter().next().unwrap()
}

/// A plain message with CRLF line endings.
pub fn message(from: &str, subject: &str, extra_headers: &[&str], body: &str) -> Vec<u8> {
    use std::sync::atomic::{AtomicU32, Ordering};
    static COUNT: AtomicU32 = AtomicU32::new(0);
    let n = COUNT.fetch_add(1, Ordering::Relaxed);
    let mut text = format!(
        "From: {from}\r\nTo: support@vendor.example\r\nSubject: {subject}\r\nDate: Mon, 6 Jan 2025 10:00:00 +0000\r\nMessage-ID: <t{n}.{}@client.example>\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n",
        std::process::id()
    );
    for h in extra_headers {
        text.push_str(h);
        text.push_str("\r\n");
    }
    text.push_str("\r\n");
    for line in body.lines() {
        text.push_str(line);
        text.push_str("\r\n");
    }
    text.into_bytes()
}

/// A blocking SMTP client with bounded reads.
pub struct Smtp {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
    pub greeting: String,
}

impl Smtp {
    pub fn connect(port: u16) -> Smtp {
        Smtp::connect_to(std::net::SocketAddr::from(([127, 0, 0, 1], port)))
    }

    pub fn connect_to(address: std::net::SocketAddr) -> Smtp {
        let stream =
            TcpStream::connect(address).unwrap_or_else(|e| panic!("connect to {address}: {e}"));
        stream.set_read_timeout(Some(WAIT)).unwrap();
        stream.set_write_timeout(Some(WAIT)).unwrap();
        let writer = stream.try_clone().unwrap();
        let mut smtp = Smtp {
            reader: BufReader::new(stream),
            writer,
            greeting: String::new(),
        };
        smtp.greeting = smtp.reply();
        assert!(smtp.greeting.starts_with("220 "), "{}", smtp.greeting);
        smtp
    }

    pub fn local_addr(&self) -> std::net::SocketAddr {
        self.writer.local_addr().unwrap()
    }

    /// One reply, all its lines joined with `\n`; empty if the connection closed.
    pub fn reply(&mut self) -> String {
        let mut lines = Vec::new();
        for _ in 0..100 {
            let mut line = String::new();
            match self.reader.read_line(&mut line) {
                Ok(0) => break,
                Ok(_) => {}
                Err(e) => panic!("reading a reply: {e} (after {lines:?})"),
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

    pub fn write(&mut self, bytes: &[u8]) {
        self.writer.write_all(bytes).expect("write");
        self.writer.flush().unwrap();
    }

    pub fn cmd(&mut self, line: &str) -> String {
        self.write(format!("{line}\r\n").as_bytes());
        self.reply()
    }

    pub fn expect(&mut self, line: &str, code: &str) -> String {
        let reply = self.cmd(line);
        assert!(
            reply.starts_with(code),
            "{line:?} -> {reply:?}, expected {code}"
        );
        reply
    }

    /// EHLO, MAIL, RCPT…, DATA; returns the reply to the end of data. `mail_from` "" is `<>`.
    pub fn transaction(&mut self, mail_from: &str, rcpts: &[&str], message: &[u8]) -> String {
        self.expect("EHLO client.example", "250");
        self.expect(&format!("MAIL FROM:<{mail_from}>"), "250");
        for rcpt in rcpts {
            self.expect(&format!("RCPT TO:<{rcpt}>"), "250");
        }
        self.expect("DATA", "354");
        self.write(&dot_stuffed(message));
        self.write(b".\r\n");
        self.reply()
    }

    pub fn quit(&mut self) {
        let _ = self.writer.write_all(b"QUIT\r\n");
        let _ = self.reply();
    }

    pub fn shutdown(self) {
        let _ = self.writer.shutdown(std::net::Shutdown::Both);
    }
}

/// The DATA bytes for `message`: leading dots doubled, ending with CRLF.
pub fn dot_stuffed(message: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(message.len() + 16);
    let mut at_line_start = true;
    for &b in message {
        if at_line_start && b == b'.' {
            out.push(b'.');
        }
        out.push(b);
        at_line_start = b == b'\n';
    }
    if !out.ends_with(b"\r\n") {
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// Asserts that a command-line tool is installed; fails with how to install it (CI does).
pub fn require_tool(name: &str, package: &str) -> PathBuf {
    for dir in [
        "/usr/bin",
        "/usr/sbin",
        "/usr/local/bin",
        "/usr/local/sbin",
        "/bin",
        "/sbin",
    ] {
        let path = Path::new(dir).join(name);
        if path.exists() {
            return path;
        }
    }
    if let Ok(out) = Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {name}"))
        .output()
    {
        let found = String::from_utf8_lossy(&out.stdout).trim().to_string();
        if out.status.success() && !found.is_empty() {
            return PathBuf::from(found);
        }
    }
    panic!(
        "`{name}` is not installed; CI installs it. Install it with: \
         echo 'postfix postfix/main_mailer_type select No configuration' | debconf-set-selections; \
         DEBIAN_FRONTEND=noninteractive apt-get install -y {package}"
    );
}

/// The ids waiting in the spool at `path`, sorted (a spool not readable counts as empty).
pub fn spooled_in(path: &Path) -> Vec<String> {
    supportgate::store::spool::Spool::new(path)
        .list()
        .map(|entries| entries.into_iter().map(|e| e.id).collect())
        .unwrap_or_default()
}
