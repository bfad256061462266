//! `config_parser`: arbitrary text → `Config::from_toml`.
//!
//! Invariants: no panic; a refusal lists at least one problem, each naming the file and saying
//! something, on one line (`config check` prints one problem per line); an accepted text has a support
//! address (the engine names the first one in replies) and is accepted again.

use std::path::Path;

use supportgate::config::Config;

pub fn check(input: &[u8]) {
    let text = String::from_utf8_lossy(input);
    // A path whose folder does not exist: relative paths resolve against it, nothing is read.
    let path = Path::new("/nonexistent/supportgate-fuzz/supportgate.toml");
    match Config::from_toml(&text, path) {
        Ok(config) => {
            assert!(
                !config.support_addresses.is_empty(),
                "accepted without a support address"
            );
            assert!(
                Config::from_toml(&text, path).is_ok(),
                "accepted once, refused the second time"
            );
        }
        Err(problems) => {
            assert!(!problems.is_empty(), "refused without a problem");
            for problem in &problems {
                assert_eq!(problem.file, path.display().to_string());
                assert!(
                    !problem.message.trim().is_empty(),
                    "empty problem: {problem:?}"
                );
                let line = problem.to_string();
                assert!(
                    !line.contains(['\n', '\r']),
                    "problem on several lines: {line:?}"
                );
            }
        }
    }
}
