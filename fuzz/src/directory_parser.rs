//! `directory_parser`: arbitrary text → `Directory::from_toml`.
//!
//! Invariants: no panic; a refusal is one non-empty line; every finding names a problem on one
//! line. Differential: `from_toml` reads the text in batches of 64 accounts (cut before
//! `[[account]]` lines) and must agree with one whole-text parse by `toml` 1.x: it refuses
//! exactly what that refuses, and otherwise has the same accounts with the same agents. So that
//! the fuzzer reaches a cut, each input is also read after 64 generated accounts.

use supportgate::address::AddressRules;
use supportgate::directory::{AccountEntry, Directory};

/// `toml_v1` parses the file format of `model.rs` (which is not public): the same serde shape.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct WholeFile {
    #[serde(default)]
    account: Vec<AccountEntry>,
}

pub fn check(input: &[u8]) {
    let text = String::from_utf8_lossy(input);
    let rules = AddressRules::default();
    check_text(&text, &rules);
    if text.contains("[[") {
        let mut prefixed = String::with_capacity(text.len() + 64 * 40);
        for i in 0..64 {
            prefixed.push_str(&format!("[[account]]\nid = \"p{i}\"\nname = \"P\"\n"));
        }
        prefixed.push_str(&text);
        check_text(&prefixed, &rules);
    }
}

fn check_text(text: &str, rules: &AddressRules) {
    let loaded = Directory::from_toml(text, rules);
    let whole = toml_v1::from_str::<WholeFile>(text);
    match (loaded, whole) {
        (Err(message), Err(_)) => {
            assert!(!message.trim().is_empty(), "empty error");
            assert!(
                !message.contains(['\n', '\r']),
                "error on several lines: {message:?}"
            );
        }
        (Ok(directory), Ok(file)) => {
            let ids: Vec<&str> = directory.accounts().map(|a| &*a.id).collect();
            let expected: Vec<&str> = file.account.iter().map(|a| a.id.as_str()).collect();
            assert_eq!(
                ids, expected,
                "batches and whole text disagree on the accounts"
            );
            let agents: Vec<usize> = directory.accounts().map(|a| a.agents.len()).collect();
            let expected: Vec<usize> = file.account.iter().map(|a| a.agent.len()).collect();
            assert_eq!(
                agents, expected,
                "batches and whole text disagree on the agents"
            );
            for finding in directory.findings() {
                let line = finding.to_string();
                assert!(
                    !finding.message.trim().is_empty(),
                    "empty finding: {finding:?}"
                );
                assert!(
                    !line.contains(['\n', '\r']),
                    "finding on several lines: {line:?}"
                );
            }
        }
        (Ok(_), Err(e)) => panic!("loaded a text that does not parse whole: {e}"),
        (Err(message), Ok(_)) => panic!("refused a text that parses whole: {message}"),
    }
}
