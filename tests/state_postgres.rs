//! `[state] backend = "postgres"` (SPEC §12) against a real PostgreSQL cluster
//! (tests/postgres_support): two `supportgate serve` processes sharing one `[state]` and one
//! directory send one auto-reply between them to a stranger who writes to both, and count a
//! sender's messages together (`mail-loop`); `state migrate` is idempotent; no database at
//! start is a clear refusal; a database lost under a running gateway costs no mail. Also the
//! stores themselves: claims raced from two pools, one wins.

mod gateway_support;
mod postgres_support;

use gateway_support::sink::{Answer, Sink};
use gateway_support::{field_str, free_port, message, poll, Gateway, Options};
use postgres_support::Postgres;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

const SUPPORT: &str = "acme@support.vendor.example";
const STRANGER: &str = "mallory@else.example";

fn with_acme(postgres: &Postgres) {
    postgres.sql(
        "INSERT INTO supportgate.accounts (id, name, language, hosts, mailboxes) VALUES \
         ('acme', 'Acme SAS', 'fr', '{acme.vendor.example}', '{acme@support.vendor.example}'); \
         INSERT INTO supportgate.agents (account_id, name, role, emails) VALUES \
         ('acme', 'Alice Martin', 'owner', '{alice@acme.example}')",
    );
}

fn table<'a>(config: &'a mut toml::Table, name: &str) -> &'a mut toml::Table {
    config
        .entry(name)
        .or_insert_with(|| toml::Table::new().into())
        .as_table_mut()
        .unwrap()
}

/// Points `config` at the shared directory and the shared state.
fn share(config: &mut toml::Table, url: &str, metrics_port: Option<u16>) {
    let directory = table(config, "directory");
    directory.insert("source".into(), "postgres".into());
    directory.insert("url".into(), url.into());
    let state = table(config, "state");
    state.insert("backend".into(), "postgres".into());
    state.insert("url".into(), url.into());
    if let Some(port) = metrics_port {
        table(config, "metrics").insert("listen".into(), format!("127.0.0.1:{port}").into());
    }
}

