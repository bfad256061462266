//! The scale of `[directory] source = "postgres"` (issue 15 part 5), against a real database;
//! `bench/directory_postgres.sh` runs it on a private cluster. Three steps, each its own
//! process so that `/usr/bin/time -v` gives each its peak RSS:
//!
//! ```text
//! directory_postgres_scale generate URL [ACCOUNTS] [AGENTS]   # COPY the accounts and agents in
//! directory_postgres_scale load URL                            # full load, as serve at start
//! directory_postgres_scale live URL [UPDATES] [SECONDS]        # UPDATE → in force; decide/s
//! ```
//!
//! `live`: follows the database with the gateway's own `directory::follow`; (1) `UPDATES`
//! updates one after the other, each an agent's address changed by `UPDATE`, timed from the
//! statement until a directory in force finds the new address (p50/p99); (2) parse + decide of
//! a 10 KB message on one thread for `SECONDS`, first with no updates, then while 100 updates
//! a second arrive.

use bytes::Bytes;
use futures_util::SinkExt;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};
use supportgate::address::{AddressRules, NormalizedAddress};
use supportgate::config::{Config, PostgresDirectorySettings};
use supportgate::directory::{follow, Directory, DirectoryDatabase, DirectoryHost};
use supportgate::policy::suppression::NoReplyMemory;
use supportgate::policy::{
    decide, AuthResult, AuthSource, Envelope, MessageFacts, PolicyInput, SenderHistory,
};
use tokio_postgres::NoTls;

const ROLES: [&str; 10] = [
    "owner", "admin", "agent", "agent", "agent", "agent", "agent", "agent", "agent", "agent",
];

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let number = |i: usize, default: usize| {
        args.get(i)
            .map(|a| a.parse().expect("a number"))
            .unwrap_or(default)
    };
    let (Some(step), Some(url)) = (args.first(), args.get(1)) else {
        eprintln!("usage: directory_postgres_scale generate|load|live URL [N...]");
        std::process::exit(2);
    };
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    match step.as_str() {
        "generate" => runtime.block_on(generate(url, number(2, 100_000), number(3, 10))),
        "load" => runtime.block_on(load(url)),
        "live" => runtime.block_on(live(url, number(2, 1000), number(3, 10))),
        other => {
            eprintln!("unknown step {other:?}");
            std::process::exit(2);
        }
    }
}

async fn client(url: &str) -> tokio_postgres::Client {
    let (client, connection) = tokio_postgres::connect(url, NoTls).await.expect("connect");
    tokio::spawn(connection);
    client
}

/// Empties the tables and fills them with COPY; the NOTIFY triggers are off for the load
/// (`session_replication_role = replica`: a bulk load, not a change to follow).
async fn generate(url: &str, accounts: usize, agents: usize) {
    let started = Instant::now();
    let client = client(url).await;
    client
        .batch_execute(
            "SET session_replication_role = replica; \
             TRUNCATE supportgate.agents, supportgate.accounts",
        )
        .await
        .expect("truncate");
    let mut rows = String::with_capacity(accounts * 120);
    for a in 0..accounts {
        rows.push_str(&format!(
            "account-{a}\tAccount {a}\t{}\t\\N\tactive\t{{account-{a}.vendor.example}}\t{{}}\t{{help@customer-{a}.example}}\t{{}}\n",
            if a % 2 == 0 { "fr" } else { "en" }
        ));
    }
    copy(&client, "supportgate.accounts", rows).await;
    let mut rows = String::with_capacity(accounts * agents * 70);
    for a in 0..accounts {
        for g in 0..agents {
            rows.push_str(&format!(
                "account-{a}\tAgent {g} of {a}\t{}\t{{agent{g}@customer-{a}.example}}\n",
                ROLES[g % ROLES.len()]
            ));
        }
    }
    copy(&client, "supportgate.agents", rows).await;
    client
        .batch_execute("ANALYZE supportgate.accounts; ANALYZE supportgate.agents")
        .await
        .expect("analyze");
    println!(
        "generated accounts={accounts} agents={} elapsed={:.1}s",
        accounts * agents,
        started.elapsed().as_secs_f64()
    );
}

async fn copy(client: &tokio_postgres::Client, table: &str, rows: String) {
    let sink = client
        .copy_in(&format!("COPY {table} FROM STDIN"))
        .await
        .expect("copy");
    futures_util::pin_mut!(sink);
    sink.send(Bytes::from(rows)).await.expect("copy rows");
    sink.as_mut().finish().await.expect("copy end");
}

fn settings(url: &str) -> PostgresDirectorySettings {
    PostgresDirectorySettings {
        url: url.to_string(),
        refresh: Duration::from_secs(3600),
        channel: "supportgate_directory".into(),
    }
}

