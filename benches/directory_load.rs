//! Directory load and lookup times. The directories are generated in-process by
//! `examples/gen_directory.rs` (the same deterministic generator as the scale measurement):
//! load of 100,000 agents from TOML, `listings()` on the 1,000,000-agent directory, and
//! `with_changes` there (one account re-read by a live source: the cost of an update), the
//! compaction of a copy patched 10,000 times, and `listings()` on that copy.
//!
//! ```text
//! cargo bench --bench directory_load
//! ```

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use supportgate::address::{AddressRules, NormalizedAddress};
use supportgate::directory::{AccountChange, Directory};

#[allow(dead_code)] // its `main` is the generator's command line, unused here
#[path = "../examples/gen_directory.rs"]
mod gen_directory;

fn directory_text(accounts: usize, agents_per_account: usize) -> String {
    let mut text = Vec::new();
    gen_directory::write_directory(&mut text, accounts, agents_per_account)
        .expect("writing to a Vec cannot fail");
    String::from_utf8(text).expect("the generator writes UTF-8")
}

fn load(c: &mut Criterion) {
    let rules = AddressRules::default();
    let text = directory_text(10_000, 10);
    let mut group = c.benchmark_group("directory_load");
    group.sample_size(10);
    group.bench_function("from_toml 100k agents", |b| {
        b.iter(|| {
            let directory = Directory::from_toml(black_box(&text), &rules).expect("valid");
            assert_eq!(directory.agent_count(), 100_000);
            directory
        })
    });
    group.finish();
}

fn listings(c: &mut Criterion) {
    let rules = AddressRules::default();
    let directory =
        Directory::from_toml(&directory_text(100_000, 10), &rules).expect("valid directory");
    assert_eq!(directory.agent_count(), 1_000_000);
    assert!(directory.findings().is_empty());
    let address = |raw: &str| NormalizedAddress::parse(raw, &rules).expect("valid address");
    let agent = directory.account(54_321).agents[7]
        .primary()
        .expect("every generated agent has an address")
        .clone();
    let cases = [
        ("agent primary", agent),
        ("two accounts", address("consultant-500@freelance.example")),
        ("helpdesk", address("support@acct-054320.example")),
        ("unknown", address("nobody@nowhere.example")),
    ];
    let changed = directory.account(54_321).id.to_string();
    let mut group = c.benchmark_group("directory_patch_1m");
    group.sample_size(10);
    group.bench_function("with_changes one account", |b| {
        b.iter(|| {
            let next = directory.with_changes(vec![AccountChange {
                id: changed.clone(),
                entry: None,
            }]);
            assert_eq!(next.account_count(), 99_999);
            next
        })
    });
    // A copy that a live source patched 10,000 times: its own layer holds ~120,000 entries
    // (under the compaction threshold of a quarter of the base), and lookups see both layers.
    let mut patched = directory.clone();
    for a in 0..10_000 {
        let id = directory.account(a * 10).id.to_string();
        patched = patched.with_changes(vec![AccountChange { id, entry: None }]);
    }
    assert_eq!(patched.account_count(), 90_000);
    group.bench_function("compaction after 10,000 removals", |b| {
        b.iter(|| patched.compacted())
    });
    group.finish();
    let mut group = c.benchmark_group("directory_listings_1m");
    for (name, address) in &cases {
        let expected = directory.listings(address).len();
        group.bench_function(*name, |b| {
            b.iter(|| {
                let found = directory.listings(black_box(address));
                assert_eq!(found.len(), expected);
                found.len()
            })
        });
    }
    for (name, address) in &cases {
        let expected = patched.listings(address).len();
        group.bench_function(format!("{name}, patched copy"), |b| {
            b.iter(|| {
                let found = patched.listings(black_box(address));
                assert_eq!(found.len(), expected);
                found.len()
            })
        });
    }
    group.bench_function("parse and look up", |b| {
        b.iter(|| {
            let sender =
                NormalizedAddress::parse(black_box("Consultant-500@Freelance.Example"), &rules)
                    .expect("valid");
            directory.listings(&sender).len()
        })
    });
    group.finish();
}

criterion_group!(benches, load, listings);
criterion_main!(benches);
