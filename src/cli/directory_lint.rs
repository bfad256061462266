//! `supportgate directory lint`: one line per finding, exit 1 if there is any error.

use super::config_location::ConfigLocation;
use super::output::Stdout;
use crate::directory::{Directory, Severity};
use std::path::Path;
use std::process::ExitCode;

pub fn run(location: &ConfigLocation, directory_path: Option<&Path>) -> ExitCode {
    let config = match location.load() {
        Ok(config) => config,
        Err(problems) => {
            for problem in &problems {
                eprintln!("{problem}");
            }
            return ExitCode::from(super::EXIT_UNUSABLE);
        }
    };
    // An explicit file wins; otherwise the configured source, file or database.
    let (name, loaded) = match directory_path {
        Some(path) => (
            path.display().to_string(),
            Directory::load(path, &config.address_rules).map_err(|e| e.to_string()),
        ),
        None => (
            super::config_check::directory_name(&config),
            crate::pipeline::load_directory(&config).map_err(|e| e.to_string()),
        ),
    };
    let directory = match loaded {
        Ok(directory) => directory,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(super::EXIT_UNUSABLE);
        }
    };
    let mut stdout = Stdout::lock();
    for finding in directory.findings() {
        if !stdout.line(format_args!("{name}: {finding}")) {
            break;
        }
    }
    let errors = directory
        .findings()
        .iter()
        .filter(|f| f.severity == Severity::Error)
        .count();
    stdout.line(format_args!(
        "{name}: {} accounts, {} agents, {} error(s), {} warning(s)",
        directory.account_count(),
        directory.agent_count(),
        errors,
        directory.findings().len() - errors
    ));
    stdout.finish(if errors > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}
