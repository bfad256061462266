//! `supportgate quarantine list|show|release|delete`: what support staff do with refused mail.
//! Exit 0 on success, 1 when the message does not exist, 2 on unusable input (as `check`).

use super::output::Stdout;
use crate::config::Config;
use crate::store::quarantine::{Quarantine, QuarantineError, QuarantineRecord};
use clap::{Args, Subcommand};
use std::process::ExitCode;

#[derive(Debug, Args)]
pub struct QuarantineArgs {
    #[command(flatten)]
    config: super::config_location::ConfigArg,
    #[command(subcommand)]
    command: QuarantineCommand,
}

#[derive(Debug, Subcommand)]
enum QuarantineCommand {
    /// List kept messages, oldest first.
    #[command(
        after_help = "Examples:\n  supportgate quarantine list\n  supportgate quarantine list --reason not-registered --since 2d --json"
    )]
    List {
        /// Only this reason code.
        #[arg(long)]
        reason: Option<String>,
        /// Only messages received within this duration (e.g. 2h, 7d) or since this Unix time.
        #[arg(long)]
        since: Option<String>,
        /// One JSON object per line instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Show one message's record and headers.
    #[command(after_help = "Example:\n  supportgate quarantine show 0067A1B2C3D4E5F6")]
    Show { id: String },
    /// Forward a message to the ticket queue as if accepted (through the spool), recording who
    /// released it; a message already released is refused (exit 1).
    #[command(
        after_help = "Example:\n  supportgate quarantine release 0067A1B2C3D4E5F6 --by jdoe"
    )]
    Release {
        id: String,
        /// Who releases it (recorded in the quarantine and in the forwarded headers).
        #[arg(long, default_value_t = default_operator())]
        by: String,
    },
    /// Delete a message for good.
    #[command(after_help = "Example:\n  supportgate quarantine delete 0067A1B2C3D4E5F6")]
    Delete { id: String },
}

fn default_operator() -> String {
    std::env::var("SUDO_USER")
        .or_else(|_| std::env::var("USER"))
        .unwrap_or_else(|_| "unknown".into())
}

fn fail(error: &QuarantineError) -> ExitCode {
    eprintln!("supportgate quarantine: {error}");
    match error {
        QuarantineError::NotFound(_) => ExitCode::from(1),
        _ => ExitCode::from(super::EXIT_UNUSABLE),
    }
}

pub fn run(args: QuarantineArgs) -> ExitCode {
    let config = match args.config.load_or_exit() {
        Ok(config) => config,
        Err(code) => return code,
    };
    let quarantine = Quarantine::new(&config.quarantine_path);
    match args.command {
        QuarantineCommand::List {
            reason,
            since,
            json,
        } => list(
            &quarantine,
            config.quarantine_retention,
            reason,
            since,
            json,
        ),
        QuarantineCommand::Show { id } => show(&quarantine, &id),
        QuarantineCommand::Release { id, by } => release(&config, &id, &by),
        QuarantineCommand::Delete { id } => match quarantine.delete(&id) {
            Ok(()) => {
                println!("deleted {id}");
                ExitCode::SUCCESS
            }
            Err(e) => fail(&e),
        },
    }
}

fn list(
    quarantine: &Quarantine,
    retention: std::time::Duration,
    reason: Option<String>,
    since: Option<String>,
    json: bool,
) -> ExitCode {
    if let Some(code) = reason.as_deref() {
        if code.parse::<crate::policy::Reason>().is_err() {
            let known: Vec<&str> = crate::policy::Reason::ALL
                .iter()
                .map(|r| r.code())
                .collect();
            eprintln!(
                "supportgate quarantine: --reason: unknown reason code {:?}; known: {}",
                crate::printable::one_line(code),
                known.join(", ")
            );
            return ExitCode::from(super::EXIT_UNUSABLE);
        }
    }
    let since = match since.as_deref().map(parse_since) {
        Some(Ok(at)) => Some(at),
        Some(Err(e)) => {
            eprintln!("supportgate quarantine: --since: {e}");
            return ExitCode::from(super::EXIT_UNUSABLE);
        }
        None => None,
    };
    let records = match quarantine.list() {
        Ok(records) => records,
        Err(e) => return fail(&e),
    };
    // Past `[quarantine] retention` a message is as good as purged (the server purges hourly).
    let oldest = crate::act::unix_now().saturating_sub(retention.as_secs());
    let keep = |record: &QuarantineRecord| {
        record.received_at >= oldest
            && reason
                .as_deref()
                .is_none_or(|r| r == record.decision.reason)
            && since.is_none_or(|s| record.received_at >= s)
    };
    super::output::list_records("quarantine", records, keep, json, summary_line)
}

