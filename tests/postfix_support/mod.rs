//! Shared by `tests/postfix_*.rs`: the configuration fragments of `docs/postfix.md`, a private
//! Postfix instance on loopback built from them, Postfix's `smtp-sink` as the final destination,
//! `supportgate serve` configured with a fragment, and swaks. Every wait is bounded; Postfix,
//! the sink and supportgate are stopped on drop, also when a test fails.
#![allow(dead_code)]

pub mod milter;

use crate::gateway_support::{self, free_port, repo_path, Options};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long mail may take from the client to the sink (through Postfix's queue).
pub const DELIVERY_WAIT: Duration = Duration::from_secs(20);

/// Postfix's `myhostname` in the tests: also the authserv-id that the fragments trust.
pub const MYHOSTNAME: &str = "mx.vendor.example";

/// Fails unless Postfix, smtp-sink and swaks are installed and we are root (CI is).
pub fn require_postfix() {
    for tool in ["postfix", "postconf", "smtp-sink", "swaks"] {
        let found = [
            "/usr/sbin",
            "/usr/bin",
            "/sbin",
            "/bin",
            "/usr/local/sbin",
            "/usr/local/bin",
        ]
        .iter()
        .any(|dir| Path::new(dir).join(tool).exists());
        assert!(
            found,
            "`{tool}` is not installed: the Postfix integration tests need the real Postfix, \
             smtp-sink and swaks. Run `sudo scripts/install-test-deps.sh` (CI does)."
        );
    }
    let uid = Command::new("id").arg("-u").output().expect("id -u");
    assert_eq!(
        String::from_utf8_lossy(&uid.stdout).trim(),
        "0",
        "the Postfix integration tests start private Postfix instances and must run as root \
         (CI does); run `sudo scripts/install-test-deps.sh` and the tests as root"
    );
}

/// A fenced block of `docs/postfix.md` marked `<!-- fragment: NAME -->`, verbatim.
pub fn fragment(name: &str) -> String {
    let doc = fs::read_to_string(repo_path("docs/postfix.md")).expect("docs/postfix.md");
    let marker = format!("<!-- fragment: {name} -->");
    let start = doc
        .find(&marker)
        .unwrap_or_else(|| panic!("docs/postfix.md has no `{marker}`"));
    let mut lines = doc[start + marker.len()..]
        .lines()
        .skip_while(|l| l.trim().is_empty());
    let fence = lines.next().unwrap_or_default();
    assert!(
        fence.starts_with("```"),
        "`{marker}` must be followed by a fenced block, found {fence:?}"
    );
    let mut text = String::new();
    for line in lines {
        if line.starts_with("```") {
            assert!(!text.is_empty(), "fragment {name} is empty");
            return text;
        }
        text.push_str(line);
        text.push('\n');
    }
    panic!("fragment {name}: unterminated fenced block");
}

/// The loopback ports of one test: the public smtpd (the doc's `smtp`, port 25), supportgate
/// behind Postfix (the doc's 10025), the reinjection smtpd (10026), the sink (the helpdesk and
/// the Internet: Postfix's relayhost) and the sink of `sales@vendor.example`, another mailbox
/// of the same MX (its own transport).
#[derive(Clone, Copy, Debug)]
pub struct Ports {
    pub smtp: u16,
    pub filter: u16,
    pub reinject: u16,
    pub sink: u16,
    pub sales: u16,
    /// supportgate as a milter (the doc's 10027).
    pub milter: u16,
}

impl Ports {
    pub fn new() -> Ports {
        let mut seen = Vec::new();
        let mut next = || loop {
            let port = free_port();
            if !seen.contains(&port) {
                seen.push(port);
                return port;
            }
        };
        Ports {
            smtp: next(),
            filter: next(),
            reinject: next(),
            sink: next(),
            sales: next(),
            milter: next(),
        }
    }

    /// A fragment with the doc's ports replaced by this test's, and the public `smtp` service
    /// on loopback without chroot (a throwaway queue directory has no chroot jail).
    pub fn apply(&self, text: &str) -> String {
        let mut out = String::new();
        for line in text.lines() {
            let line = line
                .replace(":10025", &format!(":{}", self.filter))
                .replace(":10026", &format!(":{}", self.reinject))
                .replace(":10027", &format!(":{}", self.milter));
            let fields: Vec<&str> = line.split_whitespace().collect();
            if fields.len() >= 8 && fields[0] == "smtp" && fields[1] == "inet" {
                let service = format!("127.0.0.1:{}", self.smtp);
                let mut fields: Vec<String> = fields.iter().map(|f| f.to_string()).collect();
                fields[0] = service;
                fields[4] = "n".into();
                out.push_str(&fields.join(" "));
            } else {
                out.push_str(&line);
            }
            out.push('\n');
        }
        assert!(
            !out.contains("10025") && !out.contains("10026") && !out.contains("10027"),
            "unreplaced port in\n{out}"
        );
        out
    }
}

impl Default for Ports {
    fn default() -> Self {
        Ports::new()
    }
}

/// Waits until something accepts connections on 127.0.0.1:`port`.
pub fn wait_port(port: u16, bound: Duration) -> bool {
    let deadline = Instant::now() + bound;
    while Instant::now() < deadline {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}

/// Runs a command with a bound on its duration; returns (exit success, stdout + stderr).
pub fn run_bounded(command: &mut Command, bound: Duration) -> (bool, String) {
    let out_file = tempfile::NamedTempFile::new().unwrap();
    let mut child = command
        .stdin(Stdio::null())
        .stdout(out_file.reopen().unwrap())
        .stderr(out_file.reopen().unwrap())
        .spawn()
        .unwrap_or_else(|e| panic!("spawn {command:?}: {e}"));
    let deadline = Instant::now() + bound;
    let success = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status.success();
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            break false;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    (
        success,
        fs::read_to_string(out_file.path()).unwrap_or_default(),
    )
}

/// swaks to 127.0.0.1:`port`: one message whose body is `token`; returns (success, transcript).
pub fn swaks(
    port: u16,
    from: &str,
    to: &str,
    subject: &str,
    extra: &[&str],
    token: &str,
) -> (bool, String) {
    let mut command = Command::new("swaks");
    command
        .arg("--server")
        .arg(format!("127.0.0.1:{port}"))
        .args(["--ehlo", "client.example"])
        .args(["--from", from, "--to", to])
        .args(["--header", &format!("Subject: {subject}")])
        .args(["--body", token])
        .args(["--timeout", "30"]);
    for header in extra {
        command.args(["--add-header", header]);
    }
    run_bounded(&mut command, Duration::from_secs(60))
}

/// The `n`th (from 1) swaks command of the doc's `test.swaks` block, as a shell would split
/// it (backslash-newline continuations, single quotes), run against 127.0.0.1:`port` instead
/// of `mx.vendor.example:25`, with `--body token` added; returns (success, transcript).
pub fn doc_swaks(n: usize, port: u16, token: &str) -> (bool, String) {
    let block = fragment("test.swaks");
    let joined = block.replace("\\\n", " ");
    let commands: Vec<&str> = joined
        .lines()
        .map(str::trim)
        .filter(|l| l.starts_with("swaks "))
        .collect();
    let line = commands
        .get(n - 1)
        .unwrap_or_else(|| panic!("test.swaks has no command {n}:\n{block}"));
    let words = shell_words(line);
    assert_eq!(words[0], "swaks");
    let mut command = Command::new("swaks");
    for word in &words[1..] {
        command.arg(word.replace("mx.vendor.example:25", &format!("127.0.0.1:{port}")));
    }
    command.args(["--body", token, "--timeout", "30"]);
    run_bounded(&mut command, Duration::from_secs(60))
}

/// Words of a command line: split on spaces outside single quotes, quotes removed.
fn shell_words(line: &str) -> Vec<String> {
    let (mut words, mut word, mut quoted, mut any) = (Vec::new(), String::new(), false, false);
    for c in line.chars() {
        match c {
            '\'' => {
                quoted = !quoted;
                any = true;
            }
            ' ' | '\t' if !quoted => {
                if any {
                    words.push(std::mem::take(&mut word));
                    any = false;
                }
            }
            _ => {
                word.push(c);
                any = true;
            }
        }
    }
    assert!(!quoted, "unbalanced quote in {line}");
    if any {
        words.push(word);
    }
    words
}

/// The `Authentication-Results:` that OpenDMARC on Postfix (authserv-id [`MYHOSTNAME`]) would
/// add for a sender of `domain` that passes.
pub fn milter_pass(domain: &str) -> String {
    format!(
        "Authentication-Results: {MYHOSTNAME}; spf=pass smtp.mailfrom={domain}; \
         dkim=pass header.d={domain}; dmarc=pass header.from={domain}"
    )
}

/// A token unique to this test run, put in the body to find the message again.
pub fn token(label: &str) -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    format!(
        "token-{label}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// Postfix's `smtp-sink` writing every message it receives to a file of its own.
pub struct Sink {
    pub port: u16,
    dir: tempfile::TempDir,
    child: Child,
}

impl Sink {
    pub fn start(port: u16) -> Sink {
        let dir = tempfile::tempdir().unwrap();
        let template = format!("{}/msg.", dir.path().display());
        let child = Command::new("smtp-sink")
            .args(["-u", "root", "-d", &template])
            .arg(format!("127.0.0.1:{port}"))
            .arg("100")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn smtp-sink");
        let sink = Sink { port, dir, child };
        assert!(
            wait_port(port, Duration::from_secs(10)),
            "smtp-sink does not listen on 127.0.0.1:{port}"
        );
        sink
    }

    /// Every message received so far (smtp-sink's `X-*-Args` lines, then the message).
    pub fn messages(&self) -> Vec<String> {
        let mut paths: Vec<PathBuf> = fs::read_dir(self.dir.path())
            .map(|d| d.filter_map(Result::ok).map(|e| e.path()).collect())
            .unwrap_or_default();
        paths.sort();
        paths
            .iter()
            .filter_map(|p| fs::read(p).ok())
            .map(|b| String::from_utf8_lossy(&b).replace("\r\n", "\n"))
            .collect()
    }

    /// The message containing `token`, waiting up to [`DELIVERY_WAIT`].
    pub fn wait_for(&self, token: &str) -> Option<String> {
        let deadline = Instant::now() + DELIVERY_WAIT;
        loop {
            if let Some(m) = self.messages().into_iter().find(|m| m.contains(token)) {
                return Some(m);
            }
            if Instant::now() > deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The auto-reply (`Auto-Submitted: auto-replied`) addressed to `to`, waiting up to
    /// [`DELIVERY_WAIT`].
    pub fn wait_reply_to(&self, to: &str) -> Option<String> {
        let envelope = format!("X-Rcpt-Args: <{to}>");
        let deadline = Instant::now() + DELIVERY_WAIT;
        loop {
            if let Some(m) = self.messages().into_iter().find(|m| {
                m.contains(&envelope)
                    && header_of(m, "Auto-Submitted").as_deref() == Some("auto-replied")
            }) {
                return Some(m);
            }
            if Instant::now() > deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn has(&self, token: &str) -> bool {
        self.messages().iter().any(|m| m.contains(token))
    }
}

impl Drop for Sink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Debian's stock `master.cf` services besides `smtpd`, without chroot. `postlog` is what
/// `maillog_file` writes through (Postfix ≥ 3.4).
const MASTER_CF_BASE: &str = "\
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
tlsmgr    unix  -       -       n       1000?   1       tlsmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
proxywrite unix -       -       n       -       1       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
local     unix  -       n       n       -       -       local
virtual   unix  -       n       n       -       -       virtual
lmtp      unix  -       -       n       -       -       lmtp
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
";

/// A private Postfix instance (`postfix -c DIR`), stopped on drop.
pub struct Postfix {
    pub base: tempfile::TempDir,
    pub conf: PathBuf,
    started: bool,
}

impl Postfix {
    /// Writes `main.cf` (what a private loopback instance needs, then the doc's `main_cf`
    /// fragments), `master.cf` (stock services, then the `master_cf` fragments) and the doc's
    /// map `files` (name in `/etc/postfix/`, text), runs `postfix check` and `postfix start`,
    /// and waits for every listed port. `/etc/postfix/` in a fragment is the instance's folder.
    pub fn start(
        ports: &Ports,
        main_cf: &[&str],
        master_cf: &[&str],
        files: &[(&str, &str)],
        listening: &[u16],
    ) -> Postfix {
        let base = tempfile::Builder::new()
            .prefix("supportgate-postfix.")
            .tempdir()
            .unwrap();
        let root = base.path().to_path_buf();
        // The postfix user must reach the queue and data directories below.
        Command::new("chmod")
            .arg("755")
            .arg(&root)
            .status()
            .unwrap();
        let conf = root.join("etc");
        for d in ["etc", "queue", "data"] {
            fs::create_dir_all(root.join(d)).unwrap();
        }
        let chown = Command::new("chown")
            .arg("postfix")
            .arg(root.join("data"))
            .status()
            .unwrap();
        assert!(
            chown.success(),
            "chown postfix (is the postfix user there?)"
        );
        let root_s = root.display();
        let mut main = format!(
            "# private instance for tests/postfix_integration.rs\n\
             compatibility_level = 3.6\n\
             queue_directory = {root_s}/queue\n\
             data_directory = {root_s}/data\n\
             mail_owner = postfix\n\
             setgid_group = postdrop\n\
             myhostname = {MYHOSTNAME}\n\
             mydomain = vendor.example\n\
             inet_interfaces = 127.0.0.1\n\
             inet_protocols = ipv4\n\
             mydestination =\n\
             local_recipient_maps =\n\
             alias_maps =\n\
             alias_database =\n\
             relay_domains = vendor.example\n\
             mynetworks = 127.0.0.0/8\n\
             smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination\n\
             relayhost = [127.0.0.1]:{sink}\n\
             transport_maps = inline:{{ sales@vendor.example=smtp:[127.0.0.1]:{sales} }}\n\
             biff = no\n\
             maillog_file = {root_s}/maillog\n\
             maillog_file_prefixes = {root_s}\n\
             # --- from docs/postfix.md ---\n",
            sink = ports.sink,
            sales = ports.sales
        );
        let etc = format!("{}/", conf.display());
        let localise = |text: &str| ports.apply(text).replace("/etc/postfix/", &etc);
        for fragment in main_cf {
            main.push_str(&localise(fragment));
        }
        let mut master = format!("# private instance for tests/postfix_integration.rs\n{MASTER_CF_BASE}# --- from docs/postfix.md ---\n");
        for fragment in master_cf {
            master.push_str(&localise(fragment));
        }
        for (name, text) in files {
            fs::write(conf.join(name), localise(text)).unwrap();
        }
        fs::write(conf.join("main.cf"), &main).unwrap();
        fs::write(conf.join("master.cf"), &master).unwrap();
        let mut postfix = Postfix {
            base,
            conf,
            started: false,
        };
        let (ok, out) = run_bounded(
            Command::new("postfix")
                .arg("-c")
                .arg(&postfix.conf)
                .arg("check"),
            Duration::from_secs(60),
        );
        assert!(ok, "postfix check failed:\n{out}\n{}", postfix.maillog());
        let (ok, out) = run_bounded(
            Command::new("postfix")
                .arg("-c")
                .arg(&postfix.conf)
                .arg("start"),
            Duration::from_secs(60),
        );
        postfix.started = true;
        assert!(ok, "postfix start failed:\n{out}\n{}", postfix.maillog());
        for &port in listening {
            assert!(
                wait_port(port, Duration::from_secs(20)),
                "Postfix does not listen on 127.0.0.1:{port}:\n{}\n--- main.cf\n{main}\n--- master.cf\n{master}",
                postfix.maillog()
            );
        }
        postfix
    }

    pub fn maillog(&self) -> String {
        fs::read_to_string(self.base.path().join("maillog")).unwrap_or_default()
    }

    fn master_pid(&self) -> Option<u32> {
        let text = fs::read_to_string(self.base.path().join("queue/pid/master.pid")).ok()?;
        text.trim().parse().ok()
    }

    /// `postfix stop`, then waits (bounded) for the master process to be gone; `abort` and
    /// SIGKILL if it is not. Returns whether it is gone.
    pub fn stop(&mut self) -> bool {
        if !self.started {
            return true;
        }
        self.started = false;
        let pid = self.master_pid();
        let _ = run_bounded(
            Command::new("postfix")
                .arg("-c")
                .arg(&self.conf)
                .arg("stop"),
            Duration::from_secs(30),
        );
        let Some(pid) = pid else { return true };
        let alive = || Path::new(&format!("/proc/{pid}")).exists() && !is_zombie(pid);
        let deadline = Instant::now() + Duration::from_secs(10);
        while alive() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
        if alive() {
            let _ = run_bounded(
                Command::new("postfix")
                    .arg("-c")
                    .arg(&self.conf)
                    .arg("abort"),
                Duration::from_secs(10),
            );
            std::thread::sleep(Duration::from_millis(500));
            let _ = Command::new("kill")
                .args(["-KILL", &pid.to_string()])
                .status();
            std::thread::sleep(Duration::from_millis(200));
        }
        !alive()
    }
}

fn is_zombie(pid: u32) -> bool {
    fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|s| {
            s.rsplit_once(')')
                .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z'))
        })
        .unwrap_or(true)
}

impl Drop for Postfix {
    fn drop(&mut self) {
        if !self.stop() {
            eprintln!("warning: Postfix in {} did not stop", self.conf.display());
        }
    }
}

/// `supportgate serve` with the test configuration of the gateway tests and a fragment of
/// `docs/postfix.md` on top (after [`Ports::apply`]), then `overrides` (`section.key`, value).
pub struct Supportgate {
    pub dir: tempfile::TempDir,
    pub config_path: PathBuf,
    child: Option<Child>,
}

impl Supportgate {
    pub fn start(
        ports: &Ports,
        fragment_text: &str,
        overrides: &[(&str, toml::Value)],
        listen_port: u16,
    ) -> Supportgate {
        let dir = tempfile::tempdir().unwrap();
        let base = gateway_support::config_text(dir.path(), &Options::default());
        let mut config: toml::Table = base.parse().unwrap();
        let fragment: toml::Table = ports
            .apply(fragment_text)
            .parse()
            .unwrap_or_else(|e| panic!("fragment is not TOML: {e}"));
        for (section, table) in fragment {
            let target = config
                .entry(section.clone())
                .or_insert_with(|| toml::Value::Table(Default::default()));
            let target = target.as_table_mut().expect("a table");
            for (key, value) in table.as_table().expect("fragment sections are tables") {
                target.insert(key.clone(), value.clone());
            }
        }
        for (path, value) in overrides {
            let (section, key) = path.split_once('.').unwrap();
            config
                .get_mut(section)
                .and_then(|s| s.as_table_mut())
                .unwrap()
                .insert(key.to_string(), value.clone());
        }
        let config_path = dir.path().join("supportgate.toml");
        fs::write(&config_path, toml::to_string(&config).unwrap()).unwrap();
        let log = fs::File::create(dir.path().join("stderr.log")).unwrap();
        let child = Command::new(gateway_support::bin())
            .arg("serve")
            .arg("--config")
            .arg(&config_path)
            .env_remove("SUPPORTGATE_LOG")
            .env_remove("LISTEN_FDS")
            .env_remove("LISTEN_PID")
            .env_remove("NOTIFY_SOCKET")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::from(log))
            .spawn()
            .expect("spawn supportgate serve");
        let mut sg = Supportgate {
            dir,
            config_path,
            child: Some(child),
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(status) = sg.child.as_mut().unwrap().try_wait().unwrap() {
                sg.child = None;
                panic!("supportgate serve exited early ({status}):\n{}", sg.log());
            }
            if std::net::TcpStream::connect(("127.0.0.1", listen_port)).is_ok() {
                return sg;
            }
            assert!(
                Instant::now() < deadline,
                "supportgate does not listen on 127.0.0.1:{listen_port}:\n{}",
                sg.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn log(&self) -> String {
        fs::read_to_string(self.dir.path().join("stderr.log")).unwrap_or_default()
    }

    /// The decision lines of the JSON log.
    pub fn decisions(&self) -> Vec<serde_json::Value> {
        self.log()
            .lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .filter(|e| {
                gateway_support::field_str(e, "target") == "supportgate::decision"
                    && gateway_support::field(e, "reason").is_some()
            })
            .collect()
    }

    /// `(record.json, message.eml)` of every quarantined message.
    pub fn quarantine(&self) -> Vec<(serde_json::Value, String)> {
        let root = self.dir.path().join("var/quarantine");
        let mut out = Vec::new();
        for entry in fs::read_dir(root).into_iter().flatten().flatten() {
            let (Ok(record), Ok(message)) = (
                fs::read(entry.path().join("record.json")),
                fs::read_to_string(entry.path().join("message.eml")),
            ) else {
                continue;
            };
            if let Ok(record) = serde_json::from_slice(&record) {
                out.push((record, message));
            }
        }
        out
    }

    /// The quarantined message containing `token`, waiting up to [`DELIVERY_WAIT`].
    pub fn wait_quarantined(&self, token: &str) -> Option<(serde_json::Value, String)> {
        let deadline = Instant::now() + DELIVERY_WAIT;
        loop {
            if let Some(found) = self
                .quarantine()
                .into_iter()
                .find(|(_, m)| m.contains(token))
            {
                return Some(found);
            }
            if Instant::now() > deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Supportgate {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = Command::new("kill")
                .args(["-TERM", &child.id().to_string()])
                .status();
            let deadline = Instant::now() + Duration::from_secs(5);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = child.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// The value of header `name` in a dumped message (first occurrence, unfolded).
pub fn header_of(message: &str, name: &str) -> Option<String> {
    gateway_support::header_values(&message.replace('\n', "\r\n"), name)
        .into_iter()
        .next()
}
