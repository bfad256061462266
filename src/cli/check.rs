//! `supportgate check`: the offline decision for one message, as one JSON object (SPEC §9).

use super::output::Stdout;
use crate::address::{AddressRules, NormalizedAddress};
use crate::directory::Directory;
use crate::pipeline::{parse_message, Engine};
use crate::policy::suppression::NoReplyMemory;
use crate::policy::{Envelope, FromHeader, ReplyPlan};
use clap::Args;
use serde_json::json;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, Args)]
pub struct CheckArgs {
    #[command(flatten)]
    config: super::config_location::ConfigArg,
    /// Use this directory file instead of the configured one.
    #[arg(long)]
    directory: Option<PathBuf>,
    /// The envelope sender (MAIL FROM), `addr` or `<addr>`; default: the From address. Use "<>"
    /// for the null path.
    #[arg(long)]
    mail_from: Option<String>,
    /// An envelope recipient (repeatable); default: the first support address.
    #[arg(long)]
    rcpt: Vec<String>,
    /// Treat the sender as authenticated (P6), as if SPF/DKIM/DMARC had passed.
    #[arg(long, conflicts_with = "auth")]
    assume_authenticated: bool,
    /// Verify SPF, DKIM and DMARC against DNS (the configured nameservers), as `serve` does in
    /// `verify` mode, whatever the configured mode.
    #[arg(long)]
    auth: bool,
    /// With --auth: the connecting client's IP address that SPF checks.
    #[arg(long, default_value = "127.0.0.1", requires = "auth")]
    client_ip: std::net::IpAddr,
    /// With --auth: the EHLO name (SPF's HELO identity when MAIL FROM is null).
    #[arg(long, requires = "auth")]
    helo: Option<String>,
    /// `check` keeps no sender history: it assumes the sender sent nothing else within
    /// `[limits] sender_window`. This says it sent N messages before this one (mail-loop).
    #[arg(long, value_name = "N", default_value_t = 0)]
    sender_recent: u32,
    /// Assume this Message-ID already came from this sender within the window (mail-loop).
    #[arg(long)]
    repeated_message_id: bool,
    /// The message file (RFC 5322, as received).
    file: PathBuf,
}

fn unusable(message: impl std::fmt::Display) -> ExitCode {
    eprintln!("supportgate check: {message}");
    ExitCode::from(super::EXIT_UNUSABLE)
}

/// `--mail-from` as an envelope reverse-path: `<>` or empty is the null path (`None`), `<addr>`
/// is `addr` as SMTP writes it, and anything else must be an address: a value that is none
/// would otherwise be decided as if it were one (SPEC §9: unusable input is an error).
fn reverse_path(value: &str, rules: &AddressRules) -> Result<Option<String>, String> {
    let value = value.trim();
    let address = match value.strip_prefix('<').and_then(|v| v.strip_suffix('>')) {
        Some(inner) => inner.trim(),
        None => value,
    };
    if address.is_empty() {
        return Ok(None);
    }
    match NormalizedAddress::parse(address, rules) {
        Ok(_) => Ok(Some(address.to_string())),
        Err(e) => Err(format!(
            "bad --mail-from {value:?}: {e} (an address, <address>, or <> for the null path)"
        )),
    }
}

