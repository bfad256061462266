//! Black-box: `[directory] source = "postgres"` (SPEC §12) against a real PostgreSQL cluster
//! (tests/postgres_support) and the real `supportgate serve`: an agent inserted by SQL is in
//! force within a second without SIGHUP, a deleted one is refused, the gateway refuses to start
//! without its database and keeps deciding with the last directory while the database is away.

mod gateway_support;
mod postgres_support;

use gateway_support::{field_str, free_port, message, poll, Gateway, Options};
use postgres_support::Postgres;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

const SUPPORT: &str = "acme@support.vendor.example";
/// SPEC §12: "a change is in force for decisions within one second".
const IN_FORCE: Duration = Duration::from_secs(1);

fn with_acme(postgres: &Postgres) {
    postgres.sql(
        "INSERT INTO supportgate.accounts (id, name, language, hosts, mailboxes) VALUES \
         ('acme', 'Acme SAS', 'fr', '{acme.vendor.example}', '{acme@support.vendor.example}'); \
         INSERT INTO supportgate.agents (account_id, name, role, emails) VALUES \
         ('acme', 'Alice Martin', 'owner', '{alice@acme.example}')",
    );
}

fn gateway(postgres: &Postgres, metrics_port: Option<u16>) -> Gateway {
    gateway_refreshing(postgres, metrics_port, None)
}

/// The gateway on `postgres`, with `[directory] refresh` set when given.
fn gateway_refreshing(
    postgres: &Postgres,
    metrics_port: Option<u16>,
    refresh: Option<&str>,
) -> Gateway {
    let url = postgres.url();
    let refresh = refresh.map(str::to_string);
    Gateway::start_edited(Options::default(), move |config| {
        let directory = config
            .entry("directory")
            .or_insert_with(|| toml::Table::new().into())
            .as_table_mut()
            .unwrap();
        directory.insert("source".into(), "postgres".into());
        directory.insert("url".into(), url.into());
        if let Some(refresh) = refresh {
            directory.insert("refresh".into(), refresh.into());
        }
        if let Some(port) = metrics_port {
            let mut metrics = toml::Table::new();
            metrics.insert("listen".into(), format!("127.0.0.1:{port}").into());
            config.insert("metrics".into(), metrics.into());
        }
    })
}

/// Sends one message from `from` and returns the verdict of its decision line.
fn verdict(gateway: &Gateway, from: &str) -> String {
    let before = gateway.decisions().len();
    let reply = gateway.send(from, &[SUPPORT], &message(from, "Help", &[], "Hello"));
    assert!(reply.starts_with('2') || reply.starts_with('5'), "{reply}");
    let decisions = gateway.wait_decisions(before + 1);
    field_str(&decisions[before], "verdict")
}

/// Sends from `from` until the verdict is `wanted` (bounded); returns how long that took.
fn until_verdict(gateway: &Gateway, from: &str, wanted: &str, since: Instant) -> Duration {
    let deadline = since + Duration::from_secs(10);
    loop {
        if verdict(gateway, from) == wanted {
            return since.elapsed();
        }
        assert!(
            Instant::now() < deadline,
            "{from} never got {wanted:?}:\n{}",
            gateway.log()
        );
        std::thread::sleep(Duration::from_millis(25));
    }
}

