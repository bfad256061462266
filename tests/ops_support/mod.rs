//! Shared by the `ops_*` black-box tests: the real binary started with a configuration that a
//! test may edit further (metrics on, a directory of its own, a pipe target), optionally
//! through a launcher (`systemd-socket-activate`), plus a `/metrics` scraper. Builds on
//! `gateway_support` for the configuration, the SMTP client and the log readers.
#![allow(dead_code)]

use crate::gateway_support::{bin, config_text, free_port, Options, WAIT};
use std::fs;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// A running `supportgate serve` (killed on drop).
pub struct Server {
    pub dir: tempfile::TempDir,
    pub config_path: PathBuf,
    pub port: u16,
    pub metrics_port: Option<u16>,
    child: Option<Child>,
}

/// An edit of the configuration, given the temporary folder.
pub type Edit = Box<dyn Fn(&Path, &mut toml::Table)>;

/// How to start the server.
pub struct Start {
    pub options: Options,
    /// Serve `/metrics` on a free port.
    pub metrics: bool,
    /// Copy the test directory into the temporary folder (so a test can change it).
    pub own_directory: bool,
    /// Further edits of the configuration.
    pub edit: Edit,
    /// Run through `systemd-socket-activate -l 127.0.0.1:PORT` instead of `--listen`.
    pub socket_activate: Option<PathBuf>,
    /// With `socket_activate`: one more socket for the launcher to bind (`127.0.0.1:PORT` or
    /// a Unix socket path), passed named `milter` (`FileDescriptorName=milter`).
    pub activated_milter: Option<String>,
    /// Extra environment (e.g. `NOTIFY_SOCKET`).
    pub env: Vec<(String, String)>,
}

impl Default for Start {
    fn default() -> Self {
        Start {
            options: Options::default(),
            metrics: false,
            own_directory: false,
            edit: Box::new(|_, _| {}),
            socket_activate: None,
            activated_milter: None,
            env: Vec::new(),
        }
    }
}

pub fn table<'a>(config: &'a mut toml::Table, name: &str) -> &'a mut toml::Table {
    config
        .entry(name.to_string())
        .or_insert_with(|| toml::Value::Table(toml::Table::new()))
        .as_table_mut()
        .expect("a table")
}

