//! Robustness of `supportgate check` on mail nobody wrote for us: the shared corpus
//! (`../shared/corpus`, real and malformed messages from mail-parser's test suite) and hostile
//! inputs generated here.
//!
//! The contract (SPEC §9): exit 0 with one JSON decision (`verdict`, `reason`), or exit 2 with
//! exactly one line on stderr. Never another exit code, never a panic.

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

const REASONS: [&str; 10] = [
    "accepted",
    "not-registered",
    "unknown-sender",
    "helpdesk-address",
    "group-address",
    "authorization-required",
    "shared-address",
    "unauthenticated-sender",
    "malformed-sender",
    "ambiguous-account",
];

/// `../shared/corpus` beside the checkout (CI), else `/work/shared/corpus`.
fn corpus_dir() -> PathBuf {
    let beside = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/corpus"));
    let fallback = Path::new("/work/shared/corpus");
    for candidate in [beside, fallback] {
        if candidate.is_dir() {
            return candidate.to_path_buf();
        }
    }
    panic!(
        "corpus not found: neither {} nor {} is a directory (CI clones the shared repository \
         beside this one)",
        beside.display(),
        fallback.display()
    );
}

/// Every regular file under `dir`, recursively, except licences and read-mes.
fn corpus_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("readable corpus entry").path())
        .collect();
    entries.sort();
    for path in entries {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().to_ascii_uppercase())
            .unwrap_or_default();
        if path.is_dir() {
            corpus_files(&path, out);
        } else if path.is_file() && !name.starts_with("LICENSE") && !name.starts_with("README") {
            out.push(path);
        }
    }
}

fn check(file: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_supportgate"))
        .current_dir(ROOT)
        .args(["check", "--config", "config/supportgate.toml"])
        .arg(file)
        .output()
        .expect("run supportgate")
}

/// What `check` did with one input.
#[derive(Debug, PartialEq)]
enum Outcome {
    /// Exit 0: the reason code.
    Decision(String),
    /// Exit 2: the one-line error.
    Unusable(String),
}

/// Checks the exit-code contract; Err says how it was broken.
fn outcome(file: &Path, output: &Output) -> Result<Outcome, String> {
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    let name = file.display();
    if stderr.contains("panicked") || stdout.contains("panicked") {
        return Err(format!("{name}: panicked: {}", stderr.trim()));
    }
    match output.status.code() {
        Some(0) => {
            let json: Value = serde_json::from_str(&stdout)
                .map_err(|e| format!("{name}: exit 0 but output is not JSON: {e}"))?;
            let verdict = json["verdict"].as_str().unwrap_or_default();
            let reason = json["reason"].as_str().unwrap_or_default();
            if !matches!(verdict, "accept" | "refuse") {
                return Err(format!("{name}: verdict {:?}", json["verdict"]));
            }
            if !REASONS.contains(&reason) {
                return Err(format!("{name}: reason {:?}", json["reason"]));
            }
            if (verdict == "accept") != (reason == "accepted") {
                return Err(format!("{name}: verdict {verdict} with reason {reason}"));
            }
            Ok(Outcome::Decision(reason.to_string()))
        }
        Some(2) => {
            let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
            if lines.len() != 1 {
                return Err(format!(
                    "{name}: exit 2 with {} stderr lines: {stderr:?}",
                    lines.len()
                ));
            }
            if !stdout.trim().is_empty() {
                return Err(format!("{name}: exit 2 but printed {stdout:?}"));
            }
            Ok(Outcome::Unusable(lines[0].to_string()))
        }
        code => Err(format!(
            "{name}: exit {code:?} (expected 0 or 2); stderr: {}",
            stderr.trim()
        )),
    }
}

#[test]
fn every_corpus_file_gets_a_decision_or_a_one_line_error() {
    let dir = corpus_dir();
    let mut files = Vec::new();
    corpus_files(&dir, &mut files);
    let mut failures = Vec::new();
    let mut decisions = 0;
    for file in &files {
        match outcome(file, &check(file)) {
            Ok(Outcome::Decision(_)) => decisions += 1,
            Ok(Outcome::Unusable(_)) => {}
            Err(why) => failures.push(why),
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} corpus files broke the contract:\n{}",
        failures.len(),
        files.len(),
        failures.join("\n")
    );
    assert!(
        files.len() > 50,
        "only {} corpus files under {}; expected more than 50",
        files.len(),
        dir.display()
    );
    // The corpus is mostly real mail: nearly all of it must be decided, not refused as input.
    assert!(
        decisions * 2 > files.len(),
        "only {decisions} of {} corpus files got a decision",
        files.len()
    );
}

/// Writes `bytes` to `name` in `dir` and runs `check` on it.
fn run_generated(dir: &Path, name: &str, bytes: &[u8]) -> Result<Outcome, String> {
    let path = dir.join(name);
    std::fs::write(&path, bytes).expect("write generated input");
    outcome(&path, &check(&path))
}

