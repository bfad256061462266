//! `supportgate check` as a black box: flags, exit codes, one-line errors (SPEC §9), and the
//! bugs found while writing the golden samples (ignored until fixed; each names its input,
//! what SPEC expects and what happens).

use serde_json::Value;
use std::path::Path;
use std::process::{Command, Output};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

fn supportgate(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_supportgate"))
        .current_dir(ROOT)
        .args(args)
        .output()
        .expect("run supportgate")
}

#[test]
fn the_help_examples_name_samples_that_exist() {
    let help = supportgate(&["check", "--help"]);
    let text = String::from_utf8_lossy(&help.stdout);
    let named: Vec<&str> = text
        .split_whitespace()
        .filter(|w| w.starts_with("samples/"))
        .collect();
    assert!(!named.is_empty(), "{text}");
    for path in named {
        assert!(
            Path::new(ROOT).join(path).exists(),
            "{path} in --help: {text}"
        );
    }
}

fn stderr_lines(output: &Output) -> Vec<String> {
    String::from_utf8_lossy(&output.stderr)
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(str::to_string)
        .collect()
}

/// Exit 2, exactly one line on stderr, nothing on stdout, no panic. Returns the line.
fn assert_unusable(output: &Output, what: &str) -> String {
    let lines = stderr_lines(output);
    assert_eq!(
        output.status.code(),
        Some(2),
        "{what}: exit code; stderr: {lines:?}"
    );
    assert!(
        !lines.iter().any(|l| l.contains("panicked")),
        "{what}: panicked: {lines:?}"
    );
    assert_eq!(lines.len(), 1, "{what}: one line on stderr, got {lines:?}");
    assert!(
        output.stdout.is_empty(),
        "{what}: nothing on stdout, got {:?}",
        String::from_utf8_lossy(&output.stdout)
    );
    lines[0].clone()
}

