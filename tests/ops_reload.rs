//! Black-box: reload on SIGHUP (issue 5 §4). A session in the middle of DATA when the
//! directory changes completes with 250, and the next message is decided with the new
//! directory; a broken file keeps the previous engine, says why and counts the failure.

mod gateway_support;
mod ops_support;

use gateway_support::{dot_stuffed, field_str, message};
use ops_support::{sample, Server, Start};
use std::fs;

const NEW_ACCOUNT: &str = r#"
[[account]]
id = "newco"
name = "Newco"
language = "en"

[[account.agent]]
name = "Nina Newcomer"
role = "owner"
emails = ["nina@newco.example"]
"#;

fn reloading_server() -> Server {
    Server::start(Start {
        metrics: true,
        own_directory: true,
        ..Start::default()
    })
}

fn decision_of(server: &Server, n: usize) -> serde_json::Value {
    gateway_support::poll(|| server.decisions().into_iter().nth(n))
        .unwrap_or_else(|| panic!("no decision #{n}:\n{}", server.log()))
}

#[test]
fn sighup_during_data_completes_the_session_and_the_next_message_sees_the_new_directory() {
    let server = reloading_server();
    let nina = message("nina@newco.example", "Printer", &[], "Hi.\n");
    let reply = server.send(
        "nina@newco.example",
        &["support+newco@vendor.example"],
        &nina,
    );
    assert!(reply.starts_with("250 "), "{reply}");
    assert_eq!(field_str(&decision_of(&server, 0), "verdict"), "refuse");

    // A session stops in the middle of DATA...
    let mut smtp = server.smtp();
    smtp.expect("EHLO client.example", "250");
    smtp.expect("MAIL FROM:<chloe@acme.example>", "250");
    smtp.expect("RCPT TO:<support+acme@vendor.example>", "250");
    smtp.expect("DATA", "354");
    let body = dot_stuffed(&message(
        "chloe@acme.example",
        "Printer queue stuck",
        &[],
        "Hi.\n",
    ));
    let (first, rest) = body.split_at(body.len() / 2);
    smtp.write(first);

    // ...while the directory gains an account and the server is told to reload.
    let directory = server.dir.path().join("directory.toml");
    let mut text = fs::read_to_string(&directory).unwrap();
    text.push_str(NEW_ACCOUNT);
    fs::write(&directory, text).unwrap();
    server.signal("HUP");
    server.wait_log("SIGHUP: configuration, directory and templates reloaded", 1);

    smtp.write(rest);
    smtp.write(b".\r\n");
    let reply = smtp.reply();
    assert!(reply.starts_with("250 "), "{reply}\n{}", server.log());
    smtp.quit();
    assert_eq!(field_str(&decision_of(&server, 1), "reason"), "accepted");

    // Nina writes again (a new message: the same Message-ID again would be `mail-loop`).
    let nina = message("nina@newco.example", "Printer", &[], "Hi.\n");
    let reply = server.send(
        "nina@newco.example",
        &["support+newco@vendor.example"],
        &nina,
    );
    assert!(reply.starts_with("250 "), "{reply}");
    let decided = decision_of(&server, 2);
    assert_eq!(field_str(&decided, "verdict"), "accept", "{decided}");
    assert_eq!(field_str(&decided, "account"), "newco", "{decided}");
    assert_eq!(field_str(&decided, "role"), "owner", "{decided}");

    let scrape = server.scrape();
    assert_eq!(
        sample(
            &scrape,
            r#"supportgate_config_reloads_total{result="success"}"#
        ),
        1.0
    );
}