/// What `serve` does at start: one snapshot read, then the index built.
async fn load(url: &str) {
    let started = Instant::now();
    let mut database = DirectoryDatabase::connect(&settings(url))
        .await
        .expect("connect");
    let entries = database.load_all().await.expect("load");
    let read = started.elapsed();
    let directory = Directory::build(entries, &AddressRules::default());
    println!(
        "loaded accounts={} agents={} read={:.2}s total={:.2}s",
        directory.account_count(),
        directory.agent_count(),
        read.as_secs_f64(),
        started.elapsed().as_secs_f64()
    );
}

/// The directory in force, as the gateway's engine holds it.
struct Host {
    current: RwLock<Arc<Directory>>,
    published: tokio::sync::watch::Sender<u64>,
}

impl DirectoryHost for Host {
    fn directory(&self) -> Arc<Directory> {
        self.current.read().expect("lock").clone()
    }
    fn address_rules(&self) -> AddressRules {
        AddressRules::default()
    }
    fn publish(&self, directory: Arc<Directory>) {
        let replaced = std::mem::replace(&mut *self.current.write().expect("lock"), directory);
        supportgate::gateway::free_when_unused(replaced);
        self.published.send_modify(|n| *n += 1);
    }
    fn source_up(&self, _: bool) {}
}

fn address(text: &str) -> NormalizedAddress {
    NormalizedAddress::parse(text, &AddressRules::default()).expect("address")
}

async fn live(url: &str, updates: usize, seconds: usize) {
    let seconds = seconds as u64;
    let (published, mut seen) = tokio::sync::watch::channel(0);
    let host = Arc::new(Host {
        current: RwLock::new(Arc::new(Directory::build(
            Vec::new(),
            &AddressRules::default(),
        ))),
        published,
    });
    let resync = Arc::new(tokio::sync::Notify::new());
    tokio::spawn(follow(
        settings(url),
        Arc::clone(&host) as Arc<dyn DirectoryHost>,
        Arc::clone(&resync),
    ));
    seen.wait_for(|n| *n >= 1).await.expect("first load");
    let accounts = host.directory().account_count();
    println!(
        "following accounts={accounts} agents={}",
        host.directory().agent_count()
    );
    let client = Arc::new(client(url).await);

    let mut latencies = Vec::with_capacity(updates);
    for i in 0..updates {
        latencies
            .push(update_in_force(&client, &host, &mut seen, accounts, &format!("probe{i}")).await);
    }
    report("update in force", latencies);

    // The same, one after the other, while a full resynchronisation (SIGHUP's) reads and
    // indexes the million agents beside them.
    resync.notify_one();
    let mut latencies = Vec::new();
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(seconds) {
        let i = latencies.len();
        latencies.push(
            update_in_force(&client, &host, &mut seen, accounts, &format!("resync{i}")).await,
        );
    }
    report("update in force during a full resynchronisation", latencies);

    // Quiet and busy rounds alternate, so that drift on a shared machine hits both alike.
    let mut quiet = Vec::new();
    let mut busy = Vec::new();
    let (mut sent, mut patches) = (0, 0);
    let (mut quiet_cpu, mut busy_cpu) = (0.0, 0.0);
    for round in 0..ROUNDS {
        let cpu = process_cpu_seconds();
        quiet.push(decisions_per_second(&host, seconds).await);
        quiet_cpu += process_cpu_seconds() - cpu;
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let updater = {
            let (client, stop) = (Arc::clone(&client), Arc::clone(&stop));
            tokio::spawn(async move {
                let mut tick = tokio::time::interval(Duration::from_millis(10));
                let mut sent = 0usize;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    tick.tick().await;
                    let a = (sent * 104_729 + round) % accounts;
                    let _ = client
                        .execute(
                            "UPDATE supportgate.agents SET emails = ARRAY[$1] WHERE account_id = $2 AND name = $3",
                            &[
                                &format!("busy{round}-{sent}@customer-{a}.example"),
                                &format!("account-{a}"),
                                &format!("Agent 8 of {a}"),
                            ],
                        )
                        .await;
                    sent += 1;
                }
                sent
            })
        };
        let before = *seen.borrow();
        let cpu = process_cpu_seconds();
        busy.push(decisions_per_second(&host, seconds).await);
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        sent += updater.await.expect("updater");
        busy_cpu += process_cpu_seconds() - cpu;
        patches += *seen.borrow() - before;
    }
    // The deciding thread is busy all through both kinds of round; what the busy rounds add is
    // what following the updates cost this process (not counting PostgreSQL's own work).
    println!(
        "CPU of this process: quiet rounds {quiet_cpu:.2} s, busy rounds {busy_cpu:.2} s: {:.0} µs per update followed",
        (busy_cpu - quiet_cpu) * 1e6 / sent.max(1) as f64
    );
    let median = |rates: &mut Vec<f64>| {
        rates.sort_by(f64::total_cmp);
        rates[rates.len() / 2]
    };
    let rounds = |rates: &[f64]| {
        rates
            .iter()
            .map(|r| format!("{r:.0}"))
            .collect::<Vec<_>>()
            .join(" ")
    };
    println!(
        "decide rounds: quiet [{}] with_updates [{}]",
        rounds(&quiet),
        rounds(&busy)
    );
    let (quiet, busy) = (median(&mut quiet), median(&mut busy));
    println!(
        "decide (medians of {ROUNDS}): quiet={quiet:.0}/s with_updates={busy:.0}/s ({:+.1} %), updates sent={sent} ({:.0}/s), directories put in force={patches}",
        (busy / quiet - 1.0) * 100.0,
        sent as f64 / (seconds as f64 * ROUNDS as f64)
    );
}