/// Exit 0 with one JSON decision.
fn decision(output: &Output, what: &str) -> Value {
    assert_eq!(
        output.status.code(),
        Some(0),
        "{what}: stderr: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap_or_else(|e| panic!("{what}: not JSON: {e}"))
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> String {
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path.to_string_lossy().into_owned()
}

const ALICE: &[u8] = b"From: Alice Martin <alice@acme.example>\nTo: support@vendor.example\n\
Subject: Hello\nMessage-ID: <cli-1@acme.example>\n\nHi\n";

#[test]
fn shipped_example_decides_and_prints_every_documented_key() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(dir.path(), "alice.eml", ALICE);
    let json = decision(&supportgate(&["check", &file]), "default config");
    for key in [
        "verdict", "reason", "account", "agent", "role", "action", "reply",
    ] {
        assert!(json.get(key).is_some(), "key {key} missing: {json}");
    }
    assert_eq!(json["verdict"], "accept");
    assert_eq!(json["reason"], "accepted");
    assert_eq!(json["agent"], "alice@acme.example");
    assert_eq!(json["role"], "owner");
    assert_eq!(json["action"], "forward");
}

#[test]
fn flags_change_the_envelope() {
    let dir = tempfile::tempdir().unwrap();
    let stranger = write(
        dir.path(),
        "stranger.eml",
        b"From: Paul <paul@gmail.example>\nSubject: Hello\n\nHi\n",
    );
    // No account named: unknown-sender, reply to the From address.
    let json = decision(&supportgate(&["check", &stranger]), "no flags");
    assert_eq!(json["reason"], "unknown-sender");
    assert_eq!(json["reply"]["to"], "paul@gmail.example");
    // --rcpt with a +tag names the account.
    let json = decision(
        &supportgate(&["check", "--rcpt", "support+acme@vendor.example", &stranger]),
        "--rcpt",
    );
    assert_eq!(json["reason"], "not-registered");
    assert_eq!(json["account"], "acme");
    assert_eq!(json["reply"]["language"], "fr");
    // --mail-from aligned with the From domain: the reply goes to the envelope sender.
    let json = decision(
        &supportgate(&["check", "--mail-from", "bounces@gmail.example", &stranger]),
        "--mail-from",
    );
    assert_eq!(json["reply"]["to"], "bounces@gmail.example");
    // --mail-from of another domain: never a reply to an address the sender did not
    // authenticate (backscatter); the From address gets it.
    let json = decision(
        &supportgate(&["check", "--mail-from", "bounce@mailer.example", &stranger]),
        "--mail-from",
    );
    assert_eq!(json["reply"]["to"], "paul@gmail.example");
    // --mail-from "<>": no reply, and why.
    let json = decision(
        &supportgate(&["check", "--mail-from", "<>", &stranger]),
        "--mail-from <>",
    );
    assert_eq!(json["reply_suppressed"], "null-reverse-path");
    assert!(
        json.get("reply").is_none(),
        "no reply key when suppressed: {json}"
    );
}

#[test]
fn assume_authenticated_overrides_an_unverified_sender() {
    let dir = tempfile::tempdir().unwrap();
    let config_dir = dir.path().join("config");
    copy_config(&config_dir);
    let config = config_dir.join("supportgate.toml");
    let text = std::fs::read_to_string(&config)
        .unwrap()
        .replace("mode = \"off\"", "mode = \"verify\"");
    std::fs::write(&config, text).unwrap();
    let config = config.to_string_lossy().into_owned();
    let file = write(dir.path(), "alice.eml", ALICE);
    let json = decision(
        &supportgate(&["check", "--config", &config, &file]),
        "verify",
    );
    assert_eq!(json["reason"], "unauthenticated-sender");
    assert_eq!(json["authentication"]["source"], "not-verified");
    let json = decision(
        &supportgate(&[
            "check",
            "--config",
            &config,
            "--assume-authenticated",
            &file,
        ]),
        "verify + --assume-authenticated",
    );
    assert_eq!(json["reason"], "accepted");
    assert_eq!(json["authentication"]["source"], "assumed");
}

/// Copies config/supportgate.toml, directory.toml and templates/ into `to`.
fn copy_config(to: &Path) {
    fn copy_dir(from: &Path, to: &Path) {
        std::fs::create_dir_all(to).unwrap();
        for entry in std::fs::read_dir(from).unwrap() {
            let entry = entry.unwrap();
            let target = to.join(entry.file_name());
            if entry.file_type().unwrap().is_dir() {
                copy_dir(&entry.path(), &target);
            } else {
                std::fs::copy(entry.path(), target).unwrap();
            }
        }
    }
    copy_dir(&Path::new(ROOT).join("config"), to);
}

#[test]
fn unusable_input_is_exit_2_with_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(dir.path(), "alice.eml", ALICE);
    let missing_config = dir.path().join("none.toml");
    let line = assert_unusable(
        &supportgate(&[
            "check",
            "--config",
            &missing_config.to_string_lossy(),
            &file,
        ]),
        "missing --config",
    );
    assert!(line.contains("none.toml"), "names the file: {line}");
    let missing_directory = dir.path().join("nodir.toml");
    let line = assert_unusable(
        &supportgate(&[
            "check",
            "--directory",
            &missing_directory.to_string_lossy(),
            &file,
        ]),
        "missing --directory",
    );
    assert!(line.contains("nodir.toml"), "names the file: {line}");
    let empty = write(dir.path(), "empty.eml", b"");
    let line = assert_unusable(&supportgate(&["check", &empty]), "empty file");
    assert!(line.contains("empty.eml"), "names the file: {line}");
}

#[test]
fn bad_flag_is_exit_2_and_names_the_flag() {
    let output = supportgate(&["check", "--bogus-flag", "x.eml"]);
    assert_eq!(output.status.code(), Some(2));
    let lines = stderr_lines(&output);
    assert!(
        lines.first().is_some_and(|l| l.contains("--bogus-flag")),
        "first line names the flag: {lines:?}"
    );
    assert!(output.stdout.is_empty());
    let output = supportgate(&["check"]);
    assert_eq!(output.status.code(), Some(2), "FILE is required");
}

#[test]
fn bad_flag_is_one_line() {
    // Input: `supportgate check --bogus-flag x.eml`.
    // Expected: exit 2 and one line (e.g. "supportgate check: unexpected argument '--bogus-flag'").
    // Actual: exit 2, stderr "error: unexpected argument ...", a blank line, a "tip:" line,
    // "Usage: ...", "For more information, try '--help'." (src/cli/mod.rs prints clap's error
    // as is).
    assert_unusable(
        &supportgate(&["check", "--bogus-flag", "x.eml"]),
        "bad flag",
    );
}

