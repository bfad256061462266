//! parse + decide on a 10 KB message against a directory of 1,000,000 agents, beside
//! mail-parser parsing alone, in the same run (issue 2: goal ≤ 20 µs and ≤ 4× the parse); also
//! a 10 KB multipart/alternative message whose HTML part P4 reads too (issue 10).
//!
//! With SPEC §10's rules (issue 13) in the decision, and, measured apart, the `mail-loop` state
//! lookup: one message recorded in the embedded redb sender history (what the pipeline does
//! per message of an authenticated sender before deciding).
//!
//! Run: `cargo bench --bench decide`

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use mail_parser::MessageParser;
use supportgate::address::{AddressRules, NormalizedAddress};
use supportgate::config::Config;
use supportgate::directory::Directory;
use supportgate::policy::{decide, MessageFacts};

#[path = "fixtures/mod.rs"]
mod fixtures;

use fixtures::{alternative_message, message};

const ACCOUNTS: usize = 100_000;

fn directory() -> Directory {
    fixtures::directory(ACCOUNTS)
}

fn bench(c: &mut Criterion) {
    let config_path = concat!(env!("CARGO_MANIFEST_DIR"), "/config/supportgate.toml");
    let config = Config::load(std::path::Path::new(config_path)).expect("shipped configuration");
    let directory = directory();
    let raw = message();
    let arrival = fixtures::arrival();
    let sender =
        NormalizedAddress::parse("agent3@customer-4242.example", &AddressRules::default()).unwrap();
    assert_eq!(
        directory.listings(&sender).len(),
        1,
        "the bench sender is registered"
    );

    let mut group = c.benchmark_group("10KB message, 1M agents");
    group.bench_function("mail-parser parse alone (reference)", |b| {
        b.iter(|| MessageParser::default().parse(black_box(&raw[..])))
    });
    group.bench_function("parse + decide", |b| {
        b.iter(|| {
            let message = MessageParser::default().parse(black_box(&raw[..])).unwrap();
            let policy = &config.policy;
            let facts = MessageFacts::extract(&message, policy.category_body_chars);
            decide(&arrival.input(&facts, &directory, policy))
        })
    });
    let alternative = alternative_message();
    assert!((10 * 1024 - 100..=10 * 1024 + 100).contains(&alternative.len()));
    group.bench_function(
        "mail-parser parse alone, multipart/alternative (reference)",
        |b| b.iter(|| MessageParser::default().parse(black_box(&alternative[..]))),
    );
    group.bench_function("parse + decide, multipart/alternative with HTML", |b| {
        b.iter(|| {
            let message = MessageParser::default()
                .parse(black_box(&alternative[..]))
                .unwrap();
            let policy = &config.policy;
            let facts = MessageFacts::extract(&message, policy.category_body_chars);
            decide(&arrival.input(&facts, &directory, policy))
        })
    });
    let parsed = MessageParser::default().parse(&raw[..]).unwrap();
    group.bench_function("extract facts only", |b| {
        b.iter(|| MessageFacts::extract(black_box(&parsed), config.policy.category_body_chars))
    });
    let facts = MessageFacts::extract(&parsed, config.policy.category_body_chars);
    group.bench_function("decide only (facts given)", |b| {
        b.iter(|| decide(&arrival.input(black_box(&facts), &directory, &config.policy)))
    });
    group.finish();
    sender_history(c);
}

/// The `mail-loop` lookup: record one arrival and read the sender's history. 1,000 senders,
/// each sending every 1,000th message, one second apart per round, over a 10-minute window
/// (the shipped one). Embedded, three figures: the in-memory window `serve` uses, on the
/// message's path; its write-behind (serve's sweep, once a second, off the message's path),
/// per 1,000 messages; and the redb file alone, as every message paid before. With `BENCH_STATE_URL` (a connection
/// string, e.g. `bench/state_postgres.sh` sets it), the same against `[state] backend =
/// "postgres"`, plus a reply claim: the per-message cost of the shared state.
fn sender_history(c: &mut Criterion) {
    use supportgate::store::embedded::{RedbSenderHistory, WindowedSenderHistory};
    use supportgate::store::sender_history::SenderHistoryStore;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let dir = tempfile::tempdir().expect("tempdir");
    let windowed =
        WindowedSenderHistory::open(&dir.path().join("windowed.redb")).expect("open window");
    record_arrivals(
        c,
        &runtime,
        "mail-loop sender history (embedded: in-memory window, serve's)",
        &windowed,
    );
    let mut group =
        c.benchmark_group("mail-loop sender history (embedded: in-memory window, serve's)");
    let mut n: u64 = 0;
    group.bench_function(
        "write-behind of 1,000 recorded messages (serve's sweep)",
        |b| {
            b.iter_batched(
                || {
                    for _ in 0..1000 {
                        n += 1;
                        runtime
                            .block_on(windowed.record(&arrival_of(n), 600))
                            .expect("record");
                    }
                },
                |()| runtime.block_on(windowed.flush()).expect("flush"),
                criterion::BatchSize::PerIteration,
            )
        },
    );
    group.finish();
    let file = RedbSenderHistory::open(&dir.path().join("file.redb")).expect("open");
    record_arrivals(
        c,
        &runtime,
        "mail-loop sender history (embedded: redb file alone)",
        &file,
    );
    let Ok(url) = std::env::var("BENCH_STATE_URL") else {
        return;
    };
    let settings = supportgate::config::PostgresStateSettings {
        url,
        connections: 1,
        timeout: std::time::Duration::from_secs(5),
    };
    let state = runtime
        .block_on(supportgate::store::state::State::open(
            &supportgate::config::StateSettings::Postgres(settings),
            // Pending approvals are in the database with this backend: no file.
            std::path::Path::new("unused-approvals.redb"),
        ))
        .expect("the state database");
    let history = state.sender_history.as_ref();
    record_arrivals(c, &runtime, "mail-loop sender history (postgres)", history);
    let mut group = c.benchmark_group("reply memory (postgres)");
    let mut n: u64 = 0;
    group.bench_function("claim, one reply", |b| {
        b.iter(|| {
            n += 1;
            let key = format!("unknown-sender\u{0}stranger{n}@else.example");
            runtime
                .block_on(
                    state
                        .reply_memory
                        .claim(black_box(&key), 1_800_000_000, 1_799_990_000),
                )
                .expect("claim")
        })
    });
    group.finish();
}

fn record_arrivals(
    c: &mut Criterion,
    runtime: &tokio::runtime::Runtime,
    name: &str,
    store: &dyn supportgate::store::sender_history::SenderHistoryStore,
) {
    let mut group = c.benchmark_group(name);
    let mut n: u64 = 0;
    group.bench_function("record + history, one message", |b| {
        b.iter(|| {
            n += 1;
            runtime
                .block_on(store.record(black_box(&arrival_of(n)), 600))
                .expect("record")
        })
    });
    group.finish();
}

/// Message `n`: from one of 1,000 senders, each sending every 1,000th message, a second
/// apart per round.
fn arrival_of(n: u64) -> supportgate::store::sender_history::Arrival {
    supportgate::store::sender_history::Arrival {
        sender: format!("agent{i}@customer-{i}.example", i = n % 1000),
        message_id: Some(format!("<{n}@customer.example>")),
        at: 1_800_000_000 + n / 1000,
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default().measurement_time(std::time::Duration::from_secs(3));
    targets = bench
}
criterion_main!(benches);
