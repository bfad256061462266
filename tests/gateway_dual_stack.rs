//! Black-box: `listen = ["0.0.0.0:P", "[::]:P"]`, the packaged production example's pair
//! (issue 11 §1). On Linux's default `bindv6only=0` an IPv6 wildcard socket also takes IPv4
//! unless it is bound IPv6-only, and the second bind failed with "Address already in use".
//! Also: a start that fails on its listeners leaves no reply memory behind.

mod gateway_support;

use gateway_support::{bin, config_text, free_port, message, poll, Options, Smtp};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Command, Stdio};

/// The test configuration with `[server] listen` set to `listen`, in `dir/etc/`, with the
/// ticket queue given relative to it (`../var/tickets`).
fn config_with_listen(dir: &std::path::Path, listen: &[String]) -> std::path::PathBuf {
    let mut config: toml::Table = config_text(dir, &Options::default()).parse().unwrap();
    let server = config["server"].as_table_mut().unwrap();
    server.insert("listen".into(), listen.to_vec().into());
    let queue = config["queue"].as_table_mut().unwrap();
    queue.insert("target".into(), "maildir:../var/tickets".into());
    std::fs::create_dir(dir.join("etc")).unwrap();
    let path = dir.join("etc/supportgate.toml");
    std::fs::write(&path, toml::to_string(&config).unwrap()).unwrap();
    path
}

/// The server, killed if the test fails before it stopped it.
struct KilledOnDrop(std::process::Child);

impl Drop for KilledOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn serves_ipv4_and_ipv6_wildcards_on_one_port() {
    if TcpListener::bind("[::1]:0").is_err() {
        eprintln!("no IPv6 loopback on this machine: dual-stack test skipped");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let listen = [format!("0.0.0.0:{port}"), format!("[::]:{port}")];
    let config = config_with_listen(dir.path(), &listen);
    let log = dir.path().join("stderr.log");
    let mut child = KilledOnDrop(
        Command::new(bin())
            .args(["serve", "--config"])
            .arg(&config)
            .env_remove("SUPPORTGATE_LOG")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap(),
    );
    let read_log = || std::fs::read_to_string(&log).unwrap_or_default();
    let v4 = SocketAddr::from(([127, 0, 0, 1], port));
    let v6 = SocketAddr::from((std::net::Ipv6Addr::LOCALHOST, port));
    let up = poll(|| {
        if let Ok(Some(status)) = child.0.try_wait() {
            panic!("serve exited ({status}):\n{}", read_log());
        }
        (TcpStream::connect(v4).is_ok() && TcpStream::connect(v6).is_ok()).then_some(())
    });
    assert!(up.is_some(), "not listening on both:\n{}", read_log());

    for (address, from) in [(v4, "alice@acme.example"), (v6, "alice@acme.example")] {
        let mut smtp = Smtp::connect_to(address);
        let body = message(from, &format!("Over {address}"), &[], "Hello.\n");
        let reply = smtp.transaction(from, &["support+acme@vendor.example"], &body);
        assert!(
            reply.starts_with("250 "),
            "{address}: {reply}\n{}",
            read_log()
        );
        smtp.quit();
    }
    let tickets = gateway_support::maildir_new(&dir.path().join("var/tickets"));
    assert_eq!(tickets.len(), 2, "{}", read_log());
    // Each listener is logged once, by its address (not `Some(…)`).
    let text = read_log();
    for address in &listen {
        let lines = text
            .lines()
            .filter(|l| l.contains("\"listening\"") && l.contains(address.as_str()))
            .count();
        assert_eq!(lines, 1, "{address} logged {lines} times:\n{text}");
    }
    assert!(!text.contains("Some("), "{text}");
    // The start-up line's paths are normalised (not `etc/../var/tickets`).
    let ready = text
        .lines()
        .find(|l| l.contains("supportgate ready"))
        .unwrap_or_else(|| panic!("{text}"));
    let root = dir.path().canonicalize().unwrap();
    let queue = format!(
        "\"queue\":\"maildir:{}\"",
        root.join("var/tickets").display()
    );
    assert!(ready.contains(&queue), "{queue} in {ready}");
    assert!(!ready.contains(".."), "{ready}");

    let _ = Command::new("kill")
        .args(["-TERM", &child.0.id().to_string()])
        .status();
    let stopped = poll(|| child.0.try_wait().ok().flatten());
    assert!(stopped.is_some_and(|s| s.success()), "{}", read_log());
}

#[test]
fn a_listener_in_use_stops_the_start_before_the_reply_memory_is_created() {
    let dir = tempfile::tempdir().unwrap();
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = taken.local_addr().unwrap();
    let config = config_with_listen(dir.path(), &[address.to_string()]);
    let output = Command::new(bin())
        .args(["serve", "--config"])
        .arg(&config)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!("cannot listen on {address}")),
        "{stderr}"
    );
    let memory = dir.path().join("reply-memory.redb");
    assert!(!memory.exists(), "{} left behind", memory.display());
}