#[test]
fn directory_syntax_error_is_one_line() {
    // Input: `check --directory D` where D is the single line `[[account]`.
    // Expected: exit 2, one line naming the file, line and column.
    // Actual: exit 2 and 6 lines: "…: TOML parse error at line 1, column 10", then the source
    // snippet with a caret, "invalid table header", "expected `.`, `]]`"
    // (src/directory/load.rs, Directory::from_toml keeps toml's multi-line Display; the
    // configuration loader already flattens the same error to one line).
    let dir = tempfile::tempdir().unwrap();
    let directory = write(dir.path(), "directory.toml", b"[[account]\n");
    let file = write(dir.path(), "alice.eml", ALICE);
    let line = assert_unusable(
        &supportgate(&["check", "--directory", &directory, &file]),
        "broken directory",
    );
    assert!(
        line.contains("directory.toml") && line.contains("line 1"),
        "{line}"
    );
}

/// Templates are no longer read by `Config::load` but once, by `Engine::assemble`: a missing
/// one must still stop `check`, on one line that names the key and the template as
/// `config check` does.
#[test]
fn missing_template_is_one_line_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    copy_config(dir.path());
    std::fs::remove_file(dir.path().join("templates/fr/not-registered.txt")).unwrap();
    let config = dir.path().join("supportgate.toml");
    let file = write(dir.path(), "alice.eml", ALICE);
    let line = assert_unusable(
        &supportgate(&["check", "--config", &config.to_string_lossy(), &file]),
        "missing template",
    );
    assert!(
        line.contains("supportgate.toml: replies.templates: template fr/not-registered: ")
            && line.contains("does not exist"),
        "{line}"
    );
}

#[test]
fn unusable_mail_from_is_an_error() {
    // Input: `check --mail-from garbage` and `check --mail-from '<paul@gmail.example>'` on mail
    // from an unknown sender.
    // Expected: exit 2 "bad --mail-from" (only "<>" means the null path), or for the bracketed
    // form the address without brackets as reply recipient.
    // Actual: exit 0 with "reply_suppressed": "null-reverse-path" for both
    // (src/cli/check.rs passes the string on; src/policy/rules.rs plan_reply turns a failed
    // parse into NullReversePath).
    let dir = tempfile::tempdir().unwrap();
    let file = write(
        dir.path(),
        "stranger.eml",
        b"From: Paul <paul@gmail.example>\nSubject: Hello\n\nHi\n",
    );
    assert_unusable(
        &supportgate(&["check", "--mail-from", "garbage", &file]),
        "--mail-from garbage",
    );
    let output = supportgate(&["check", "--mail-from", "<paul@gmail.example>", &file]);
    if output.status.code() == Some(0) {
        let json = decision(&output, "--mail-from <addr>");
        assert_eq!(json["reply"]["to"], "paul@gmail.example", "{json}");
    } else {
        assert_unusable(&output, "--mail-from <addr>");
    }
}

#[test]
fn own_support_address_with_tag_gets_no_reply() {
    // Input: From: support+acme@vendor.example, Subject: loop (shipped config).
    // Expected (SPEC §5 "never reply when the sender is the gateway's own address"; the
    // gateway accepts support+TAG@ as its own recipient): reply_suppressed "own-address".
    // Actual: reason unknown-sender, reply to support+acme@vendor.example — a reply sent into
    // our own support mailbox. `support@vendor.example` itself is suppressed (sample 131): the
    // own-address check (src/policy/suppression.rs, own_addresses built in src/config/mod.rs)
    // compares the whole address, tag included.
    let dir = tempfile::tempdir().unwrap();
    let file = write(
        dir.path(),
        "loop.eml",
        b"From: Vendor <support+acme@vendor.example>\nSubject: loop\n\nx\n",
    );
    let json = decision(&supportgate(&["check", &file]), "own tagged address");
    assert_eq!(json["reply_suppressed"], "own-address", "{json}");
}

#[test]
fn raw_latin1_subject_still_matches_p4() {
    // Input: From: chloe@acme.example (an agent), Subject bytes "S\xe9curit\xe9 du compte"
    // (8-bit ISO-8859-1, not RFC 2047-encoded, as old French mailers send).
    // Expected: authorization-required, category security-settings (the same words encoded
    // as =?ISO-8859-1?Q?...?= do match: sample 142).
    // Actual: accepted and forwarded — the Subject reads "S\u{FFFD}curit\u{FFFD} du compte"
    // (src/policy/facts.rs takes mail-parser's lossy UTF-8 value), so neither "securite" nor
    // "sécurité" matches; the reply Subject to an unknown sender shows the same U+FFFD.
    // A Latin-1/Windows-1252 fallback for header bytes that are not UTF-8 would fix both.
    let dir = tempfile::tempdir().unwrap();
    let file = write(
        dir.path(),
        "latin1.eml",
        b"From: Chloe <chloe@acme.example>\nSubject: S\xe9curit\xe9 du compte\n\nBonjour\n",
    );
    let json = decision(&supportgate(&["check", &file]), "latin-1 subject");
    assert_eq!(json["reason"], "authorization-required", "{json}");
    assert_eq!(json["category"], "security-settings", "{json}");
}