fn source_up(metrics_port: u16) -> Option<String> {
    let mut stream = TcpStream::connect(("127.0.0.1", metrics_port)).ok()?;
    stream
        .write_all(b"GET /metrics HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
        .ok()?;
    let mut body = String::new();
    stream.read_to_string(&mut body).ok()?;
    body.lines()
        .find(|l| l.starts_with("supportgate_directory_source_up "))
        .map(|l| {
            l["supportgate_directory_source_up ".len()..]
                .trim()
                .to_string()
        })
}

#[test]
fn agents_inserted_or_deleted_by_sql_are_in_force_within_a_second_without_sighup() {
    let postgres = Postgres::start();
    with_acme(&postgres);
    let gateway = gateway(&postgres, None);
    assert_eq!(verdict(&gateway, "alice@acme.example"), "accept");
    assert_eq!(verdict(&gateway, "dan@acme.example"), "refuse");

    let inserted = Instant::now();
    postgres.sql(
        "INSERT INTO supportgate.agents (account_id, name, role, emails) VALUES \
         ('acme', 'Dan Roux', 'agent', '{dan@acme.example}')",
    );
    let took = until_verdict(&gateway, "dan@acme.example", "accept", inserted);
    eprintln!("insert in force after {took:?}");
    assert!(took < IN_FORCE, "insert in force after {took:?}");

    let deleted = Instant::now();
    postgres.sql("DELETE FROM supportgate.agents WHERE name = 'Dan Roux'");
    let took = until_verdict(&gateway, "dan@acme.example", "refuse", deleted);
    eprintln!("delete in force after {took:?}");
    assert!(took < IN_FORCE, "delete in force after {took:?}");
    // Only that account was re-read; Alice is still an agent.
    assert_eq!(verdict(&gateway, "alice@acme.example"), "accept");
    assert!(gateway
        .log()
        .contains("directory database: accounts re-read"));

    // The account's status (SPEC §10 `account-inactive`) comes from the database too.
    let suspended = Instant::now();
    postgres.sql("UPDATE supportgate.accounts SET status = 'suspended' WHERE id = 'acme'");
    let deadline = suspended + Duration::from_secs(10);
    loop {
        let before = gateway.decisions().len();
        gateway.send(
            "alice@acme.example",
            &[SUPPORT],
            &message("alice@acme.example", "Help", &[], "Hello"),
        );
        let decisions = gateway.wait_decisions(before + 1);
        if field_str(&decisions[before], "reason") == "account-inactive" {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "status never in force:\n{}",
            gateway.log()
        );
        std::thread::sleep(Duration::from_millis(25));
    }
    let took = suspended.elapsed();
    eprintln!("status in force after {took:?}");
    assert!(took < IN_FORCE, "status in force after {took:?}");
}

#[test]
fn the_gateway_refuses_to_start_when_the_directory_database_cannot_be_read() {
    let url = format!(
        "host=127.0.0.1 port={} user=postgres dbname=postgres connect_timeout=5",
        free_port()
    );
    let dir = tempfile::tempdir().unwrap();
    let mut config: toml::Table = gateway_support::config_text(dir.path(), &Options::default())
        .parse()
        .unwrap();
    let directory = config.get_mut("directory").unwrap().as_table_mut().unwrap();
    directory.insert("source".into(), "postgres".into());
    directory.insert("url".into(), url.into());
    let path = dir.path().join("supportgate.toml");
    std::fs::write(&path, toml::to_string(&config).unwrap()).unwrap();
    let (status, stderr) = gateway_support::serve_refusing(&path);
    assert!(!status.success(), "{stderr}");
    assert!(
        stderr.contains("cannot start") && stderr.contains("directory database"),
        "{stderr}"
    );
}

#[test]
fn with_the_database_away_the_gateway_decides_with_the_last_directory_then_resynchronises() {
    let postgres = Postgres::start();
    with_acme(&postgres);
    let metrics_port = free_port();
    let gateway = gateway(&postgres, Some(metrics_port));
    assert_eq!(verdict(&gateway, "alice@acme.example"), "accept");
    assert_eq!(source_up(metrics_port).as_deref(), Some("1"));

    postgres.stop_server();
    let down = poll(|| (source_up(metrics_port).as_deref() == Some("0")).then_some(()));
    assert!(down.is_some(), "source_up never 0:\n{}", gateway.log());
    assert_eq!(verdict(&gateway, "alice@acme.example"), "accept");
    assert_eq!(verdict(&gateway, "dan@acme.example"), "refuse");
    assert!(gateway.log().contains("directory database: lost"));

    postgres.start_server();
    let up = poll(|| (source_up(metrics_port).as_deref() == Some("1")).then_some(()));
    assert!(
        up.is_some(),
        "source_up never back to 1:\n{}",
        gateway.log()
    );
    let resyncs = gateway
        .log()
        .matches("directory database: full resynchronisation")
        .count();
    assert!(
        resyncs >= 2,
        "{resyncs} resynchronisations:\n{}",
        gateway.log()
    );
    // Updates resume on the new connection.
    let inserted = Instant::now();
    postgres.sql(
        "INSERT INTO supportgate.agents (account_id, name, role, emails) VALUES \
         ('acme', 'Dan Roux', 'agent', '{dan@acme.example}')",
    );
    let took = until_verdict(&gateway, "dan@acme.example", "accept", inserted);
    assert!(took < IN_FORCE, "insert in force after {took:?}");
}

/// The periodic full resynchronisation reads on a connection of its own: updates made while it
/// runs are in force within the second as usual, and are not undone when the fresh directory
/// (from a snapshot that may predate them) goes in force.
#[test]
fn updates_made_during_a_full_resynchronisation_are_in_force_and_stay_in_force() {
    let postgres = Postgres::start();
    with_acme(&postgres);
    // Enough agents that a resynchronisation takes a while (read and indexed by a debug build).
    postgres.sql(
        "INSERT INTO supportgate.accounts (id, name, hosts) VALUES ('bulk', 'Bulk', '{}'); \
         INSERT INTO supportgate.agents (account_id, name, role, emails) \
         SELECT 'bulk', 'Agent ' || n, CASE WHEN n = 1 THEN 'owner' ELSE 'agent' END, \
                ARRAY['agent' || n || '@bulk.example'] FROM generate_series(1, 30000) AS n",
    );
    let gateway = gateway_refreshing(&postgres, None, Some("1s"));
    // The start-up load came first; the updates begin once the gateway follows the database
    // (LISTEN, then its first resynchronisation: a change made before would wait for it).
    let resyncs = |log: &str| log.matches("full resynchronisation").count();
    poll(|| (resyncs(&gateway.log()) >= 1).then_some(()))
        .expect("the gateway follows the database");
    let started = Instant::now();
    let mut inserted = 0;
    while started.elapsed() < Duration::from_secs(5) {
        inserted += 1;
        let address = format!("new{inserted}@acme.example");
        let at = Instant::now();
        postgres.sql(&format!(
            "INSERT INTO supportgate.agents (account_id, name, role, emails) VALUES \
             ('acme', 'New {inserted}', 'agent', '{{{address}}}')"
        ));
        let took = until_verdict(&gateway, &address, "accept", at);
        assert!(
            took < IN_FORCE,
            "{address} in force after {took:?}:\n{}",
            gateway.log()
        );
    }
    // Let at least one more resynchronisation pass, then every update is still in force.
    let seen = resyncs(&gateway.log());
    poll(|| (resyncs(&gateway.log()) > seen + 1).then_some(()))
        .expect("resynchronisations go on every second");
    for n in 1..=inserted {
        let address = format!("new{n}@acme.example");
        assert_eq!(verdict(&gateway, &address), "accept", "{address} undone");
    }
    let log = gateway.log();
    assert!(resyncs(&log) >= 3, "{log}");
    let overlapped = log
        .lines()
        .filter(|l| l.contains("full resynchronisation") && !l.contains("\"changes_meanwhile\":0"))
        .filter(|l| l.contains("changes_meanwhile"))
        .count();
    eprintln!(
        "{inserted} updates, {} resynchronisations, {overlapped} with changes applied meanwhile",
        resyncs(&log)
    );
    assert!(
        overlapped >= 1,
        "no update landed during a resynchronisation:\n{log}"
    );
}
