//! `supportgate config check`: every problem with file, key and reason; or a one-line summary.
//!
//! Besides what `Config::load` validates, the `[server.tls]` certificate and key are loaded as
//! `serve` loads them, and each listener (`server.listen`, `metrics.listen`, a
//! TCP `milter.listen`) is
//! bound for a moment, as `serve` would bind it: an address this host does not have, or a
//! port another program holds, is a problem (`cannot listen on X: …`). Two cases are notes
//! on stderr that leave the exit code 0: a port below 1024 without the privilege to bind it
//! (the packaged `supportgate.socket` binds port 25 for the service, which runs without
//! privileges), and a port held by the running supportgate named in `[server] pid_file`.

use super::config_location::ConfigLocation;
use super::output::Stdout;
use crate::config::{Config, ConfigProblem, DirectorySource};
use crate::reply::Templates;
use std::io::ErrorKind;
use std::net::SocketAddr;
use std::path::Path;
use std::process::ExitCode;

pub fn run(location: &ConfigLocation) -> ExitCode {
    let path = location.path();
    let config = match location.load() {
        Ok(config) => config,
        Err(problems) => return refuse(path, &problems, &[]),
    };
    // Read here once, as the engine does when it starts; `Config::load` leaves them to us.
    if let Err(problems) = Templates::load(&config.replies) {
        return refuse(path, &config.template_problems(problems), &[]);
    }
    let directory = match crate::pipeline::load_directory(&config) {
        Ok(directory) => directory,
        Err(e) => {
            let key = match config.directory_source {
                DirectorySource::File => "directory.path",
                DirectorySource::Postgres(_) => "directory.url",
            };
            eprintln!("{}: {key}: {e}", path.display());
            return ExitCode::from(1);
        }
    };
    let (mut problems, notes) = try_listeners(&config);
    problems.extend(try_tls(&config));
    if !problems.is_empty() {
        return refuse(path, &problems, &notes);
    }
    for note in &notes {
        eprintln!("{note}");
    }
    let mut stdout = Stdout::lock();
    stdout.line(format_args!(
        "{}: ok — {} listener(s), {} support address(es), directory {} ({} accounts, {} agents, {} lint finding(s)), authentication {}, {} P4 categories",
        path.display(),
        config.server.listen.len(),
        config.support_addresses.len(),
        directory_name(&config),
        directory.account_count(),
        directory.agent_count(),
        directory.findings().len(),
        config.authentication.mode.as_str(),
        config.policy.categories.len(),
    ));
    stdout.finish(ExitCode::SUCCESS)
}

/// The directory as the report names it: its file, or its database (never the password).
pub(super) fn directory_name(config: &Config) -> String {
    match &config.directory_source {
        DirectorySource::File => config.directory_path.display().to_string(),
        DirectorySource::Postgres(settings) => settings.redacted_url(),
    }
}

/// Binds each listener for a moment. Returns the problems (`serve` could not start) and the
/// notes (see the module's documentation).
fn try_listeners(config: &Config) -> (Vec<ConfigProblem>, Vec<String>) {
    let file = config.path.display().to_string();
    let running = config
        .server
        .pid_file
        .as_deref()
        .and_then(super::queue::running_server);
    let listeners = config
        .server
        .listen
        .iter()
        .map(|&a| ("server.listen", a))
        .chain(config.metrics_listen.map(|a| ("metrics.listen", a)))
        .chain(match &config.milter.listen {
            Some(crate::milter::MilterAddress::Inet(a)) => Some(("milter.listen", *a)),
            _ => None,
        });
    let (mut problems, mut notes) = (Vec::new(), Vec::new());
    for (key, address) in listeners {
        match try_bind(address, running) {
            Tried::Bound => {}
            Tried::Note(note) => notes.push(format!("{file}: {key}: {note}")),
            Tried::Problem(message) => problems.push(ConfigProblem {
                file: file.clone(),
                key: key.to_string(),
                message,
            }),
        }
    }
    (problems, notes)
}

/// Loads `[server.tls]` as `serve` would: a certificate or key that does not parse, or a pair
/// that does not match, is a problem naming the files.
fn try_tls(config: &Config) -> Option<ConfigProblem> {
    let (certificate, key) = config.server.tls.as_ref()?;
    let error = crate::smtp::load_tls_config(certificate, key).err()?;
    let message = match error {
        crate::smtp::TlsError::Rustls(e) => format!(
            "certificate {} and key {} do not load together: {e}",
            certificate.display(),
            key.display()
        ),
        other => other.to_string(),
    };
    Some(ConfigProblem {
        file: config.path.display().to_string(),
        key: "server.tls".into(),
        message,
    })
}

enum Tried {
    Bound,
    Note(String),
    Problem(String),
}

fn try_bind(address: SocketAddr, running: Option<u32>) -> Tried {
    let error = match crate::smtp::listener::bind(address) {
        Ok(_) => return Tried::Bound,
        Err(e) => e,
    };
    match (error.kind(), running) {
        (ErrorKind::PermissionDenied, _) if address.port() < 1024 => Tried::Note(format!(
            "{address}: not tried: a port below 1024 needs root or CAP_NET_BIND_SERVICE \
             (under systemd, supportgate.socket binds it for the service)"
        )),
        (ErrorKind::AddrInUse, Some(pid)) => Tried::Note(format!(
            "{address} is in use, presumably by the running supportgate (process {pid}); \
             a changed listener takes effect when it restarts"
        )),
        _ => Tried::Problem(format!("cannot listen on {address}: {error}")),
    }
}

/// Every problem on its own line (and the notes), then how many. A reader that goes away
/// (`2>&1 | head -1`) only ends the list: `eprintln!` would panic on the closed pipe.
fn refuse(path: &Path, problems: &[ConfigProblem], notes: &[String]) -> ExitCode {
    use std::io::Write;
    let mut stderr = std::io::stderr().lock();
    for problem in problems {
        if writeln!(stderr, "{problem}").is_err() {
            return ExitCode::from(1);
        }
    }
    for note in notes {
        if writeln!(stderr, "{note}").is_err() {
            return ExitCode::from(1);
        }
    }
    let _ = writeln!(stderr, "{}: {} problem(s)", path.display(), problems.len());
    ExitCode::from(1)
}