/// Runs supportgate with a stdout whose reader is already gone, as in `check FILE | head -0`.
fn supportgate_to_closed_pipe(args: &[&str]) -> Output {
    let (reader, writer) = std::io::pipe().expect("pipe");
    drop(reader);
    Command::new(env!("CARGO_BIN_EXE_supportgate"))
        .current_dir(ROOT)
        .args(args)
        .stdout(writer)
        .stderr(std::process::Stdio::piped())
        .output()
        .expect("run supportgate")
}

#[test]
fn a_reader_that_went_away_is_no_panic() {
    // Input: `supportgate check FILE | head -1` where head has exited (a closed pipe).
    // Expected: the decision is made, the output ends quietly, exit 0. Was: println! panicked
    // ("failed printing to stdout: Broken pipe"), exit 101.
    let dir = tempfile::tempdir().unwrap();
    let file = write(dir.path(), "alice.eml", ALICE);
    let output = supportgate_to_closed_pipe(&["check", &file]);
    let lines = stderr_lines(&output);
    assert!(
        !lines.iter().any(|l| l.contains("panicked")),
        "panicked: {lines:?}"
    );
    assert_eq!(output.status.code(), Some(0), "{lines:?}");
    assert!(lines.is_empty(), "nothing to say on stderr: {lines:?}");
}

/// Issue 10 §6: `check` with recipients of two accounts decided once for all, where `serve`
/// decides once per account. Now one JSON object per line, each with its recipients.
#[test]
fn several_accounts_get_one_decision_each_like_serve() {
    let dir = tempfile::tempdir().unwrap();
    let hank = write(
        dir.path(),
        "hank.eml",
        b"From: Hank <hank@globex.example>\nSubject: Printer\n\nHi\n",
    );
    let output = supportgate(&[
        "check",
        "--rcpt",
        "support+acme@vendor.example",
        "--rcpt",
        "support+globex@vendor.example",
        &hank,
    ]);
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    assert_eq!(lines.len(), 2, "{text}");
    let by_account = |id: &str| {
        lines
            .iter()
            .find(|d| d["account"] == id)
            .unwrap_or_else(|| panic!("no decision for {id}: {text}"))
    };
    assert_eq!(by_account("acme")["reason"], "not-registered");
    assert_eq!(
        by_account("acme")["recipients"][0],
        "support+acme@vendor.example"
    );
    assert_eq!(by_account("globex")["reason"], "accepted");
}

/// Issue 10 §6: a quoted local part that is a plain dot-atom is the same mailbox
/// (`"alice"@acme.example` is Alice, the owner); before, she was a stranger.
#[test]
fn a_quoted_local_part_is_the_same_mailbox() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(
        dir.path(),
        "quoted.eml",
        b"From: Alice <\"alice\"@acme.example>\nSubject: Import\n\nHi\n",
    );
    let json = decision(&supportgate(&["check", &file]), "quoted");
    assert_eq!(json["reason"], "accepted", "{json}");
    assert_eq!(json["agent"], "alice@acme.example");
}

/// Issue 10 §6: no auto-reply to our own addresses — a per-account mailbox, a support address
/// with a tag — or to a mail system with a tag (`MAILER-DAEMON+x@`).
#[test]
fn no_auto_reply_to_our_own_mailboxes_or_tagged_mail_systems() {
    let dir = tempfile::tempdir().unwrap();
    for (from, why) in [
        ("acme@support.vendor.example", "own-address"),
        ("support+acme@vendor.example", "own-address"),
        ("MAILER-DAEMON+bounce@else.example", "system-sender"),
    ] {
        let file = write(
            dir.path(),
            "own.eml",
            format!("From: <{from}>\nSubject: Hello\n\nHi\n").as_bytes(),
        );
        let json = decision(&supportgate(&["check", "--mail-from", from, &file]), from);
        assert_eq!(json["reply_suppressed"], why, "{from}: {json}");
        assert!(json.get("reply").is_none(), "{from}: {json}");
    }
}
