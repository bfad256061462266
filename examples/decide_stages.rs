//! Runs one stage of the policy path `N` times on the bench's 10 KB messages, for
//! `bench/instructions.sh`, which counts the instructions per run under callgrind: a measure
//! that does not move with the machine's load, beside `cargo bench --bench decide`'s times.
//!
//! `decide_stages STAGE N [text|alternative]`, STAGE = `parse`, `facts` or `decide`.

use mail_parser::MessageParser;
use std::hint::black_box;
use std::process::ExitCode;
use supportgate::address::AddressRules;
use supportgate::config::Config;
use supportgate::directory::{AccountEntry, AgentEntry, Directory};
use supportgate::policy::suppression::NoReplyMemory;
use supportgate::policy::{
    decide, AuthResult, AuthSource, Envelope, MessageFacts, PolicyInput, SenderHistory,
};

/// 5,000 accounts of 10 agents: lookups are hash lookups, so the directory's size changes
/// little per message, and a small one keeps the set-up short under callgrind.
fn directory() -> Directory {
    let roles = ["owner", "admin", "agent"];
    let accounts = (0..5_000)
        .map(|a| AccountEntry {
            id: format!("account-{a}"),
            name: format!("Account {a}"),
            language: None,
            sign_in_url: None,
            status: None,
            hosts: vec![format!("account-{a}.vendor.example")],
            mailboxes: Vec::new(),
            helpdesk_addresses: vec![format!("help@customer-{a}.example")],
            group_addresses: Vec::new(),
            agent: (0..10)
                .map(|g| AgentEntry {
                    name: format!("Agent {g} of {a}"),
                    role: roles[g.min(2)].to_string(),
                    emails: vec![format!("agent{g}@customer-{a}.example")],
                })
                .collect(),
        })
        .collect();
    Directory::build(accounts, &AddressRules::default())
}

const HEADERS: &str =
    "Received: from mail.customer-4242.example (mail.customer-4242.example [192.0.2.10])\r\n\
    \tby mx.vendor.example with ESMTPS id 4Xyz; Thu, 26 Nov 2026 10:00:00 +0000\r\n\
    From: Agent Three <agent3@customer-4242.example>\r\n\
    To: support@vendor.example\r\n\
    Subject: =?UTF-8?Q?Probl=C3=A8me_avec_l=27import_des_tickets?=\r\n\
    Date: Thu, 26 Nov 2026 10:00:00 +0000\r\n\
    Message-ID: <abc123@customer-4242.example>\r\n\
    MIME-Version: 1.0\r\n\
    Content-Language: fr\r\n";
const LINE: &str = "Bonjour, depuis ce matin l'import des tickets échoue avec une erreur 500.\r\n";

/// The bench's messages (benches/decide.rs): 10 KB of text, or of multipart/alternative.
fn message(alternative: bool) -> Vec<u8> {
    let mut m = String::from(HEADERS);
    if !alternative {
        m.push_str(
            "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n",
        );
        while m.len() < 10 * 1024 {
            m.push_str(LINE);
        }
        return m.into_bytes();
    }
    m.push_str(
        "Content-Type: multipart/alternative; boundary=\"alt\"\r\n\r\n--alt\r\n\
        Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n",
    );
    while m.len() < 4 * 1024 {
        m.push_str(LINE);
    }
    m.push_str("--alt\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<html><body>\r\n");
    let html = "<p>Bonjour, depuis ce matin l&#39;import des tickets <b>&eacute;choue</b> avec une erreur 500.</p>\r\n";
    while m.len() < 10 * 1024 - 40 {
        m.push_str(html);
    }
    m.push_str("</body></html>\r\n--alt--\r\n");
    m.into_bytes()
}

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
    let directory = directory();
    let raw = message(args.get(3).is_some_and(|kind| kind == "alternative"));
    let auth = AuthResult::with_source(AuthSource::Off);
    let envelope = Envelope {
        mail_from: Some("agent3@customer-4242.example".into()),
        recipients: vec!["support@vendor.example".into()],
    };
    let Some(parsed) = MessageParser::default().parse(&raw[..]) else {
        eprintln!("the bench message does not parse");
        return ExitCode::FAILURE;
    };
    let body_chars = config.policy.category_body_chars;
    let facts = MessageFacts::extract(&parsed, body_chars);
    for _ in 0..runs {
        match stage.as_str() {
            "parse" => {
                black_box(MessageParser::default().parse(black_box(&raw[..])));
            }
            "facts" => {
                black_box(MessageFacts::extract(black_box(&parsed), body_chars));
            }
            "decide" => {
                black_box(decide(&PolicyInput {
                    envelope: &envelope,
                    facts: black_box(&facts),
                    auth: &auth,
                    directory: &directory,
                    settings: &config.policy,
                    reply_memory: &NoReplyMemory,
                    sender_history: &SenderHistory::default(),
                    now: 1_800_000_000,
                }));
            }
            other => {
                eprintln!("unknown stage {other}");
                return ExitCode::FAILURE;
            }
        }
    }
    ExitCode::SUCCESS
}
