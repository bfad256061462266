//! Black-box: the `pipe:` ticket queue (issue 5 §6) with small shell scripts written by the
//! tests: the message on stdin and the decision in `SUPPORTGATE_*`; exit 0 delivered, 75 →
//! 451, other → quarantined and logged; a command that outlives `pipe_timeout` is killed → 451.

mod gateway_support;
mod ops_support;

use gateway_support::{field_str, message};
use ops_support::{table, Server, Start};
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::{Duration, Instant};

/// Writes `gate.sh` (`body` after a line that saves stdin and the environment into the
/// temporary folder) and points `[queue] target` at it with `args`.
fn pipe_server(body: &'static str, args: &'static str, timeout: &'static str) -> Server {
    Server::start(Start {
        edit: Box::new(move |dir: &Path, config| {
            let script = dir.join("gate.sh");
            let text = format!(
                "#!/bin/sh\ncat > '{dir}/stdin.eml'\nenv | grep '^SUPPORTGATE_' | sort > '{dir}/env.txt'\nprintf '%s\\n' \"$@\" > '{dir}/args.txt'\n{body}\n",
                dir = dir.display()
            );
            fs::write(&script, text).unwrap();
            fs::set_permissions(&script, fs::Permissions::from_mode(0o755)).unwrap();
            let queue = table(config, "queue");
            queue.insert(
                "target".into(),
                format!("pipe:{} {args}", script.display()).into(),
            );
            queue.insert("pipe_timeout".into(), timeout.into());
        }),
        ..Start::default()
    })
}

fn send_chloe(server: &Server) -> String {
    let body = message(
        "Chloé <chloe@acme.example>",
        "Printer queue stuck",
        &[],
        "Hi.\n",
    );
    server.send(
        "bounce@acme.example",
        &["support+acme@vendor.example"],
        &body,
    )
}

fn saved(server: &Server, name: &str) -> String {
    fs::read_to_string(server.dir.path().join(name)).unwrap_or_default()
}

#[test]
fn exit_0_is_delivered_with_the_message_on_stdin_and_the_decision_in_the_environment() {
    let server = pipe_server(
        "exit 0",
        "--queue 'General support' --action correspond",
        "60s",
    );
    let reply = send_chloe(&server);
    assert!(reply.starts_with("250 "), "{reply}\n{}", server.log());
    let decided = gateway_support::poll(|| server.decisions().into_iter().next()).unwrap();
    let queue_id = field_str(&decided, "queue_id");
    assert_eq!(field_str(&decided, "outcome"), "forwarded", "{decided}");

    let stdin = saved(&server, "stdin.eml");
    assert!(
        stdin.starts_with("Received: from client.example"),
        "{stdin}"
    );
    assert!(stdin.contains(&queue_id), "{stdin}");
    assert!(stdin.contains("Subject: Printer queue stuck"), "{stdin}");
    let env = saved(&server, "env.txt");
    for line in [
        "SUPPORTGATE_ACCOUNT=acme".to_string(),
        "SUPPORTGATE_AGENT=chloe@acme.example".to_string(),
        "SUPPORTGATE_ROLE=agent".to_string(),
        format!("SUPPORTGATE_QUEUE_ID={queue_id}"),
        "SUPPORTGATE_SENDER=chloe@acme.example".to_string(),
        "SUPPORTGATE_MAIL_FROM=bounce@acme.example".to_string(),
        "SUPPORTGATE_RECIPIENTS=support+acme@vendor.example".to_string(),
    ] {
        assert!(env.lines().any(|l| l == line), "{line} not in\n{env}");
    }
    // Arguments split without a shell, quotes honoured.
    assert_eq!(
        saved(&server, "args.txt"),
        "--queue\nGeneral support\n--action\ncorrespond\n"
    );
    assert!(fs::read_dir(server.var("quarantine")).map_or(true, |mut d| d.next().is_none()));
}

#[test]
fn exit_75_is_a_temporary_failure_and_nothing_is_kept() {
    let server = pipe_server("exit 75", "", "60s");
    let reply = send_chloe(&server);
    assert!(reply.starts_with("451 "), "{reply}\n{}", server.log());
    assert!(fs::read_dir(server.var("quarantine")).map_or(true, |mut d| d.next().is_none()));
}

#[test]
fn another_exit_status_keeps_the_message_in_the_quarantine_and_logs_why() {
    let server = pipe_server("echo 'no such queue' >&2; exit 3", "", "60s");
    let reply = send_chloe(&server);
    assert!(reply.starts_with("250 "), "{reply}\n{}", server.log());
    let decided = gateway_support::poll(|| server.decisions().into_iter().next()).unwrap();
    assert_eq!(field_str(&decided, "outcome"), "quarantined", "{decided}");
    let queue_id = field_str(&decided, "queue_id");
    let record = fs::read_to_string(server.var("quarantine").join(&queue_id).join("record.json"))
        .unwrap_or_else(|e| panic!("{queue_id} not kept: {e}\n{}", server.log()));
    assert!(record.contains("exited 3: no such queue"), "{record}");
    assert!(
        server
            .events()
            .iter()
            .any(|e| field_str(e, "level") == "WARN"
                && field_str(e, "error").contains("exited 3: no such queue")),
        "{}",
        server.log()
    );
}

#[test]
fn a_command_that_outlives_pipe_timeout_is_killed_and_the_client_retries() {
    let server = pipe_server("exec sleep 30", "", "1s");
    let started = Instant::now();
    let reply = send_chloe(&server);
    assert!(reply.starts_with("451 "), "{reply}\n{}", server.log());
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
    assert!(server.log().contains("killed"), "{}", server.log());
}

#[test]
fn config_check_refuses_a_pipe_command_that_does_not_exist() {
    let dir = tempfile::tempdir().unwrap();
    let mut config: toml::Table = gateway_support::config_text(dir.path(), &Default::default())
        .parse()
        .unwrap();
    table(&mut config, "queue").insert(
        "target".into(),
        "pipe:/nonexistent/rt-mailgate --queue x".into(),
    );
    let path = dir.path().join("supportgate.toml");
    fs::write(&path, toml::to_string(&config).unwrap()).unwrap();
    let out = std::process::Command::new(gateway_support::bin())
        .args(["config", "check", "--config"])
        .arg(&path)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(
        text.contains("queue.target") && text.contains("/nonexistent/rt-mailgate"),
        "{text}"
    );
}