/// One gateway of the fleet; replies go to `replies` (the one sink both gateways send to).
fn fleet_member(
    postgres: &Postgres,
    replies: &str,
    limits: Vec<(&'static str, toml::Value)>,
) -> Gateway {
    let url = postgres.url();
    let options = Options {
        replies: Some(replies.to_string()),
        limits,
        ..Options::default()
    };
    Gateway::start_edited(options, move |config| share(config, &url, None))
}

fn reasons(gateway: &Gateway) -> Vec<String> {
    gateway
        .decisions()
        .iter()
        .map(|d| field_str(d, "reason"))
        .collect()
}

#[test]
fn a_stranger_writing_to_both_gateways_at_once_gets_one_auto_reply() {
    let postgres = Postgres::start();
    with_acme(&postgres);
    let sink = Sink::start(Answer::Accept);
    let fleet = [
        Arc::new(fleet_member(&postgres, &sink.url(), Vec::new())),
        Arc::new(fleet_member(&postgres, &sink.url(), Vec::new())),
    ];
    const EACH: usize = 3;
    // Both gateways at the same time, three messages each: six chances to race.
    let senders: Vec<_> = fleet
        .iter()
        .enumerate()
        .map(|(g, gateway)| {
            let gateway = Arc::clone(gateway);
            std::thread::spawn(move || {
                for i in 0..EACH {
                    let bytes = message(STRANGER, &format!("Help {g}.{i}"), &[], "Hello\n");
                    let reply = gateway.send(STRANGER, &[SUPPORT], &bytes);
                    assert!(reply.starts_with("250"), "{reply}");
                }
            })
        })
        .collect();
    for sender in senders {
        sender.join().unwrap();
    }
    for gateway in &fleet {
        gateway.wait_decisions(EACH);
        assert!(
            reasons(gateway).iter().all(|r| r == "not-registered"),
            "{:?}",
            reasons(gateway)
        );
        assert!(gateway.settle(), "spool not empty:\n{}", gateway.log());
    }
    sink.wait_for(1);
    // Both spools are empty: anything else owed has been sent by now; a second look later
    // would only see a late duplicate.
    std::thread::sleep(Duration::from_millis(500));
    let replies: Vec<_> = sink.received().into_iter().filter(|r| r.accepted).collect();
    assert_eq!(replies.len(), 1, "{replies:#?}");
    assert_eq!(replies[0].rcpt_to, [format!("<{STRANGER}>")]);
    let kept: usize = fleet.iter().map(|g| g.quarantine().len()).sum();
    assert_eq!(kept, 2 * EACH, "every message is kept, replied to or not");
}

#[test]
fn a_sender_is_counted_across_both_gateways_and_its_block_holds_on_both() {
    let postgres = Postgres::start();
    with_acme(&postgres);
    let sink = Sink::start(Answer::Accept);
    let limits = vec![("sender_messages", 4.into()), ("sender_block", "1h".into())];
    let fleet = [
        fleet_member(&postgres, &sink.url(), limits.clone()),
        fleet_member(&postgres, &sink.url(), limits),
    ];
    // A, B, A, B, A: five messages, never more than three at one gateway.
    for i in 0..5 {
        let gateway = &fleet[i % 2];
        let bytes = message("alice@acme.example", &format!("Printer {i}"), &[], "Hi.\n");
        let reply = gateway.send("alice@acme.example", &[SUPPORT], &bytes);
        assert!(reply.starts_with("250"), "message {i}: {reply}");
        gateway.wait_decisions(i / 2 + 1);
    }
    assert_eq!(reasons(&fleet[0]), ["accepted", "accepted", "mail-loop"]);
    assert_eq!(reasons(&fleet[1]), ["accepted", "accepted"]);
    // The block started at the first gateway holds at the second.
    let bytes = message("alice@acme.example", "Printer again", &[], "Hi.\n");
    assert!(fleet[1]
        .send("alice@acme.example", &[SUPPORT], &bytes)
        .starts_with("250"));
    fleet[1].wait_decisions(3);
    assert_eq!(reasons(&fleet[1])[2], "mail-loop");
    let blocked = |g: &Gateway| g.log().matches("mail loop: sender blocked").count();
    assert_eq!(
        blocked(&fleet[0]) + blocked(&fleet[1]),
        1,
        "one block for the fleet"
    );
}

fn config_file(dir: &std::path::Path, state_url: &str) -> std::path::PathBuf {
    let mut config: toml::Table = gateway_support::config_text(dir, &Options::default())
        .parse()
        .unwrap();
    let state = table(&mut config, "state");
    state.insert("backend".into(), "postgres".into());
    state.insert("url".into(), state_url.into());
    let path = dir.join("supportgate.toml");
    std::fs::write(&path, toml::to_string(&config).unwrap()).unwrap();
    path
}

fn migrate(config: &std::path::Path) -> (bool, String) {
    let output = Command::new(gateway_support::bin())
        .args(["state", "migrate", "--config"])
        .arg(config)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.success(), text)
}

#[test]
fn state_migrate_twice_migrates_once_then_finds_the_schema_up_to_date() {
    let postgres = Postgres::start();
    let dir = tempfile::tempdir().unwrap();
    let config = config_file(dir.path(), &postgres.url());
    let (ok, first) = migrate(&config);
    assert!(ok, "{first}");
    assert!(
        first.contains(
            "migrated to version 3 (applied: reply memory, sender history, pending approvals)"
        ),
        "{first}"
    );
    let (ok, second) = migrate(&config);
    assert!(ok, "{second}");
    assert!(second.contains("at version 3: up to date"), "{second}");
    // Every step recorded once, the objects there.
    postgres.sql(
        "DO $$ BEGIN \
           IF (SELECT count(*) FROM supportgate.state_migrations) <> 3 THEN \
             RAISE EXCEPTION 'not three steps'; END IF; \
           PERFORM supportgate.record_arrival('a@x', NULL, 1, 600); \
           PERFORM 1 FROM supportgate.reply_claims; \
           PERFORM 1 FROM supportgate.approvals; \
         END $$",
    );
}

#[test]
fn the_gateway_refuses_to_start_when_the_state_database_cannot_be_reached() {
    let port = free_port();
    let url = format!("host=127.0.0.1 port={port} user=postgres dbname=postgres");
    let dir = tempfile::tempdir().unwrap();
    let config = config_file(dir.path(), &url);
    let (status, stderr) = gateway_support::serve_refusing(&config);
    assert!(!status.success(), "{stderr}");
    let expected = format!(
        "[state] backend = \"postgres\": cannot use postgres://postgres@127.0.0.1:{port}/postgres"
    );
    assert!(stderr.contains(&expected), "{stderr}");
    let (ok, text) = migrate(&config);
    assert!(!ok && text.contains("state database"), "{text}");
}

