//! The one place that reads the configured targets: `[queue] target` and `[replies] transport`.
//! A new target is a file beside this one and one arm here.

use super::maildir::MaildirTarget;
use super::mx::MxTarget;
use super::pipe::PipeTarget;
use super::relay::RelayTarget;
use super::target::Target;
use crate::config::{Config, QueueTarget, ReplyTransport};
use std::sync::Arc;
use std::time::Duration;

/// How long one SMTP delivery may take, connection to final answer.
const SMTP_TIMEOUT: Duration = Duration::from_secs(60);

/// The ticket queue.
pub fn queue_target(config: &Config) -> Arc<dyn Target> {
    let hostname = &config.server.hostname;
    match &config.queue {
        QueueTarget::Maildir(path) => Arc::new(MaildirTarget::new(path.clone())),
        QueueTarget::Smtp { host, port } => {
            Arc::new(RelayTarget::new(host, *port, hostname, SMTP_TIMEOUT))
        }
        QueueTarget::Pipe(command) => Arc::new(PipeTarget::new(command.clone())),
    }
}

/// Where auto-replies and notifications leave. `mx` resolves with `[authentication]
/// nameservers` (or the system's resolver); an unusable resolver configuration is an error.
pub fn reply_target(config: &Config) -> Result<Arc<dyn Target>, String> {
    let hostname = &config.server.hostname;
    Ok(match &config.replies.transport {
        ReplyTransport::Maildir(path) => Arc::new(MaildirTarget::new(path.clone())),
        ReplyTransport::Smtp { host, port } => {
            Arc::new(RelayTarget::new(host, *port, hostname, SMTP_TIMEOUT))
        }
        ReplyTransport::Mx => {
            let (resolver, mut options) =
                crate::authentication::resolver_config(&config.authentication)
                    .map_err(|e| format!("replies.transport = \"mx\": {e}"))?;
            options.timeout = config.authentication.dns_timeout;
            Arc::new(
                MxTarget::new(resolver, options, hostname, SMTP_TIMEOUT, 25)
                    .map_err(|e| format!("replies.transport = \"mx\": {e}"))?,
            )
        }
    })
}
