//! Golden samples: every `samples/NNN-name.eml` is decided by the real binary
//! (`supportgate check`) and the JSON it prints must equal `samples/NNN-name.json`.
//!
//! Flags come from `samples/NNN-name.args` (one argument per line) when it exists. The
//! configuration is `config/supportgate.toml` unless the `.args` names another `--config`; the
//! directory is always `samples/directory.toml`. On a mismatch the actual output is written to
//! `samples/NNN-name.failed` (compare, and if the new output is right after reading it against
//! the SPEC, copy it over the `.json`); a stale `.failed` is removed when the case passes.

use std::path::{Path, PathBuf};
use std::process::Command;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

fn samples_dir() -> PathBuf {
    Path::new(ROOT).join("samples")
}

/// The flags of a sample: one argument per line, blank lines ignored.
fn read_args(eml: &Path) -> Vec<String> {
    let path = eml.with_extension("args");
    match std::fs::read_to_string(&path) {
        Ok(text) => text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(str::to_string)
            .collect(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(e) => panic!("{}: {e}", path.display()),
    }
}

/// Runs `check` on one sample; Err describes why the case fails.
fn run_case(eml: &Path) -> Result<(), String> {
    let name = eml.file_stem().unwrap().to_string_lossy().to_string();
    let expected_path = eml.with_extension("json");
    let failed_path = eml.with_extension("failed");
    let extra = read_args(eml);
    let mut command = Command::new(env!("CARGO_BIN_EXE_supportgate"));
    command.current_dir(ROOT).arg("check");
    if !extra.iter().any(|a| a == "--config") {
        command.args(["--config", "config/supportgate.toml"]);
    }
    command
        .args(["--directory", "samples/directory.toml"])
        .args(&extra)
        .arg(eml);
    let output = command
        .output()
        .map_err(|e| format!("{name}: cannot run supportgate: {e}"))?;
    let stdout = String::from_utf8_lossy(&output.stdout).to_string();
    let stderr = String::from_utf8_lossy(&output.stderr).to_string();
    let fail = |why: String| {
        let _ = std::fs::write(&failed_path, &stdout);
        Err(format!("{name}: {why}"))
    };
    if !output.status.success() {
        return fail(format!(
            "exit {:?}, stderr: {}",
            output.status.code(),
            stderr.trim()
        ));
    }
    let actual: serde_json::Value = match serde_json::from_str(&stdout) {
        Ok(v) => v,
        Err(e) => return fail(format!("output is not JSON: {e}")),
    };
    let expected_text = match std::fs::read_to_string(&expected_path) {
        Ok(t) => t,
        Err(e) => return fail(format!("{}: {e}", expected_path.display())),
    };
    let expected: serde_json::Value = serde_json::from_str(&expected_text)
        .map_err(|e| format!("{name}: {} is not JSON: {e}", expected_path.display()))?;
    if actual != expected {
        return fail(format!(
            "output differs from {} (actual in {})",
            expected_path.display(),
            failed_path.display()
        ));
    }
    if failed_path.exists() {
        let _ = std::fs::remove_file(&failed_path);
    }
    Ok(())
}

#[test]
fn golden_samples() {
    let mut samples: Vec<PathBuf> = std::fs::read_dir(samples_dir())
        .expect("samples/ exists")
        .map(|e| e.expect("readable samples/ entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "eml"))
        .collect();
    samples.sort();
    let mut failures = Vec::new();
    for eml in &samples {
        if let Err(why) = run_case(eml) {
            failures.push(why);
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} golden samples failed:\n{}",
        failures.len(),
        samples.len(),
        failures.join("\n")
    );
    assert!(
        samples.len() > 40,
        "only {} golden samples ran; expected more than 40",
        samples.len()
    );
}

/// Every `.json` and `.args` belongs to an `.eml`: a renamed sample does not leave an
/// expectation that is never checked.
#[test]
fn no_orphan_expectations() {
    let mut orphans = Vec::new();
    for entry in std::fs::read_dir(samples_dir()).expect("samples/ exists") {
        let path = entry.expect("readable samples/ entry").path();
        let is_case_file = path.extension().is_some_and(|e| e == "json" || e == "args");
        if is_case_file && !path.with_extension("eml").exists() {
            orphans.push(path.display().to_string());
        }
    }
    assert!(orphans.is_empty(), "files without a .eml: {orphans:?}");
}