/// One row; everything that came from the message is escaped ([`crate::printable`]).
fn summary_line(record: &QuarantineRecord) -> String {
    use crate::printable::one_line;
    let when = super::output::rfc3339(record.received_at);
    let subject = super::output::short_subject(record.subject.as_deref());
    format!(
        "{}  {}  {:<24} {:<32} {}{}",
        record.id,
        when,
        one_line(&record.decision.reason),
        one_line(record.from_header.as_deref().unwrap_or("-")),
        one_line(&subject),
        record
            .released
            .as_ref()
            .map(|r| format!(
                "  [released by {}: {}]",
                one_line(&r.by),
                one_line(&r.outcome)
            ))
            .unwrap_or_default()
    )
}

/// `2d` (a duration back from now) or a Unix timestamp.
fn parse_since(value: &str) -> Result<u64, String> {
    if let Ok(at) = value.parse::<u64>() {
        return Ok(at);
    }
    crate::config::parse_duration(value).map(|d| crate::act::unix_now().saturating_sub(d.as_secs()))
}

/// A quarantined message's record and bytes, or the exit code that says why not.
fn load(quarantine: &Quarantine, id: &str) -> Result<(QuarantineRecord, Vec<u8>), ExitCode> {
    let record = quarantine.record(id).map_err(|e| fail(&e))?;
    let message = quarantine.message(id).map_err(|e| fail(&e))?;
    Ok((record, message))
}

fn show(quarantine: &Quarantine, id: &str) -> ExitCode {
    let (record, message) = match load(quarantine, id) {
        Ok(loaded) => loaded,
        Err(code) => return code,
    };
    let mut stdout = Stdout::lock();
    match serde_json::to_string_pretty(&with_received(&record)) {
        Ok(text) => {
            stdout.line(crate::printable::json(&text));
        }
        Err(e) => eprintln!("supportgate quarantine: {e}"),
    }
    stdout.line(format_args!(
        "--- headers ({} bytes in all) ---",
        message.len()
    ));
    let header_end = message
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map_or(message.len(), |p| p + 2);
    stdout.text(crate::printable::lines(&String::from_utf8_lossy(
        &message[..header_end],
    )));
    stdout.finish(ExitCode::SUCCESS)
}

/// The record as `show` prints it: `received` (RFC 3339) right after `received_at` (kept as
/// the Unix time that scripts read).
fn with_received(record: &QuarantineRecord) -> serde_json::Value {
    let Ok(serde_json::Value::Object(fields)) = serde_json::to_value(record) else {
        return serde_json::Value::Null;
    };
    let mut shown = serde_json::Map::new();
    for (key, value) in fields {
        let at_received = key == "received_at";
        shown.insert(key, value);
        if at_received {
            shown.insert(
                "received".into(),
                super::output::rfc3339(record.received_at).into(),
            );
        }
    }
    serde_json::Value::Object(shown)
}

/// Through the spool: the running server delivers it (woken by SIGUSR1 when `[server]
/// pid_file` names it; else at its next scan or start).
fn release(config: &Config, id: &str, by: &str) -> ExitCode {
    match crate::act::release::release(config, id, by, crate::act::unix_now()) {
        Ok(released) => {
            let woken = super::queue::signal_server(config).is_ok();
            println!(
                "released {id} by {by}: queued in the spool as {} for {}{}",
                released.spool_id,
                released.recipients.join(", "),
                if woken {
                    "; the server is delivering it"
                } else {
                    "; the server delivers it at its next scan or start"
                }
            );
            ExitCode::SUCCESS
        }
        Err(crate::act::release::ReleaseError::Quarantine(e)) => {
            eprintln!("supportgate quarantine release: {e}");
            match e {
                QuarantineError::NotFound(_) | QuarantineError::AlreadyReleased { .. } => {
                    ExitCode::from(1)
                }
                _ => ExitCode::from(super::EXIT_UNUSABLE),
            }
        }
        Err(e) => {
            eprintln!("supportgate quarantine release: {id} not released: {e}");
            ExitCode::from(1)
        }
    }
}
