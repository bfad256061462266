//! `supportgate approval list|show|approve|decline` (SPEC §11): the held requests, and an
//! operator's decision on one, recorded with `--by NAME`. The decision goes through the same
//! [`crate::act::approval::settle`] as an owner's reply (the first decision wins). Exit 0 on
//! success, 1 when the request does not exist or is no longer pending, 2 on unusable input.

use super::output::Stdout;
use crate::act::approval::{settle, ApprovalError, Settlement};
use crate::pipeline::Engine;
use crate::printable::one_line;
use crate::store::approvals::{ApprovalStore, Pending};
use clap::{Args, Subcommand};
use std::process::ExitCode;

#[derive(Debug, Args)]
pub struct ApprovalArgs {
    #[command(flatten)]
    config: super::config_location::ConfigArg,
    #[command(subcommand)]
    command: ApprovalCommand,
}

#[derive(Debug, Subcommand)]
enum ApprovalCommand {
    /// List held requests, oldest first (with --all, decided and expired ones too).
    #[command(
        after_help = "Examples:\n  supportgate approval list\n  supportgate approval list --json"
    )]
    List {
        /// Also the requests already decided or expired (kept a while after).
        #[arg(long)]
        all: bool,
        /// One JSON object per line instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Show one request's record (JSON).
    #[command(after_help = "Example:\n  supportgate approval show 0067A1B2C3D4E5F6")]
    Show { id: String },
    /// Approve a held request on the owner's behalf: it goes to the ticket queue.
    #[command(after_help = "Example:\n  supportgate approval approve 0067A1B2C3D4E5F6 --by jdoe")]
    Approve {
        id: String,
        /// Who approves it (recorded, and in X-Supportgate-Approved-By).
        #[arg(long)]
        by: String,
    },
    /// Decline a held request: it goes to the quarantine (note: declined by NAME).
    #[command(after_help = "Example:\n  supportgate approval decline 0067A1B2C3D4E5F6 --by jdoe")]
    Decline {
        id: String,
        #[arg(long)]
        by: String,
    },
}

pub fn run(args: ApprovalArgs) -> ExitCode {
    let config = match args.config.load_or_exit() {
        Ok(config) => config,
        Err(code) => return code,
    };
    // The configured backend: with `[state] backend = "postgres"` the fleet's shared
    // requests, whichever gateway holds them. One worker drives the database client while
    // this thread waits on the store (`PostgresApprovalStore`).
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("supportgate approval: cannot start a runtime: {e}");
            return ExitCode::from(super::EXIT_UNUSABLE);
        }
    };
    let opened = runtime.block_on(crate::store::state::open_approvals(
        &config.state,
        &config.approval.path,
    ));
    let store = match opened {
        Ok(store) => store,
        Err(e) => {
            eprintln!("supportgate approval: {e}");
            return ExitCode::from(super::EXIT_UNUSABLE);
        }
    };
    let store = store.as_ref();
    match args.command {
        ApprovalCommand::List { all, json } => list(store, all, json),
        ApprovalCommand::Show { id } => show(store, &id),
        ApprovalCommand::Approve { id, by } => decide(
            config,
            store,
            &id,
            Settlement::Approve {
                by,
                role: "operator".into(),
            },
        ),
        ApprovalCommand::Decline { id, by } => decide(
            config,
            store,
            &id,
            Settlement::Decline {
                by,
                role: "operator".into(),
            },
        ),
    }
}

fn list(store: &dyn ApprovalStore, all: bool, json: bool) -> ExitCode {
    let requests = match store.list() {
        Ok(requests) => requests,
        Err(e) => {
            eprintln!("supportgate approval: {e}");
            return ExitCode::from(super::EXIT_UNUSABLE);
        }
    };
    let mut stdout = Stdout::lock();
    for pending in requests.iter().filter(|p| all || p.state.is_pending()) {
        let line = if json {
            match serde_json::to_string(&summary(pending)) {
                Ok(text) => crate::printable::json(&text).into_owned(),
                Err(e) => {
                    eprintln!("supportgate approval: {e}");
                    continue;
                }
            }
        } else {
            summary_line(pending)
        };
        if !stdout.line(line) {
            break;
        }
    }
    stdout.finish(ExitCode::SUCCESS)
}

/// What `list --json` prints of a request: no token (it approves), no bytes.
fn summary(pending: &Pending) -> serde_json::Value {
    serde_json::json!({
        "id": pending.id,
        "state": pending.state.as_str(),
        "account": pending.account,
        "category": pending.category,
        "requester": pending.requester,
        "subject": pending.subject,
        "approvers": pending.approvers,
        "held_at": pending.held_at,
        "expires_at": pending.expires_at,
    })
}

/// One row; what came from the message is escaped ([`crate::printable`]).
fn summary_line(pending: &Pending) -> String {
    format!(
        "{}  {}  {:<9} {:<12} {:<14} {:<32} {}",
        pending.id,
        super::output::rfc3339(pending.held_at),
        pending.state.as_str(),
        one_line(&pending.account),
        one_line(&pending.category),
        one_line(&pending.requester),
        one_line(&super::output::short_subject(Some(&pending.subject))),
    )
}

fn show(store: &dyn ApprovalStore, id: &str) -> ExitCode {
    let pending = match store.get(id) {
        Ok(Some(pending)) => pending,
        Ok(None) => {
            eprintln!("supportgate approval: no approval {:?}", one_line(id));
            return ExitCode::from(1);
        }
        Err(e) => {
            eprintln!("supportgate approval: {e}");
            return ExitCode::from(super::EXIT_UNUSABLE);
        }
    };
    let mut shown = summary(&pending);
    if let serde_json::Value::Object(fields) = &mut shown {
        fields.insert("text_start".into(), pending.text_start.clone().into());
        fields.insert(
            "held".into(),
            super::output::rfc3339(pending.held_at).into(),
        );
        fields.insert(
            "expires".into(),
            super::output::rfc3339(pending.expires_at).into(),
        );
        if let Ok(serde_json::Value::Object(state)) = serde_json::to_value(&pending.state) {
            fields.insert("decision".into(), state.into());
        }
    }
    let mut stdout = Stdout::lock();
    match serde_json::to_string_pretty(&shown) {
        Ok(text) => {
            stdout.line(crate::printable::json(&text));
        }
        Err(e) => eprintln!("supportgate approval: {e}"),
    }
    stdout.finish(ExitCode::SUCCESS)
}

fn decide(
    config: crate::config::Config,
    store: &dyn ApprovalStore,
    id: &str,
    settlement: Settlement,
) -> ExitCode {
    let engine = match Engine::from_config(config) {
        Ok(engine) => engine,
        Err(e) => {
            eprintln!("supportgate approval: {e}");
            return ExitCode::from(super::EXIT_UNUSABLE);
        }
    };
    let word = settlement.as_str();
    match settle(&engine, store, id, &settlement, crate::act::unix_now()) {
        Ok(pending) => {
            let woken = super::queue::signal_server(&engine.config).is_ok();
            println!(
                "{} {word}{}",
                pending.id,
                if woken {
                    "; the server is delivering what follows"
                } else {
                    "; the server delivers what follows at its next scan or start"
                }
            );
            ExitCode::SUCCESS
        }
        Err(e @ (ApprovalError::NotFound(_) | ApprovalError::NotPending { .. })) => {
            eprintln!("supportgate approval: {e}");
            ExitCode::from(1)
        }
        Err(e) => {
            eprintln!("supportgate approval: {id} not {word}: {e}");
            ExitCode::from(1)
        }
    }
}