pub fn run(args: CheckArgs) -> ExitCode {
    let config = match args.config.locate().load() {
        Ok(config) => config,
        Err(problems) => {
            let first = problems
                .first()
                .map(ToString::to_string)
                .unwrap_or_default();
            return unusable(format!(
                "invalid configuration: {first} ({} problem(s); run `supportgate config check`)",
                problems.len()
            ));
        }
    };
    // Some(None): `--mail-from <>`; None: no flag, the From address stands in.
    let given_mail_from = match args
        .mail_from
        .as_deref()
        .map(|value| reverse_path(value, &config.address_rules))
        .transpose()
    {
        Ok(given) => given,
        Err(e) => return unusable(e),
    };
    // `--directory FILE` wins; otherwise the configured source, file or database.
    let loaded = match &args.directory {
        Some(path) => Directory::load(path, &config.address_rules).map_err(|e| e.to_string()),
        None => crate::pipeline::load_directory(&config).map_err(|e| e.to_string()),
    };
    let directory = match loaded {
        Ok(directory) => directory,
        Err(e) => return unusable(e),
    };
    let engine = match Engine::assemble(config, directory) {
        Ok(engine) => engine,
        Err(e) => return unusable(e),
    };
    let bytes = match std::fs::read(&args.file) {
        Ok(bytes) => bytes,
        Err(e) => return unusable(format!("{}: {e}", args.file.display())),
    };
    let message = match parse_message(&bytes) {
        Ok(message) => message,
        Err(e) => return unusable(format!("{}: {e}", args.file.display())),
    };
    let facts = engine.facts(&message);
    let mail_from = match given_mail_from {
        Some(path) => path,
        None => match &facts.from {
            Some(FromHeader::Mailbox(address)) => Some(address.clone()),
            _ => None,
        },
    };
    let recipients = if args.rcpt.is_empty() {
        engine
            .config
            .support_addresses
            .iter()
            .take(1)
            .map(|a| a.to_string())
            .collect()
    } else {
        args.rcpt.clone()
    };
    let envelope = Envelope {
        mail_from,
        recipients,
    };
    let auth = if args.auth {
        match verify_online(&engine, &bytes, &args, envelope.mail_from.as_deref()) {
            Ok(auth) => auth,
            Err(e) => return unusable(e),
        }
    } else {
        engine.authenticate_offline(&facts, args.assume_authenticated)
    };
    let now = crate::act::unix_now();
    let history = crate::policy::SenderHistory {
        recent_messages: args.sender_recent,
        repeated_message_id: args.repeated_message_id,
        blocked_until: None,
    };
    let decided = crate::pipeline::decide_each_account(
        &engine,
        &facts,
        envelope.mail_from.as_deref(),
        &auth,
        &crate::pipeline::DecisionState {
            reply_memory: &NoReplyMemory,
            sender_history: &history,
            now,
        },
        envelope.recipients.clone(),
    );
    let several = decided.len() > 1;
    let mut stdout = Stdout::lock();
    for one in decided {
        let mut output = match decision_json(&engine, &one, &auth, &facts, now) {
            Ok(output) => output,
            Err(e) => return unusable(e),
        };
        // Several accounts: one compact object per line, each naming its recipients.
        let text = if several {
            output["recipients"] = json!(one.recipients);
            serde_json::to_string(&output)
        } else {
            serde_json::to_string_pretty(&output)
        };
        match text {
            Ok(text) => {
                if !stdout.line(text) {
                    break;
                }
            }
            Err(e) => return unusable(e),
        }
    }
    stdout.finish(ExitCode::SUCCESS)
}

/// One decision as `check` prints it, with the reply it would send: for a request held for
/// approval, the `held-for-approval` notice that `serve` would send instead of the refusal.
fn decision_json(
    engine: &Engine,
    decided: &crate::pipeline::AccountDecision,
    auth: &crate::policy::AuthResult,
    facts: &crate::policy::MessageFacts,
    now: u64,
) -> Result<serde_json::Value, String> {
    let decision = &decided.decision;
    let mut output = json!({
        "verdict": decision.verdict,
        "reason": decision.reason,
        "account": decision.account,
        "agent": decision.agent,
        "role": decision.role,
        "action": decision.action,
        "category": decision.category,
        "notify": decision.notify,
        "authentication": auth,
    });
    match &decision.reply {
        ReplyPlan::NotApplicable => output["reply"] = serde_json::Value::Null,
        ReplyPlan::Suppressed(why) => output["reply_suppressed"] = json!(why),
        ReplyPlan::Send { to } => {
            // What `serve` sends: the held-for-approval notice when it holds the request.
            let reply = if crate::act::hold::holds(decision) {
                crate::act::hold::held_notice(
                    engine,
                    decision,
                    facts,
                    &decided.recipients,
                    to.as_str(),
                    now,
                    "check",
                )
            } else {
                let notified = !decision.notify.is_empty();
                engine.compose_reply(decision, to, facts, notified, now, "check")
            }
            .map_err(|e| format!("reply: {e}"))?;
            output["reply"] = json!({
                "to": to.to_string(),
                "subject": reply.subject,
                "language": reply.language,
                "body": reply.body,
            });
        }
    }
    Ok(output)
}

/// `--auth`: one verification against DNS, on a runtime of its own.
fn verify_online(
    engine: &Engine,
    bytes: &[u8],
    args: &CheckArgs,
    mail_from: Option<&str>,
) -> Result<crate::policy::AuthResult, String> {
    let settings = &engine.config.authentication;
    let verifier = crate::authentication::Verifier::new(settings, &engine.config.server.hostname)
        .map_err(|e| e.to_string())?;
    let connection = crate::authentication::Connection {
        ip: args.client_ip,
        helo: args.helo.as_deref(),
        mail_from,
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("runtime: {e}"))?;
    Ok(runtime.block_on(verifier.verify(bytes, &connection)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mail_from_is_an_address_brackets_or_the_null_path() {
        let rules = AddressRules::default();
        let table = [
            ("<>", Ok(None)),
            ("", Ok(None)),
            (" < > ", Ok(None)),
            ("bob@acme.example", Ok(Some("bob@acme.example"))),
            ("<Bob@acme.example>", Ok(Some("Bob@acme.example"))),
            ("garbage", Err(())),
            ("<garbage>", Err(())),
            ("<bob@acme.example", Err(())),
        ];
        for (value, expected) in table {
            let got = reverse_path(value, &rules);
            assert_eq!(
                got.as_ref().map(Option::as_deref).map_err(|_| ()),
                expected,
                "{value:?}: {got:?}"
            );
        }
    }
}