/// User + system CPU time of this process so far (Linux `/proc/self/stat`, in clock ticks of
/// 1/100 s).
fn process_cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // The fields after the command name (which is in parentheses and may hold spaces).
    let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (ticks(11) + ticks(12)) / 100.0
}

/// Quiet and busy decide rounds, each `SECONDS` long.
const ROUNDS: usize = 3;

/// Updates one agent's address to `probe@…` and waits until the directory in force has it.
async fn update_in_force(
    client: &tokio_postgres::Client,
    host: &Host,
    seen: &mut tokio::sync::watch::Receiver<u64>,
    accounts: usize,
    probe: &str,
) -> Duration {
    let n: usize = probe
        .trim_start_matches(|c: char| c.is_ascii_alphabetic())
        .parse()
        .unwrap_or(0);
    let a = (n * 7919) % accounts;
    let probe = format!("{probe}@customer-{a}.example");
    let started = Instant::now();
    client
        .execute(
            "UPDATE supportgate.agents SET emails = ARRAY[$1] WHERE account_id = $2 AND name = $3",
            &[&probe, &format!("account-{a}"), &format!("Agent 9 of {a}")],
        )
        .await
        .expect("update");
    let probe = address(&probe);
    let deadline = started + Duration::from_secs(30);
    while host.directory().listings(&probe).is_empty() {
        assert!(Instant::now() < deadline, "{probe} never in force");
        let _ = tokio::time::timeout(Duration::from_millis(50), seen.changed()).await;
    }
    started.elapsed()
}

fn report(what: &str, mut latencies: Vec<Duration>) {
    latencies.sort();
    let at = |q: f64| latencies[((latencies.len() as f64 * q) as usize).min(latencies.len() - 1)];
    println!(
        "{what}: n={} p50={:.1}ms p99={:.1}ms max={:.1}ms",
        latencies.len(),
        at(0.50).as_secs_f64() * 1e3,
        at(0.99).as_secs_f64() * 1e3,
        at(1.0).as_secs_f64() * 1e3
    );
}

/// Parse + decide of the decide bench's 10 KB message from a registered agent, on a thread
/// of its own, with whatever directory is in force at each message.
async fn decisions_per_second(host: &Arc<Host>, seconds: u64) -> f64 {
    let host = Arc::clone(host);
    tokio::task::spawn_blocking(move || {
        let config_path = concat!(env!("CARGO_MANIFEST_DIR"), "/config/supportgate.toml");
        let config = Config::load(std::path::Path::new(config_path)).expect("configuration");
        let raw = message();
        let auth = AuthResult::with_source(AuthSource::Off);
        let envelope = Envelope {
            mail_from: Some("agent3@customer-4242.example".into()),
            recipients: vec!["support@vendor.example".into()],
        };
        let started = Instant::now();
        let mut decided = 0u64;
        while started.elapsed() < Duration::from_secs(seconds) {
            let directory = host.directory();
            let parsed = mail_parser::MessageParser::default()
                .parse(&raw[..])
                .expect("message");
            let facts = MessageFacts::extract(&parsed, config.policy.category_body_chars);
            let decision = decide(&PolicyInput {
                envelope: &envelope,
                facts: &facts,
                auth: &auth,
                directory: &directory,
                settings: &config.policy,
                reply_memory: &NoReplyMemory,
                sender_history: &SenderHistory::default(),
                now: 1_800_000_000,
            });
            assert_eq!(decision.reason.code(), "accepted");
            decided += 1;
        }
        decided as f64 / started.elapsed().as_secs_f64()
    })
    .await
    .expect("decide thread")
}

fn message() -> Vec<u8> {
    let mut m = String::from(
        "From: Agent Three <agent3@customer-4242.example>\r\n\
         To: support@vendor.example\r\n\
         Subject: =?UTF-8?Q?Probl=C3=A8me_avec_l=27import_des_tickets?=\r\n\
         Date: Thu, 26 Nov 2026 10:00:00 +0000\r\n\
         Message-ID: <abc123@customer-4242.example>\r\n\
         MIME-Version: 1.0\r\n\
         Content-Type: text/plain; charset=utf-8\r\n\
         Content-Transfer-Encoding: 8bit\r\n\r\n",
    );
    while m.len() < 10 * 1024 {
        m.push_str("Bonjour, depuis ce matin l'import des tickets échoue avec une erreur 500.\r\n");
    }
    m.into_bytes()
}
