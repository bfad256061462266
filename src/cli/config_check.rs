//! `supportgate config check`: every problem with file, key and reason; or a one-line summary.

use super::output::Stdout;
use crate::config::{Config, ConfigProblem};
use crate::directory::Directory;
use crate::reply::Templates;
use std::path::Path;
use std::process::ExitCode;

pub fn run(path: &Path) -> ExitCode {
    let config = match Config::load(path) {
        Ok(config) => config,
        Err(problems) => return refuse(path, &problems),
    };
    // Read here once, as the engine does when it starts; `Config::load` leaves them to us.
    if let Err(problems) = Templates::load(&config.replies) {
        return refuse(path, &config.template_problems(problems));
    }
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

/// Every problem on its own line, then how many. A reader that goes away (`2>&1 | head -1`)
/// only ends the list: `eprintln!` would panic on the closed pipe.
fn refuse(path: &Path, problems: &[ConfigProblem]) -> ExitCode {
    use std::io::Write;
    let mut stderr = std::io::stderr().lock();
    for problem in problems {
        if writeln!(stderr, "{problem}").is_err() {
            return ExitCode::from(1);
        }
    }
    let _ = writeln!(stderr, "{}: {} problem(s)", path.display(), problems.len());
    ExitCode::from(1)
}