#[test]
fn a_broken_directory_on_sighup_keeps_the_previous_one_says_why_and_counts_it() {
    let server = reloading_server();
    let directory = server.dir.path().join("directory.toml");
    let good = fs::read_to_string(&directory).unwrap();
    fs::write(
        &directory,
        format!("{good}\n[[account]]\nid = \"Not Valid\"\n[[["),
    )
    .unwrap();
    let failure = server.failed_reload();
    assert_eq!(field_str(&failure, "level"), "ERROR");
    assert!(
        field_str(&failure, "error").contains("directory.toml"),
        "{failure}"
    );

    // Still deciding with the previous directory.
    let body = message("chloe@acme.example", "Printer", &[], "Hi.\n");
    let reply = server.send(
        "chloe@acme.example",
        &["support+acme@vendor.example"],
        &body,
    );
    assert!(reply.starts_with("250 "), "{reply}");
    assert_eq!(field_str(&decision_of(&server, 0), "reason"), "accepted");
    let scrape = server.scrape();
    assert_eq!(
        sample(
            &scrape,
            r#"supportgate_config_reloads_total{result="failure"}"#
        ),
        1.0,
        "{scrape}"
    );
}

#[test]
fn directory_reload_checks_the_new_files_then_signals_the_running_server() {
    let server = reloading_server();
    let config = server.config_path.to_str().unwrap().to_string();
    let directory = server.dir.path().join("directory.toml");
    let good = fs::read_to_string(&directory).unwrap();
    let pid_file = server.var("supportgate.pid");
    let written = gateway_support::poll(|| fs::read_to_string(&pid_file).ok())
        .unwrap_or_else(|| panic!("no pid file at {}", pid_file.display()));
    assert_eq!(written.trim(), server.pid().to_string());

    // A directory that does not load: refused, and the server is not signalled.
    fs::write(&directory, format!("{good}\n[[[")).unwrap();
    let refused = std::process::Command::new(gateway_support::bin())
        .args(["directory", "reload", "--config", &config])
        .output()
        .unwrap();
    assert_eq!(refused.status.code(), Some(1), "{refused:?}");
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        stderr.contains("not reloaded") && stderr.contains("directory.toml"),
        "{stderr}"
    );
    assert!(!server.log().contains("SIGHUP"), "{}", server.log());

    // A good one: checked, then the running server reloads it.
    fs::write(&directory, format!("{good}{NEW_ACCOUNT}")).unwrap();
    let done = std::process::Command::new(gateway_support::bin())
        .args(["directory", "reload", "--config", &config])
        .output()
        .unwrap();
    assert!(done.status.success(), "{done:?}");
    server.wait_log("SIGHUP: configuration, directory and templates reloaded", 1);
    let nina = message("nina@newco.example", "Printer", &[], "Hi.\n");
    let reply = server.send(
        "nina@newco.example",
        &["support+newco@vendor.example"],
        &nina,
    );
    assert!(reply.starts_with("250 "), "{reply}");
    assert_eq!(field_str(&decision_of(&server, 0), "account"), "newco");
}

/// SPEC §10 `blocked-sender`: `[lists] block` is part of the configuration the SIGHUP reload
/// swaps with the engine.
#[test]
fn sighup_reloads_the_block_list() {
    let server = reloading_server();
    let pest = message("pest@newblock.example", "Offer", &[], "Hi.\n");
    let reply = server.send("pest@newblock.example", &["support@vendor.example"], &pest);
    assert!(reply.starts_with("250 "), "{reply}");
    assert_eq!(
        field_str(&decision_of(&server, 0), "reason"),
        "unknown-sender"
    );

    let path = server.dir.path().join("supportgate.toml");
    let mut config: toml::Table = fs::read_to_string(&path).unwrap().parse().unwrap();
    ops_support::table(&mut config, "lists").insert(
        "block".into(),
        toml::Value::Array(vec!["newblock.example".into()]),
    );
    fs::write(&path, toml::to_string(&config).unwrap()).unwrap();
    server.signal("HUP");
    server.wait_log("SIGHUP: configuration, directory and templates reloaded", 1);

    let reply = server.send("pest@newblock.example", &["support@vendor.example"], &pest);
    assert!(reply.starts_with("550 5.7.1 "), "{reply}\n{}", server.log());
    assert_eq!(
        field_str(&decision_of(&server, 1), "reason"),
        "blocked-sender"
    );
    // The gauge of mail-loop blocks is exported (nobody is blocked here).
    assert_eq!(sample(&server.scrape(), "supportgate_blocked_senders"), 0.0);
}