impl Server {
    pub fn start(start: Start) -> Server {
        let dir = tempfile::tempdir().expect("tempdir");
        let config_path = dir.path().join("supportgate.toml");
        let mut config: toml::Table = config_text(dir.path(), &start.options).parse().unwrap();
        let metrics_port = start.metrics.then(free_port);
        if let Some(port) = metrics_port {
            table(&mut config, "metrics")
                .insert("listen".into(), format!("127.0.0.1:{port}").into());
        }
        if start.own_directory {
            let copy = dir.path().join("directory.toml");
            fs::copy(
                crate::gateway_support::repo_path("tests/gateway_support/directory.toml"),
                &copy,
            )
            .unwrap();
            table(&mut config, "directory")
                .insert("path".into(), copy.display().to_string().into());
        }
        (start.edit)(dir.path(), &mut config);
        fs::write(&config_path, toml::to_string(&config).unwrap()).unwrap();
        let port = free_port();
        let log = fs::File::create(dir.path().join("stderr.log")).unwrap();
        let mut command = match &start.socket_activate {
            Some(launcher) => {
                let mut c = Command::new(launcher);
                c.arg("-l").arg(format!("127.0.0.1:{port}"));
                if let Some(milter) = &start.activated_milter {
                    // The SMTP socket keeps the name a socket unit gives by default.
                    c.arg("-l").arg(milter);
                    c.arg("--fdname=supportgate.socket:milter");
                }
                // The launcher gives the program a fresh environment: pass ours with -E.
                for (k, v) in &start.env {
                    c.arg(format!("--setenv={k}={v}"));
                }
                c.arg(bin());
                c
            }
            None => Command::new(bin()),
        };
        command.arg("serve").arg("--config").arg(&config_path);
        if start.socket_activate.is_none() {
            command.arg("--listen").arg(format!("127.0.0.1:{port}"));
        }
        command
            .env_remove("SUPPORTGATE_LOG")
            .env_remove("NOTIFY_SOCKET");
        command.envs(start.env.iter().map(|(k, v)| (k, v)));
        let child = command
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::from(log))
            .spawn()
            .expect("spawn supportgate serve");
        let mut server = Server {
            dir,
            config_path,
            port,
            metrics_port,
            child: Some(child),
        };
        server.wait_ready(start.socket_activate.is_some());
        server
    }

    /// Waits for the `supportgate ready` log line and, if on, for the metrics port. Under
    /// `systemd-socket-activate` the binary starts only at the first connection, which the
    /// test makes: then only the launcher's port is awaited.
    fn wait_ready(&mut self, activated: bool) {
        let deadline = Instant::now() + WAIT;
        if activated {
            while TcpStream::connect(("127.0.0.1", self.port)).is_err() {
                assert!(Instant::now() < deadline, "launcher not listening");
                std::thread::sleep(Duration::from_millis(50));
            }
            return;
        }
        loop {
            if let Some(status) = self.child.as_mut().unwrap().try_wait().unwrap() {
                self.child = None;
                panic!("supportgate serve exited early ({status}):\n{}", self.log());
            }
            let ready = self.log().contains("supportgate ready")
                && (activated || TcpStream::connect(("127.0.0.1", self.port)).is_ok())
                && self
                    .metrics_port
                    .is_none_or(|p| TcpStream::connect(("127.0.0.1", p)).is_ok());
            if ready {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "not ready within {WAIT:?}:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("running").id()
    }

    pub fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .arg(format!("-{name}"))
            .arg(self.pid().to_string())
            .status()
            .unwrap();
        assert!(status.success());
    }

    pub fn log(&self) -> String {
        fs::read_to_string(self.dir.path().join("stderr.log")).unwrap_or_default()
    }

    pub fn events(&self) -> Vec<serde_json::Value> {
        self.log()
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    }

    pub fn decisions(&self) -> Vec<serde_json::Value> {
        self.events()
            .into_iter()
            .filter(|e| crate::gateway_support::field_str(e, "target") == "supportgate::decision")
            .collect()
    }

    /// Waits until the log has `n` lines whose message is `message`.
    pub fn wait_log(&self, message: &str, n: usize) {
        let found = crate::gateway_support::poll(|| {
            let count = self
                .events()
                .iter()
                .filter(|e| crate::gateway_support::field_str(e, "message") == message)
                .count();
            (count >= n).then_some(())
        });
        assert!(
            found.is_some(),
            "no {n}× {message:?} in the log:\n{}",
            self.log()
        );
    }

    /// Sends SIGHUP and returns the log line of the reload that failed (waited for, bounded).
    pub fn failed_reload(&self) -> serde_json::Value {
        const FAILED: &str = "SIGHUP: reload failed; keeping the previous configuration";
        self.signal("HUP");
        self.wait_log(FAILED, 1);
        self.events()
            .into_iter()
            .find(|e| crate::gateway_support::field_str(e, "message") == FAILED)
            .expect("the line wait_log found")
    }

    pub fn var(&self, name: &str) -> PathBuf {
        self.dir.path().join("var").join(name)
    }

    pub fn smtp(&self) -> crate::gateway_support::Smtp {
        crate::gateway_support::Smtp::connect(self.port)
    }

    pub fn send(&self, mail_from: &str, rcpts: &[&str], message: &[u8]) -> String {
        let mut smtp = self.smtp();
        let reply = smtp.transaction(mail_from, rcpts, message);
        smtp.quit();
        reply
    }

    /// `GET path` on the metrics port: (status line, body).
    pub fn http_get(&self, path: &str) -> (String, String) {
        let port = self.metrics_port.expect("metrics on");
        let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
        stream.set_read_timeout(Some(WAIT)).unwrap();
        write!(stream, "GET {path} HTTP/1.1\r\nHost: localhost\r\n\r\n").unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).unwrap();
        let (head, body) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
        (
            head.lines().next().unwrap_or("").to_string(),
            body.to_string(),
        )
    }

    pub fn scrape(&self) -> String {
        let (status, body) = self.http_get("/metrics");
        assert!(status.contains(" 200 "), "{status}\n{body}");
        body
    }

    /// Sends SIGTERM and waits (bounded) for the exit status.
    pub fn terminate(&mut self) -> Option<ExitStatus> {
        let mut child = self.child.take()?;
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(child.id().to_string())
            .status();
        let deadline = Instant::now() + Duration::from_secs(10);
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
}

impl Drop for Server {
    fn drop(&mut self) {
        self.terminate();
    }
}

/// The value of one sample line (`name{labels} value`) in a scrape, 0 if absent.
pub fn sample(scrape: &str, series: &str) -> f64 {
    scrape
        .lines()
        .find_map(|line| {
            let (name, value) = line.rsplit_once(' ')?;
            (name == series).then(|| value.parse().ok()).flatten()
        })
        .unwrap_or(0.0)
}
