//! The command line (SPEC §9 "CLI"). Each command lives in its own file; every command reports
//! problems as one clear line per problem and never as a Rust debug dump.

mod approval;
mod check;
mod config_check;
pub mod config_location;
mod console;
mod directory_lint;
mod directory_reload;
mod generate;
mod log_output;
mod log_time;
mod logging;
mod output;
mod pid_file;
mod quarantine;
mod queue;
mod reload;
mod serve;
mod state;

use clap::{Parser, Subcommand};
use config_location::ConfigArg;
use std::path::PathBuf;
use std::process::ExitCode;

/// Exit code of a command whose input could not be used (unreadable file, not a message, bad
/// flag): SPEC §9.
pub const EXIT_UNUSABLE: u8 = 2;

#[derive(Debug, Parser)]
#[command(
    name = "supportgate",
    version,
    about = "Inbound SMTP gateway: lets through only mail from registered agents of the account concerned"
)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the SMTP gateway.
    #[command(
        after_help = "Examples:\n  supportgate serve\n  supportgate serve --config /etc/supportgate/supportgate.toml --listen 127.0.0.1:2525"
    )]
    Serve(serve::ServeArgs),
    /// Decide one message offline and print the decision as JSON.
    #[command(
        after_help = "Examples:\n  supportgate check --directory samples/directory.toml samples/001-accepted-owner-fr.eml\n  \
        supportgate check --mail-from bob@acme.example --rcpt support+acme@vendor.example msg.eml"
    )]
    Check(check::CheckArgs),
    /// Configuration commands.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Directory commands.
    #[command(subcommand)]
    Directory(DirectoryCommand),
    /// Shared state (`[state]`): migrate the PostgreSQL schema.
    #[command(subcommand)]
    State(StateCommand),
    /// Refused mail kept for support staff: list, show, release, delete.
    #[command(
        after_help = "Examples:\n  supportgate quarantine list --since 1d\n  supportgate quarantine show 0067A1B2C3D4E5F6"
    )]
    Quarantine(quarantine::QuarantineArgs),
    /// Mail waiting in the spool for the ticket queue: list, show, flush, delete.
    #[command(
        after_help = "Examples:\n  supportgate queue list\n  supportgate queue flush\n  supportgate queue delete 0067A1B2C3D4E5F6"
    )]
    Queue(queue::QueueArgs),
    #[command(
        after_help = "Examples:\n  supportgate approval list\n  supportgate approval approve 0067A1B2C3D4E5F6 --by jdoe"
    )]
    Approval(approval::ApprovalArgs),
    /// The web console for support staff: set a user's password.
    #[command(after_help = "Example:\n  supportgate console passwd jdoe")]
    Console(console::ConsoleArgs),
    /// Write the manual page or shell completions (for packaging).
    #[command(subcommand, hide = true)]
    Generate(generate::GenerateCommand),
}

#[derive(Debug, Subcommand)]
enum ConfigCommand {
    /// Validate the configuration; exit 1 listing every problem, 0 with a summary.
    #[command(
        after_help = "Example:\n  supportgate config check --config /etc/supportgate/supportgate.toml"
    )]
    Check {
        #[command(flatten)]
        config: ConfigArg,
    },
}

#[derive(Debug, Subcommand)]
enum StateCommand {
    /// Create or update the tables and functions of `[state] backend = "postgres"` in schema
    /// `supportgate` (idempotent; `serve` does it at start too). Exit 1 if the database cannot
    /// be used.
    #[command(
        after_help = "Example:\n  supportgate state migrate --config /etc/supportgate/supportgate.toml"
    )]
    Migrate {
        #[command(flatten)]
        config: ConfigArg,
    },
}

#[derive(Debug, Subcommand)]
enum DirectoryCommand {
    /// Report inconsistencies in the directory (licence sharing, helpdesk or group addresses on
    /// profiles, accounts without owner, duplicate ids, invalid addresses or roles); exit 1 if any.
    #[command(
        after_help = "Examples:\n  supportgate directory lint\n  supportgate directory lint --directory /etc/supportgate/directory.toml"
    )]
    Lint {
        #[command(flatten)]
        config: ConfigArg,
        /// Lint this directory file instead of the configured one.
        #[arg(long)]
        directory: Option<PathBuf>,
    },
    /// Check the configuration, directory and templates, then make the running server (found
    /// through `[server] pid_file`) reload them (SIGHUP). Exit 1 if they do not load or no
    /// server runs.
    #[command(
        after_help = "Examples:\n  supportgate directory reload\n  supportgate directory reload --config /etc/supportgate/supportgate.toml"
    )]
    Reload {
        #[command(flatten)]
        config: ConfigArg,
    },
}

/// clap's error without its tip and usage block (SPEC §9: one line): the first paragraph,
/// joined, so that a list (`the following required arguments were not provided: <FILE>`) stays
/// with its sentence.
fn one_line_usage_error(e: &clap::Error) -> String {
    // A bare `supportgate` (or `supportgate config`): clap's "error" is the whole help text.
    if e.kind() == clap::error::ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand {
        return "a command is required".to_string();
    }
    let text = e.render().to_string();
    let paragraph: Vec<&str> = text
        .lines()
        .map(str::trim)
        .take_while(|line| !line.is_empty())
        .collect();
    let joined = paragraph.join(" ");
    joined
        .strip_prefix("error:")
        .unwrap_or(&joined)
        .trim()
        .to_string()
}

pub fn run() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        // --help and --version are not errors: clap prints them as they are.
        Err(e) if !e.use_stderr() => {
            let _ = e.print();
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("supportgate: {} (see --help)", one_line_usage_error(&e));
            return ExitCode::from(EXIT_UNUSABLE);
        }
    };
    match cli.command {
        Command::Serve(args) => serve::run(args),
        Command::Check(args) => check::run(args),
        Command::Config(ConfigCommand::Check { config }) => config_check::run(&config.locate()),
        Command::Directory(DirectoryCommand::Lint { config, directory }) => {
            directory_lint::run(&config.locate(), directory.as_deref())
        }
        Command::Directory(DirectoryCommand::Reload { config }) => {
            directory_reload::run(&config.locate())
        }
        Command::State(StateCommand::Migrate { config }) => state::migrate(&config),
        Command::Quarantine(args) => quarantine::run(args),
        Command::Queue(args) => queue::run(args),
        Command::Approval(args) => approval::run(args),
        Command::Console(args) => console::run(args),
        Command::Generate(command) => generate::run(command),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn usage_error(args: &[&str]) -> String {
        let e = Cli::try_parse_from(args).expect_err("a usage error");
        one_line_usage_error(&e)
    }

    #[test]
    fn usage_errors_are_one_line_without_the_error_prefix() {
        let table = [
            (
                &["supportgate", "check", "--bogus-flag", "x.eml"][..],
                "unexpected argument '--bogus-flag' found",
            ),
            (
                &["supportgate", "check"][..],
                "the following required arguments were not provided: <FILE>",
            ),
            (
                &["supportgate", "frobnicate"][..],
                "unrecognized subcommand 'frobnicate'",
            ),
            (&["supportgate"][..], "a command is required"),
            (&["supportgate", "config"][..], "a command is required"),
        ];
        for (args, expected) in table {
            assert_eq!(usage_error(args), expected, "{args:?}");
        }
    }

    #[test]
    fn help_and_version_are_not_usage_errors() {
        for args in [
            &["supportgate", "--help"][..],
            &["supportgate", "--version"],
        ] {
            let e = Cli::try_parse_from(args).expect_err("clap reports help as an error");
            assert!(!e.use_stderr(), "{args:?}");
        }
    }
}