fn decision(dir: &Path, name: &str, bytes: &[u8]) -> String {
    match run_generated(dir, name, bytes) {
        Ok(Outcome::Decision(reason)) => reason,
        other => panic!("{name}: expected a decision, got {other:?}"),
    }
}

fn unusable(dir: &Path, name: &str, bytes: &[u8]) -> String {
    match run_generated(dir, name, bytes) {
        Ok(Outcome::Unusable(line)) => line,
        other => panic!("{name}: expected exit 2, got {other:?}"),
    }
}

#[test]
fn latin1_header_bytes_get_a_decision() {
    let dir = tempfile::tempdir().unwrap();
    let message = b"From: Chlo\xe9 Bernard <chloe@acme.example>\n\
        Subject: Probl\xe8me d'acc\xe8s\n\
        To: support@vendor.example\n\n\
        Bonjour, \xe7a ne marche pas.\n";
    assert_eq!(decision(dir.path(), "latin1.eml", message), "accepted");
}

#[test]
fn header_only_message_without_blank_line_gets_a_decision() {
    let dir = tempfile::tempdir().unwrap();
    let message = b"From: Alice <alice@acme.example>\r\nSubject: only headers";
    assert_eq!(
        decision(dir.path(), "headers-only.eml", message),
        "accepted"
    );
}

#[test]
fn two_from_mailboxes_and_group_syntax_are_malformed() {
    let dir = tempfile::tempdir().unwrap();
    let two = b"From: alice@acme.example, bruno@acme.example\nSubject: x\n\nbody\n";
    let group = b"From: Team: a@x.example, b@y.example;\nSubject: x\n\nbody\n";
    let empty_group = b"From: undisclosed-recipients:;\nSubject: x\n\nbody\n";
    assert_eq!(decision(dir.path(), "two.eml", two), "malformed-sender");
    assert_eq!(decision(dir.path(), "group.eml", group), "malformed-sender");
    assert_eq!(
        decision(dir.path(), "empty-group.eml", empty_group),
        "malformed-sender"
    );
}

#[test]
fn ten_megabyte_subject_is_decided_in_reasonable_time() {
    let dir = tempfile::tempdir().unwrap();
    let mut message = b"From: Chloe <chloe@acme.example>\nSubject: ".to_vec();
    message.extend(std::iter::repeat_n(b'a', 10 * 1024 * 1024));
    message.extend_from_slice(b" facture\n\nbody\n");
    let path = dir.path().join("big-subject.eml");
    std::fs::write(&path, &message).unwrap();
    let started = Instant::now();
    let output = check(&path);
    let took = started.elapsed();
    let result = outcome(&path, &output);
    assert!(
        matches!(result, Ok(Outcome::Decision(_))),
        "expected a decision, got {result:?}"
    );
    // Debug build on a shared machine: generous, but a quadratic scan would blow it.
    assert!(
        took < Duration::from_secs(30),
        "10 MB Subject took {took:?}"
    );
    // The reply quotes the subject: it must be bounded, not 10 MB.
    assert!(
        output.stdout.len() < 100_000,
        "check printed {} bytes for a 10 MB Subject",
        output.stdout.len()
    );
}

#[test]
fn empty_and_blank_files_are_unusable() {
    let dir = tempfile::tempdir().unwrap();
    unusable(dir.path(), "empty.eml", b"");
    unusable(dir.path(), "blank.eml", b"\r\n\r\n  \n");
}

/// Random bytes: either exit 2 (not a message) or a decision is acceptable; both are
/// checked by `outcome`. What is not acceptable is a crash or another exit code.
#[test]
fn random_bytes_never_crash() {
    let dir = tempfile::tempdir().unwrap();
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = move || {
        // xorshift64*: deterministic, so a failure reproduces.
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        (state.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 56) as u8
    };
    for (i, size) in [1usize, 7, 64, 512, 4096, 65_536].into_iter().enumerate() {
        let bytes: Vec<u8> = (0..size).map(|_| next()).collect();
        let name = format!("random-{i}.bin");
        if let Err(why) = run_generated(dir.path(), &name, &bytes) {
            panic!("{why}");
        }
    }
    // Binary that starts like a header: still no crash.
    let mut tricky = b"From: alice@acme.example\nSubject: \x00\xff\xfe".to_vec();
    tricky.extend((0..2048).map(|_| next()));
    if let Err(why) = run_generated(dir.path(), "tricky.bin", &tricky) {
        panic!("{why}");
    }
}

#[test]
fn directory_and_missing_file_are_unusable() {
    let dir = tempfile::tempdir().unwrap();
    let as_dir = outcome(dir.path(), &check(dir.path()));
    assert!(
        matches!(as_dir, Ok(Outcome::Unusable(_))),
        "a directory as FILE: {as_dir:?}"
    );
    let missing = dir.path().join("no-such.eml");
    match outcome(&missing, &check(&missing)) {
        Ok(Outcome::Unusable(line)) => assert!(
            line.contains("no-such.eml"),
            "the error names the file: {line}"
        ),
        other => panic!("a missing file: {other:?}"),
    }
}
