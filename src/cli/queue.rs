//! `supportgate queue list|show|flush|delete`: the spool, for administrators (issue 6).
//! Exit 0 on success, 1 when the message does not exist (or the server could not be told),
//! 2 on unusable input.

use super::output::Stdout;
use crate::config::Config;
use crate::store::spool::{Spool, SpoolEntry, SpoolError};
use clap::{Args, Subcommand};
use std::process::ExitCode;

#[derive(Debug, Args)]
pub struct QueueArgs {
    #[command(flatten)]
    config: super::config_location::ConfigArg,
    #[command(subcommand)]
    command: QueueCommand,
}

#[derive(Debug, Subcommand)]
enum QueueCommand {
    /// List messages waiting for the ticket queue, oldest first.
    #[command(after_help = "Examples:\n  supportgate queue list\n  supportgate queue list --json")]
    List {
        /// One JSON object per line instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Show one waiting message: its record, then its bytes.
    #[command(after_help = "Example:\n  supportgate queue show 0067A1B2C3D4E5F6")]
    Show { id: String },
    /// Ask the running server (`[server] pid_file`, SIGUSR1) to attempt everything now.
    #[command(after_help = "Example:\n  supportgate queue flush")]
    Flush,
    /// Delete a waiting message for good (it is not delivered). A running server reads the
    /// deletion within 5 seconds (at once with `queue flush`); one already on its way to the
    /// ticket queue may still arrive.
    #[command(after_help = "Example:\n  supportgate queue delete 0067A1B2C3D4E5F6")]
    Delete { id: String },
}

fn fail(error: &SpoolError) -> ExitCode {
    eprintln!("supportgate queue: {error}");
    match error {
        SpoolError::NotFound(_) => ExitCode::from(1),
        _ => ExitCode::from(super::EXIT_UNUSABLE),
    }
}

pub fn run(args: QueueArgs) -> ExitCode {
    let config = match args.config.load_or_exit() {
        Ok(config) => config,
        Err(code) => return code,
    };
    let spool = Spool::new(&config.spool.path);
    match args.command {
        QueueCommand::List { json } => list(&config, &spool, json),
        QueueCommand::Show { id } => match spool.read(&id) {
            Ok((entry, message)) => {
                let mut stdout = Stdout::lock();
                stdout.line(serde_json::to_string_pretty(&entry).unwrap_or_default());
                stdout.line("");
                stdout.text(String::from_utf8_lossy(&message));
                stdout.finish(ExitCode::SUCCESS)
            }
            Err(e) => fail(&e),
        },
        QueueCommand::Flush => flush(&config),
        QueueCommand::Delete { id } => {
            let entry = match spool.entry(&id) {
                Ok(entry) => entry,
                Err(e) => return fail(&e),
            };
            match spool.remove(&id) {
                Ok(()) => {
                    println!("deleted {}", summary_line(&entry));
                    ExitCode::SUCCESS
                }
                Err(e) => fail(&e),
            }
        }
    }
}

fn list(config: &Config, spool: &Spool, json: bool) -> ExitCode {
    let entries = match spool.list() {
        Ok(entries) => entries,
        Err(e) => return fail(&e),
    };
    // Like Postfix's `mailq`: an empty listing says so (not with --json, which scripts read).
    if entries.is_empty() && !json {
        println!("{}", empty_spool(config));
        return ExitCode::SUCCESS;
    }
    let entries = entries.into_iter().map(Ok::<_, SpoolError>);
    super::output::list_records("queue", entries, |_| true, json, summary_line)
}

/// What `queue list` prints for an empty spool.
fn empty_spool(config: &Config) -> String {
    let path = config.spool.path.display();
    if config.spool.enabled {
        format!("the spool {path} is empty: nothing waits for delivery")
    } else {
        format!(
            "the spool {path} is empty: nothing waits for delivery \
             ([spool] enabled = false: tickets are forwarded at once, only auto-replies, \
             notifications and releases wait here)"
        )
    }
}

/// One row; everything that came from the message or the upstream is escaped.
fn summary_line(entry: &SpoolEntry) -> String {
    use crate::printable::one_line;
    let subject = super::output::short_subject(entry.subject.as_deref());
    format!(
        "{}{}  received {}  attempts {}  next {}  from <{}> to {}  {}{}",
        entry.id,
        match entry.purpose {
            crate::store::spool::Purpose::Ticket => String::new(),
            ref other => format!(" ({})", other.as_str()),
        },
        super::output::rfc3339(entry.received_at),
        entry.attempts,
        super::output::rfc3339(entry.next_attempt),
        one_line(entry.mail_from.as_deref().unwrap_or("")),
        one_line(&entry.recipients.join(",")),
        one_line(&subject),
        entry
            .last_answer
            .as_deref()
            .map(|a| format!("  [last answer: {}]", one_line(a)))
            .unwrap_or_default()
    )
}

/// SIGUSR1 to the server named in `[server] pid_file`. Without a running server there is
/// nothing to do: at its next start it attempts everything in the spool anyway.
fn flush(config: &Config) -> ExitCode {
    let waiting = Spool::new(&config.spool.path).list().map_or(0, |l| l.len());
    match signal_server(config) {
        Ok(pid) => {
            println!("flush requested from process {pid}: {waiting} message(s) waiting");
            ExitCode::SUCCESS
        }
        Err(NotSignalled::NoPidFile) => {
            eprintln!("supportgate queue flush: server.pid_file is not set; the server attempts everything at its next start");
            ExitCode::from(super::EXIT_UNUSABLE)
        }
        Err(e) => {
            eprintln!("supportgate queue flush: {e}");
            ExitCode::from(1)
        }
    }
}

/// Why the running server was not asked to flush.
#[derive(Debug, thiserror::Error)]
pub(super) enum NotSignalled {
    #[error("server.pid_file is not set")]
    NoPidFile,
    #[error("no running supportgate in {0}; the server attempts everything at its next start")]
    NotRunning(String),
    #[error("{0}")]
    Kill(String),
}

/// SIGUSR1 to the supportgate named in `[server] pid_file`: its spool delivery attempts
/// everything now. Returns its process id.
pub(super) fn signal_server(config: &Config) -> Result<u32, NotSignalled> {
    let pid_file = config
        .server
        .pid_file
        .as_ref()
        .ok_or(NotSignalled::NoPidFile)?;
    let pid = running_server(pid_file)
        .ok_or_else(|| NotSignalled::NotRunning(pid_file.display().to_string()))?;
    match std::process::Command::new("kill")
        .args(["-USR1", &pid.to_string()])
        .status()
    {
        Ok(status) if status.success() => Ok(pid),
        Ok(status) => Err(NotSignalled::Kill(format!(
            "kill -USR1 {pid} failed ({status})"
        ))),
        Err(e) => Err(NotSignalled::Kill(format!("cannot run kill: {e}"))),
    }
}

/// The process id in `pid_file` if that process is a running supportgate (a stale pid file
/// may name another program now).
pub(super) fn running_server(pid_file: &std::path::Path) -> Option<u32> {
    let pid = std::fs::read_to_string(pid_file)
        .ok()
        .and_then(|t| t.trim().parse::<u32>().ok())?;
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
    cmdline
        .split(|b| *b == 0)
        .next()
        .is_some_and(|exe| exe.ends_with(b"supportgate"))
        .then_some(pid)
}
