//! `pipe:` ticket queue: runs a helpdesk's mail-gate command (RT's `rt-mailgate`, osTicket's
//! `pipe.php`, ...) without a shell, the message on stdin and the decision in the environment:
//!
//! | variable | value |
//! |---|---|
//! | `SUPPORTGATE_QUEUE_ID` | our queue id (also in `Received:` and the log) |
//! | `SUPPORTGATE_ACCOUNT` | the account id, or empty |
//! | `SUPPORTGATE_AGENT` | the agent's primary address, or empty |
//! | `SUPPORTGATE_ROLE` | `owner`, `admin`, `agent`, or empty |
//! | `SUPPORTGATE_SENDER` | the From address decided on |
//! | `SUPPORTGATE_MAIL_FROM` | the envelope sender, empty for `<>` |
//! | `SUPPORTGATE_RECIPIENTS` | the envelope recipients, comma-separated |
//!
//! Exit 0: delivered. Exit 75 (`EX_TEMPFAIL`), a command that cannot be started, or one still
//! running after `[queue] pipe_timeout` (it is killed): temporary, the client gets `451`.
//! Any other status: [`DeliveryError::Refused`], the gateway keeps the message in the
//! quarantine. The first lines of its stderr go to the log.

use super::target::{Delivery, DeliveryError, Parcel, Target};
use crate::config::PipeCommand;
use std::process::Stdio;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// `sysexits.h` EX_TEMPFAIL.
const EX_TEMPFAIL: i32 = 75;
/// How much of the command's stderr is kept for the log.
const STDERR_KEPT: usize = 2048;

pub struct PipeTarget {
    command: PipeCommand,
    description: String,
}

impl PipeTarget {
    pub fn new(command: PipeCommand) -> PipeTarget {
        PipeTarget {
            description: format!("pipe:{}", command.program.display()),
            command,
        }
    }
}

impl Target for PipeTarget {
    fn description(&self) -> &str {
        &self.description
    }

    fn deliver<'a>(&'a self, parcel: Parcel<'a>) -> Delivery<'a> {
        Box::pin(run(&self.command, parcel))
    }
}

async fn run(command: &PipeCommand, parcel: Parcel<'_>) -> Result<(), DeliveryError> {
    let context = parcel.context;
    let text = |v: &Option<String>| v.clone().unwrap_or_default();
    let mut child = tokio::process::Command::new(&command.program)
        .args(&command.args)
        .env("SUPPORTGATE_QUEUE_ID", &context.queue_id)
        .env("SUPPORTGATE_ACCOUNT", text(&context.account))
        .env("SUPPORTGATE_AGENT", text(&context.agent))
        .env("SUPPORTGATE_ROLE", text(&context.role))
        .env("SUPPORTGATE_SENDER", text(&context.sender))
        .env("SUPPORTGATE_MAIL_FROM", parcel.mail_from.unwrap_or(""))
        .env("SUPPORTGATE_RECIPIENTS", parcel.recipients.join(","))
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| {
            DeliveryError::Temporary(format!("cannot run {}: {e}", command.program.display()))
        })?;
    let mut stdin = child.stdin.take();
    let mut stderr = child.stderr.take();
    let bytes = parcel.bytes.to_vec();
    let work = async move {
        // A command may exit without reading all of stdin (EPIPE): its status decides.
        let feed = async {
            if let Some(mut stdin) = stdin.take() {
                let _ = stdin.write_all(&bytes).await;
                let _ = stdin.shutdown().await;
            }
        };
        let drain = async {
            let mut kept = Vec::new();
            if let Some(stderr) = stderr.as_mut() {
                let mut buf = [0u8; 1024];
                while let Ok(n) = stderr.read(&mut buf).await {
                    if n == 0 {
                        break;
                    }
                    let room = STDERR_KEPT.saturating_sub(kept.len());
                    kept.extend_from_slice(buf.get(..n.min(room)).unwrap_or_default());
                }
            }
            kept
        };
        let ((), kept) = tokio::join!(feed, drain);
        let status = child.wait().await;
        (status, kept, child)
    };
    match tokio::time::timeout(command.timeout, work).await {
        Err(_) => Err(DeliveryError::Temporary(format!(
            "{} still running after {:?}: killed",
            command.program.display(),
            command.timeout
        ))),
        Ok((Err(e), _, _)) => Err(DeliveryError::Temporary(format!(
            "waiting for {}: {e}",
            command.program.display()
        ))),
        Ok((Ok(status), stderr, _)) => {
            let said = String::from_utf8_lossy(&stderr)
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" ");
            let why = |what: String| {
                if said.is_empty() {
                    what
                } else {
                    format!("{what}: {said}")
                }
            };
            match status.code() {
                Some(0) => Ok(()),
                Some(EX_TEMPFAIL) => Err(DeliveryError::Temporary(why(format!(
                    "{} exited 75 (EX_TEMPFAIL)",
                    command.program.display()
                )))),
                Some(code) => Err(DeliveryError::Refused(why(format!(
                    "{} exited {code}",
                    command.program.display()
                )))),
                None => Err(DeliveryError::Temporary(why(format!(
                    "{} killed by a signal",
                    command.program.display()
                )))),
            }
        }
    }
}
