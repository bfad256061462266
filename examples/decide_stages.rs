//! Runs one stage of the policy path `N` times on the bench's 10 KB messages, for
//! `bench/instructions.sh`, which counts the instructions per run under callgrind: a measure
//! that does not move with the machine's load, beside `cargo bench --bench decide`'s times.
//!
//! `decide_stages STAGE N [text|alternative]`, STAGE = `parse`, `facts` or `decide`.

use mail_parser::MessageParser;
use std::hint::black_box;
use std::process::ExitCode;
use supportgate::config::Config;
use supportgate::policy::{decide, MessageFacts, PolicyInput};

#[path = "../benches/fixtures/mod.rs"]
mod fixtures;

/// 5,000 accounts of 10 agents: lookups are hash lookups, so the directory's size changes
/// little per message, and a small one keeps the set-up short under callgrind.
const ACCOUNTS: usize = 5_000;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let (Some(stage), Some(Ok(runs))) = (args.get(1), args.get(2).map(|n| n.parse::<usize>()))
    else {
        eprintln!("usage: decide_stages parse|facts|decide N [text|alternative]");
        return ExitCode::FAILURE;
    };
    let config_path = concat!(env!("CARGO_MANIFEST_DIR"), "/config/supportgate.toml");
    let Ok(config) = Config::load(std::path::Path::new(config_path)) else {
        eprintln!("cannot load {config_path}");
        return ExitCode::FAILURE;
    };
    let directory = fixtures::directory(ACCOUNTS);
    let raw = if args.get(3).is_some_and(|kind| kind == "alternative") {
        fixtures::alternative_message()
    } else {
        fixtures::message()
    };
    let arrival = fixtures::arrival();
    let Some(parsed) = MessageParser::default().parse(&raw[..]) else {
        eprintln!("the bench message does not parse");
        return ExitCode::FAILURE;
    };
    let body_chars = config.policy.category_body_chars;
    let facts = MessageFacts::extract(&parsed, body_chars);
    let input = arrival.input(&facts, &directory, &config.policy);
    for _ in 0..runs {
        match stage.as_str() {
            "parse" => run_parse(&raw),
            "facts" => run_facts(&parsed, body_chars),
            "decide" => run_decide(&input),
            other => {
                eprintln!("unknown stage {other}");
                return ExitCode::FAILURE;
            }
        }
    }
    ExitCode::SUCCESS
}

// One function per stage, never inlined: `bench/instructions.sh` counts the instructions spent
// inside it (callgrind `--toggle-collect`), the result's drop included.

#[inline(never)]
fn run_parse(raw: &[u8]) {
    black_box(MessageParser::default().parse(black_box(raw)));
}

#[inline(never)]
fn run_facts(parsed: &mail_parser::Message<'_>, body_chars: usize) {
    black_box(MessageFacts::extract(black_box(parsed), body_chars));
}

#[inline(never)]
fn run_decide(input: &PolicyInput<'_>) {
    black_box(decide(black_box(input)));
}
