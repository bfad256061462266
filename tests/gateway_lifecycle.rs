//! Black-box: graceful shutdown of `supportgate serve` on SIGTERM (SPEC §6: stop accepting,
//! finish sessions in progress within `[server] shutdown_grace`, then exit). The test
//! configuration sets `shutdown_grace = "3s"`.

mod gateway_support;

use gateway_support::{field_str, message, Gateway, Options};
use std::net::TcpStream;
use std::time::{Duration, Instant};

fn stopped_in_log(gw: &Gateway) -> bool {
    gw.events()
        .iter()
        .any(|e| field_str(e, "message") == "supportgate stopped")
}

#[test]
fn sigterm_while_idle_exits_0_within_the_grace_period_and_says_so() {
    let mut gw = Gateway::start(Options::default());
    let started = Instant::now();
    let status = gw.terminate(Duration::from_secs(3));
    let took = started.elapsed();
    let status = status.unwrap_or_else(|| panic!("still running after 3 s:\n{}", gw.log()));
    assert!(status.success(), "{status}\n{}", gw.log());
    assert!(took < Duration::from_secs(3), "{took:?}");
    assert!(stopped_in_log(&gw), "{}", gw.log());
    assert!(
        TcpStream::connect(("127.0.0.1", gw.port)).is_err(),
        "still accepting"
    );
}

#[test]
fn a_transaction_in_progress_at_sigterm_is_finished_then_the_server_exits_0() {
    let mut gw = Gateway::start(Options::default());
    let mut smtp = gw.smtp();
    smtp.expect("EHLO client.example", "250");
    smtp.expect("MAIL FROM:<chloe@acme.example>", "250");
    smtp.expect("RCPT TO:<support+acme@vendor.example>", "250");
    smtp.expect("DATA", "354");

    let pid = std::process::Command::new("kill")
        .arg("-TERM")
        .arg(gateway_pid(&gw).to_string())
        .status()
        .unwrap();
    assert!(pid.success());
    // Wait until the server has taken the signal in.
    let signalled = gateway_support::poll(|| {
        gw.log()
            .contains("SIGTERM: finishing sessions")
            .then_some(())
    });
    assert!(signalled.is_some(), "{}", gw.log());
    // New connections are no longer accepted...
    let refused = gateway_support::poll(|| {
        TcpStream::connect(("127.0.0.1", gw.port))
            .is_err()
            .then_some(())
    });
    assert!(refused.is_some(), "still accepting after SIGTERM");

    // ...but the message in progress is finished and safe.
    let body = message("chloe@acme.example", "Printer queue stuck", &[], "Hi.\n");
    smtp.write(&gateway_support::dot_stuffed(&body));
    smtp.write(b".\r\n");
    let reply = smtp.reply();
    assert!(reply.starts_with("250 "), "{reply}\n{}", gw.log());
    smtp.quit();
    assert_eq!(gw.tickets().len(), 1);

    let status = gw.terminate(Duration::from_secs(5));
    assert!(
        status.is_some_and(|s| s.success()),
        "{status:?}\n{}",
        gw.log()
    );
    assert!(stopped_in_log(&gw), "{}", gw.log());
}

#[test]
fn an_idle_session_past_the_grace_period_gets_421_and_the_server_exits_0() {
    let mut gw = Gateway::start(Options::default());
    let mut smtp = gw.smtp();
    smtp.expect("EHLO client.example", "250");
    let started = Instant::now();
    let status = gw.terminate(Duration::from_secs(10));
    let took = started.elapsed();
    assert!(
        status.is_some_and(|s| s.success()),
        "{status:?}\n{}",
        gw.log()
    );
    assert!(
        took >= Duration::from_secs(2),
        "did not wait for the session: {took:?}"
    );
    assert!(took < Duration::from_secs(8), "{took:?}");
    let reply = smtp.reply();
    assert!(reply.starts_with("421 "), "{reply:?}");
    assert!(stopped_in_log(&gw), "{}", gw.log());
}

fn gateway_pid(gw: &Gateway) -> u32 {
    gw.pid().expect("running")
}
