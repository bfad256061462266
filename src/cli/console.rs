//! `supportgate console passwd NAME`: writes NAME's argon2id hash into the console's users
//! file (`[console] users`). The password is read from the terminal without echo (twice), or
//! as one line from standard input when that is not a terminal (scripts, tests).

use clap::{Args, Subcommand};
use std::io::{BufRead, IsTerminal};
use std::process::ExitCode;

#[derive(Debug, Args)]
pub struct ConsoleArgs {
    #[command(flatten)]
    config: super::config_location::ConfigArg,
    #[command(subcommand)]
    command: ConsoleCommand,
}

#[derive(Debug, Subcommand)]
enum ConsoleCommand {
    /// Set (or change) a console user's password.
    #[command(
        after_help = "Examples:\n  supportgate console passwd jdoe\n  printf '%s\\n' \"$PASSWORD\" | supportgate console passwd jdoe"
    )]
    Passwd {
        /// The user name (1 to 64 of A-Z a-z 0-9 . _ @ -).
        name: String,
    },
}

pub fn run(args: ConsoleArgs) -> ExitCode {
    let config = match args.config.load_or_exit() {
        Ok(config) => config,
        Err(code) => return code,
    };
    let ConsoleCommand::Passwd { name } = args.command;
    let Some(console) = config.console else {
        eprintln!("supportgate console passwd: [console] listen is not set: there is no console");
        return ExitCode::from(super::EXIT_UNUSABLE);
    };
    if !crate::console::users::valid_name(&name) {
        eprintln!(
            "supportgate console passwd: {}",
            crate::console::users::UsersError::BadName(name)
        );
        return ExitCode::from(super::EXIT_UNUSABLE);
    }
    let password = match read_password() {
        Ok(password) => password,
        Err(e) => {
            eprintln!("supportgate console passwd: {e}");
            return ExitCode::from(super::EXIT_UNUSABLE);
        }
    };
    match crate::console::users::set_password(&console.users, &name, &password) {
        Ok(()) => {
            println!("password of {name} written to {}", console.users.display());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("supportgate console passwd: {e}");
            ExitCode::from(1)
        }
    }
}

fn read_password() -> Result<String, String> {
    if std::io::stdin().is_terminal() {
        let first = rpassword::prompt_password("New password: ").map_err(|e| e.to_string())?;
        let again = rpassword::prompt_password("Again: ").map_err(|e| e.to_string())?;
        if first != again {
            return Err("the two passwords differ".into());
        }
        return Ok(first);
    }
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .map_err(|e| format!("standard input: {e}"))?;
    let password = line.trim_end_matches(['\r', '\n']).to_string();
    if password.is_empty() {
        return Err("no password on standard input".into());
    }
    Ok(password)
}
