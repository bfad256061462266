//! The command line (SPEC §9 "CLI"). Each command lives in its own file; every command reports
//! problems as one clear line per problem and never as a Rust debug dump.

mod check;
mod config_check;
mod directory_lint;
mod quarantine;
mod serve;

use clap::{Parser, Subcommand};
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
        after_help = "Examples:\n  supportgate check samples/001-accepted-owner.eml\n  \
        supportgate check --mail-from bob@acme.example --rcpt support+acme@vendor.example msg.eml"
    )]
    Check(check::CheckArgs),
    /// Configuration commands.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Directory commands.
    #[command(subcommand)]
    Directory(DirectoryCommand),
    /// Refused mail kept for support staff: list, show, release, delete.
    #[command(
        after_help = "Examples:\n  supportgate quarantine list --since 1d\n  supportgate quarantine show 0067A1B2C3D4E5F6"
    )]
    Quarantine(quarantine::QuarantineArgs),
}

#[derive(Debug, Subcommand)]
enum ConfigCommand {
    /// Validate the configuration; exit 1 listing every problem, 0 with a summary.
    #[command(
        after_help = "Example:\n  supportgate config check --config /etc/supportgate/supportgate.toml"
    )]
    Check {
        #[arg(long, default_value = "config/supportgate.toml")]
        config: PathBuf,
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
        #[arg(long, default_value = "config/supportgate.toml")]
        config: PathBuf,
        /// Lint this directory file instead of the configured one.
        #[arg(long)]
        directory: Option<PathBuf>,
    },
}

pub fn run() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() { EXIT_UNUSABLE } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    match cli.command {
        Command::Serve(args) => serve::run(args),
        Command::Check(args) => check::run(args),
        Command::Config(ConfigCommand::Check { config }) => config_check::run(&config),
        Command::Directory(DirectoryCommand::Lint { config, directory }) => {
            directory_lint::run(&config, directory.as_deref())
        }
        Command::Quarantine(args) => quarantine::run(args),
    }
}