fn scrape(port: u16) -> String {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream
        .write_all(b"GET /metrics HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
        .unwrap();
    let mut body = String::new();
    stream.read_to_string(&mut body).unwrap();
    body
}

#[test]
fn with_the_state_database_away_mail_still_gets_its_answer_and_no_reply_goes_out() {
    let postgres = Postgres::start();
    with_acme(&postgres);
    let sink = Sink::start(Answer::Accept);
    let metrics_port = free_port();
    let url = postgres.url();
    let options = Options {
        replies: Some(sink.url()),
        ..Options::default()
    };
    let gateway = Gateway::start_edited(options, move |c| share(c, &url, Some(metrics_port)));
    // The listeners are bound before the state is opened: wait until it is.
    let ready = poll(|| gateway.log().contains("supportgate ready").then_some(()));
    assert!(ready.is_some(), "{}", gateway.log());
    postgres.stop_server();
    // The agent's message is forwarded, the stranger's kept: both within the bound.
    let started = std::time::Instant::now();
    let agent = message("alice@acme.example", "Printer", &[], "Hi.\n");
    assert!(gateway
        .send("alice@acme.example", &[SUPPORT], &agent)
        .starts_with("250"));
    let stranger = message(STRANGER, "Help", &[], "Hello\n");
    assert!(gateway
        .send(STRANGER, &[SUPPORT], &stranger)
        .starts_with("250"));
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
    gateway.wait_decisions(2);
    assert_eq!(reasons(&gateway), ["accepted", "not-registered"]);
    assert_eq!(gateway.tickets().len(), 1);
    assert_eq!(gateway.quarantine().len(), 1);
    assert!(gateway
        .log()
        .contains("reply memory unavailable; reply suppressed"));
    assert!(gateway.settle());
    assert!(
        sink.received().is_empty(),
        "no reply without the reply memory"
    );
    let errors = |store: &str| {
        let series = format!("supportgate_state_errors_total{{store=\"{store}\"}} ");
        scrape(metrics_port)
            .lines()
            .find_map(|l| l.strip_prefix(series.as_str()).map(str::to_string))
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    assert!(errors("sender_history") >= 2.0, "{}", scrape(metrics_port));
    assert!(errors("reply_memory") >= 1.0, "{}", scrape(metrics_port));
}

/// The claim itself, raced from two pools (two gateways' worth of connections): one wins.
#[test]
fn a_reply_claim_raced_from_two_gateways_is_won_once() {
    use supportgate::config::{PostgresStateSettings, StateSettings};
    use supportgate::store::state::State;
    let postgres = Postgres::start();
    let settings = StateSettings::Postgres(PostgresStateSettings {
        url: postgres.url(),
        connections: 4,
        timeout: Duration::from_secs(5),
    });
    let dir = tempfile::tempdir().unwrap();
    let unused = dir.path().join("approvals.redb");
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let fleet = [
            State::open(&settings, &unused).await.unwrap(),
            State::open(&settings, &unused).await.unwrap(),
        ];
        for round in 0..20u64 {
            let key = format!("not-registered\u{0}stranger{round}@else.example");
            let claims = fleet.iter().flat_map(|state| {
                (0..4).map(|_| {
                    let (memory, key) = (Arc::clone(&state.reply_memory), key.clone());
                    tokio::spawn(async move { memory.claim(&key, 1000, 0).await.unwrap() })
                })
            });
            let claims: Vec<_> = claims.collect();
            let mut won = 0;
            for claim in claims {
                won += usize::from(claim.await.unwrap());
            }
            assert_eq!(won, 1, "round {round}");
            // Within the interval: taken; after it: free again; given back: free.
            assert!(!fleet[1].reply_memory.claim(&key, 1500, 1000).await.unwrap());
            assert!(fleet[1].reply_memory.claim(&key, 5000, 1001).await.unwrap());
            fleet[1].reply_memory.unclaim(&key).await.unwrap();
            assert!(fleet[0].reply_memory.claim(&key, 5001, 1001).await.unwrap());
        }
        assert_eq!(fleet[0].reply_memory.entries().await.unwrap(), 20);
        assert_eq!(fleet[1].reply_memory.prune(5001).await.unwrap(), 0);
        assert_eq!(fleet[1].reply_memory.prune(5002).await.unwrap(), 20);
    });
}
