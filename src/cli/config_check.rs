//! `supportgate config check`: every problem with file, key and reason; or a one-line summary.

use super::output::Stdout;
use crate::config::Config;
use crate::directory::Directory;
use std::path::Path;
use std::process::ExitCode;

pub fn run(path: &Path) -> ExitCode {
    let config = match Config::load(path) {
        Ok(config) => config,
        Err(problems) => {
            for problem in &problems {
                eprintln!("{problem}");
            }
            eprintln!("{}: {} problem(s)", path.display(), problems.len());
            return ExitCode::from(1);
        }
    };
    let directory = match Directory::load(&config.directory_path, &config.address_rules) {
        Ok(directory) => directory,
        Err(e) => {
            eprintln!("{}: directory.path: {e}", path.display());
            return ExitCode::from(1);
        }
    };
    let mut stdout = Stdout::lock();
    stdout.line(format_args!(
        "{}: ok — {} listener(s), {} support address(es), directory {} ({} accounts, {} agents, {} lint finding(s)), authentication {}, {} P4 categories",
        path.display(),
        config.server.listen.len(),
        config.support_addresses.len(),
        config.directory_path.display(),
        directory.accounts().len(),
        directory.agent_count(),
        directory.findings().len(),
        config.authentication.mode.as_str(),
        config.policy.categories.len(),
    ));
    stdout.finish(ExitCode::SUCCESS)
}
