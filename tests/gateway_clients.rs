//! Black-box interoperability: SMTP clients we did not write talk to `supportgate serve` —
//! swaks, Postfix's smtp-source (parallel sessions, pipelining) and Python's smtplib. The tools
//! are installed by CI; a missing tool fails the test with how to install it.

mod gateway_support;

use gateway_support::{field_str, header, require_tool, Gateway, Options};
use std::process::Command;
use std::time::Duration;

/// Runs a client command with a bound on its duration; returns (success, stdout+stderr).
fn run_bounded(command: &mut Command, bound: Duration) -> (bool, String) {
    use std::process::Stdio;
    let out_path = tempfile::NamedTempFile::new().unwrap();
    let out = out_path.reopen().unwrap();
    let err = out_path.reopen().unwrap();
    let mut child = command
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .spawn()
        .expect("spawn client");
    let deadline = std::time::Instant::now() + bound;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break Some(status);
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let output = std::fs::read_to_string(out_path.path()).unwrap_or_default();
    match status {
        Some(status) => (status.success(), output),
        None => (false, format!("timed out after {bound:?}\n{output}")),
    }
}

#[test]
fn swaks_delivers_an_accepted_message() {
    let swaks = require_tool("swaks", "swaks");
    let gw = Gateway::start(Options::default());
    let (ok, output) = run_bounded(
        Command::new(swaks)
            .arg("--server")
            .arg(format!("127.0.0.1:{}", gw.port))
            .args(["--from", "chloe@acme.example"])
            .args(["--to", "support+acme@vendor.example"])
            .args(["--header", "Subject: Printer queue stuck (swaks)"])
            .args(["--body", "Hello from swaks."])
            .args(["--timeout", "10"]),
        Duration::from_secs(20),
    );
    assert!(ok, "swaks failed:\n{output}\n{}", gw.log());
    assert!(output.contains("<-  250 2.0.0 "), "{output}");
    let tickets = gw.tickets();
    assert_eq!(tickets.len(), 1, "{output}");
    assert_eq!(header(&tickets[0], "X-Supportgate-Verdict"), "accept");
    assert_eq!(header(&tickets[0], "X-Supportgate-Account"), "acme");
    assert_eq!(
        header(&tickets[0], "Subject"),
        "Printer queue stuck (swaks)"
    );
    assert!(tickets[0].contains("Hello from swaks."));
}

#[test]
fn swaks_bounce_with_null_sender_is_kept_without_reply() {
    let swaks = require_tool("swaks", "swaks");
    let gw = Gateway::start(Options::default());
    let (ok, output) = run_bounded(
        Command::new(swaks)
            .arg("--server")
            .arg(format!("127.0.0.1:{}", gw.port))
            .args(["--from", "<>"])
            .args(["--to", "support+acme@vendor.example"])
            .args(["--header", "From: MAILER-DAEMON@else.example"])
            .args(["--header", "Subject: Undelivered Mail Returned to Sender"])
            .args(["--body", "bounce"])
            .args(["--timeout", "10"]),
        Duration::from_secs(20),
    );
    assert!(ok, "swaks failed:\n{output}\n{}", gw.log());
    let kept = gw.quarantine();
    assert_eq!(kept.len(), 1, "{output}");
    assert_eq!(kept[0].1["mail_from"], "");
    assert_eq!(kept[0].1["decision"]["reason"], "not-registered");
    assert_eq!(
        kept[0].1["decision"]["reply"], "suppressed:null-reverse-path",
        "{}",
        kept[0].1
    );
    assert!(gw.outbox().is_empty());
}

#[test]
fn smtp_source_twenty_messages_in_two_parallel_sessions_all_land_in_the_maildir() {
    let smtp_source = require_tool("smtp-source", "postfix");
    let gw = Gateway::start(Options::default());
    let (ok, output) = run_bounded(
        Command::new(smtp_source)
            .args(["-s", "2", "-m", "20"])
            .args(["-f", "agent@acme.example"])
            .args(["-t", "support@vendor.example"])
            .arg(format!("127.0.0.1:{}", gw.port)),
        Duration::from_secs(60),
    );
    assert!(ok, "smtp-source failed:\n{output}\n{}", gw.log());
    let decisions = gw.wait_decisions(20);
    assert_eq!(decisions.len(), 20);
    for d in &decisions {
        assert_eq!(field_str(d, "reason"), "accepted", "{d}");
        assert_eq!(field_str(d, "account"), "acme", "{d}");
    }
    let tickets = gw.tickets();
    assert_eq!(tickets.len(), 20, "{output}");
    for ticket in &tickets {
        assert_eq!(header(ticket, "X-Supportgate-Agent"), "agent@acme.example");
    }
}

#[test]
fn python_smtplib_send_message_and_sendmail() {
    let python = require_tool("python3", "python3");
    let gw = Gateway::start(Options::default());
    let script = r#"
import smtplib, sys
from email.message import EmailMessage
port = int(sys.argv[1])
with smtplib.SMTP("127.0.0.1", port, timeout=10) as s:
    s.ehlo("python.example")
    assert s.has_extn("pipelining") and s.has_extn("8bitmime") and s.has_extn("smtputf8"), s.esmtp_features
    m = EmailMessage()
    m["From"] = "Grace Hopper <grace@globex.example>"
    m["To"] = "support+globex@vendor.example"
    m["Subject"] = "Report from smtplib — naïve café"
    m.set_content("Hello from Python, non-ASCII: café.\n.leading dot\n")
    refused = s.send_message(m)
    assert refused == {}, refused
    # A refused recipient is reported per recipient, the others still get the message.
    refused = s.sendmail("hank@globex.example",
                         ["support+globex@vendor.example", "someone@else.example"],
                         b"From: hank@globex.example\r\nSubject: second\r\n\r\nbody\r\n")
    assert list(refused) == ["someone@else.example"], refused
    assert refused["someone@else.example"][0] == 550, refused
print("ok")
"#;
    let (ok, output) = run_bounded(
        Command::new(python)
            .arg("-c")
            .arg(script)
            .arg(gw.port.to_string()),
        Duration::from_secs(20),
    );
    assert!(ok, "python failed:\n{output}\n{}", gw.log());
    let tickets = gw.tickets();
    assert_eq!(tickets.len(), 2, "{output}");
    assert_eq!(
        header(&tickets[0], "X-Supportgate-Agent"),
        "grace@globex.example"
    );
    assert_eq!(header(&tickets[0], "X-Supportgate-Role"), "owner");
    assert!(tickets[0].contains(".leading dot\r\n"), "{}", tickets[0]);
    assert!(!tickets[0].contains("\r\n..leading dot"), "{}", tickets[0]);
    assert_eq!(
        header(&tickets[1], "X-Supportgate-Agent"),
        "hank@globex.example"
    );
    assert!(gw.quarantine().is_empty());
}
