//! Black-box: socket activation and readiness (issue 5 §3). `systemd-socket-activate` (from
//! the systemd package, which CI installs) binds the port and starts the binary with
//! `LISTEN_FDS=1` and `LISTEN_PID` set; the gateway must serve on that descriptor, not bind
//! `[server] listen`, and tell `NOTIFY_SOCKET` READY=1 and, on SIGTERM, STOPPING=1. A second
//! socket named `milter` (`--fdname`, what `FileDescriptorName=` sets) is the milter front's,
//! TCP or Unix, and replaces `[milter] listen` (issue 17 §1).

mod gateway_support;
mod milter_support;
mod ops_support;

use gateway_support::message;
use ops_support::{Server, Start};
use std::os::unix::net::UnixDatagram;
use std::path::PathBuf;
use std::time::Duration;

fn launcher() -> Option<PathBuf> {
    let path = PathBuf::from("/usr/bin/systemd-socket-activate");
    if path.exists() {
        Some(path)
    } else {
        println!("skipped: /usr/bin/systemd-socket-activate missing (apt-get install systemd)");
        None
    }
}

#[test]
fn serves_on_the_inherited_socket_and_notifies_ready_and_stopping() {
    let Some(launcher) = launcher() else { return };
    let notify_dir = tempfile::tempdir().unwrap();
    let notify_path = notify_dir.path().join("notify");
    let notify = UnixDatagram::bind(&notify_path).unwrap();
    notify
        .set_read_timeout(Some(gateway_support::WAIT))
        .unwrap();
    // `[server] listen` names a port nobody may bind twice: if the gateway bound it instead
    // of using the inherited socket, the test would not reach it.
    let unused = gateway_support::free_port();
    let mut server = Server::start(Start {
        socket_activate: Some(launcher),
        env: vec![("NOTIFY_SOCKET".into(), notify_path.display().to_string())],
        edit: Box::new(move |_, config| {
            ops_support::table(config, "server")
                .insert("listen".into(), vec![format!("127.0.0.1:{unused}")].into());
        }),
        ..Start::default()
    });

    let body = message("chloe@acme.example", "Printer queue stuck", &[], "Hi.\n");
    let reply = server.send(
        "chloe@acme.example",
        &["support+acme@vendor.example"],
        &body,
    );
    assert!(reply.starts_with("250 "), "{reply}\n{}", server.log());
    assert!(
        std::net::TcpStream::connect(("127.0.0.1", unused)).is_err(),
        "bound [server] listen despite LISTEN_FDS"
    );
    assert!(
        server.log().contains("listening (socket activation)"),
        "{}",
        server.log()
    );

    let mut buf = [0u8; 256];
    let n = notify.recv(&mut buf).expect("READY=1 within the wait");
    let ready = String::from_utf8_lossy(&buf[..n]).into_owned();
    assert!(ready.lines().any(|l| l == "READY=1"), "{ready}");

    let status = server.terminate();
    assert!(
        status.is_some_and(|s| s.success()),
        "{status:?}\n{}",
        server.log()
    );
    notify
        .set_read_timeout(Some(Duration::from_secs(1)))
        .unwrap();
    let n = notify.recv(&mut buf).expect("STOPPING=1");
    let stopping = String::from_utf8_lossy(&buf[..n]).into_owned();
    assert!(stopping.lines().any(|l| l == "STOPPING=1"), "{stopping}");
}

/// Started under the launcher with a second socket `milter` named `milter`, and
/// `[milter] listen` on a port nobody may bind twice (returned): the milter front must serve
/// on the inherited socket instead.
fn start_with_activated_milter(launcher: PathBuf, milter: String) -> (Server, u16) {
    let unused = gateway_support::free_port();
    let server = Server::start(Start {
        socket_activate: Some(launcher),
        activated_milter: Some(milter),
        edit: Box::new(move |_, config| {
            ops_support::table(config, "milter")
                .insert("listen".into(), format!("127.0.0.1:{unused}").into());
        }),
        ..Start::default()
    });
    (server, unused)
}

/// A message for a support address through the milter: forwarded, so Postfix would go on
/// (`c`) with our trace fields added.
fn assert_forwarded(answer: &milter_support::Answer, server: &Server) {
    assert_eq!(
        answer.final_code(),
        'c',
        "{:?}\n{}",
        answer.responses,
        server.log()
    );
    assert_eq!(
        answer.added("X-Supportgate-Verdict").as_deref(),
        Some("accept"),
        "{:?}",
        answer.responses
    );
}

fn envelope() -> milter_support::Envelope<'static> {
    milter_support::Envelope {
        client_ip: "127.0.0.1".parse().unwrap(),
        helo: "client.example",
        mail_from: "chloe@acme.example",
        recipients: &["support+acme@vendor.example"],
    }
}

#[test]
fn the_milter_answers_on_an_inherited_unix_socket() {
    let Some(launcher) = launcher() else { return };
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("milter.sock");
    let (mut server, unused) = start_with_activated_milter(launcher, path.display().to_string());
    let body = message("chloe@acme.example", "Printer queue stuck", &[], "Hi.\n");
    let answer = milter_support::connect_unix(&path).send(&envelope(), &body);
    assert_forwarded(&answer, &server);
    assert!(
        std::net::TcpStream::connect(("127.0.0.1", unused)).is_err(),
        "bound [milter] listen despite a socket named milter"
    );
    assert!(
        server
            .log()
            .contains("milter listening (socket activation)"),
        "{}",
        server.log()
    );
    // The SMTP front is on the other socket, as before.
    let reply = server.send(
        "chloe@acme.example",
        &["support+acme@vendor.example"],
        &message("chloe@acme.example", "Again", &[], "Hi.\n"),
    );
    assert!(reply.starts_with("250 "), "{reply}\n{}", server.log());
    let status = server.terminate();
    assert!(status.is_some_and(|s| s.success()), "{status:?}");
    // systemd owns the socket file: it stays.
    assert!(path.exists(), "the inherited socket file was removed");
}

#[test]
fn the_milter_answers_on_an_inherited_tcp_socket() {
    let Some(launcher) = launcher() else { return };
    let port = gateway_support::free_port();
    let (server, unused) = start_with_activated_milter(launcher, format!("127.0.0.1:{port}"));
    let body = message("chloe@acme.example", "Printer queue stuck", &[], "Hi.\n");
    let answer = milter_support::connect_tcp(port).send(&envelope(), &body);
    assert_forwarded(&answer, &server);
    assert!(
        std::net::TcpStream::connect(("127.0.0.1", unused)).is_err(),
        "bound [milter] listen despite a socket named milter"
    );
}
