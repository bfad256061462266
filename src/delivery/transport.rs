//! Transports: a Maildir, an SMTP relay (lettre, pooled connections), direct delivery to the
//! recipient domain's MX (hickory-resolver) or a helpdesk mail-gate command (`pipe:`, see
//! [`super::pipe`]). One type serves the ticket queue, replies and notifications.

use super::smtp_pool::{SendError, SmtpPool};
use crate::config::{PipeCommand, QueueTarget, ReplyTransport};
use crate::store::maildir;
use lettre::address::Envelope as LettreEnvelope;
use lettre::transport::smtp::extension::ClientId;
use lettre::{Address, AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use std::path::PathBuf;
use std::time::Duration;

/// Why a delivery failed. The distinction decides the SMTP answer (SPEC §6): a temporary
/// failure keeps the message with the client (`451`), a permanent one is passed on (`5xx`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DeliveryError {
    #[error("temporary failure: {0}")]
    Temporary(String),
    #[error("permanent failure: {0}")]
    Permanent(String),
    /// The target ran and refused this message (a pipe command's exit status other than 0
    /// or 75): the gateway keeps it in the quarantine rather than lose or bounce it.
    #[error("refused: {0}")]
    Refused(String),
}

/// What a pipe command is told about the decision, in `SUPPORTGATE_*` variables.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeliveryContext {
    pub queue_id: String,
    pub account: Option<String>,
    pub agent: Option<String>,
    pub role: Option<String>,
    /// The From address the decision is about.
    pub sender: Option<String>,
}

enum Kind {
    Maildir(PathBuf),
    Smtp(SmtpPool),
    Mx { hostname: String, timeout: Duration },
    Pipe(PipeCommand),
}

pub struct Transport {
    kind: Kind,
    description: String,
}

fn smtp_relay(host: &str, port: u16, hostname: &str, timeout: Duration) -> SmtpPool {
    SmtpPool::new(host, port, hostname, timeout, 64)
}

impl Transport {
    pub fn for_queue(target: &QueueTarget, hostname: &str) -> Transport {
        match target {
            QueueTarget::Maildir(path) => Transport {
                kind: Kind::Maildir(path.clone()),
                description: format!("maildir:{}", path.display()),
            },
            QueueTarget::Smtp { host, port } => Transport {
                kind: Kind::Smtp(smtp_relay(host, *port, hostname, Duration::from_secs(60))),
                description: format!("smtp://{host}:{port}"),
            },
            QueueTarget::Pipe(command) => Transport {
                description: format!("pipe:{}", command.program.display()),
                kind: Kind::Pipe(command.clone()),
            },
        }
    }

    pub fn for_replies(transport: &ReplyTransport, hostname: &str) -> Transport {
        match transport {
            ReplyTransport::Maildir(path) => Transport {
                kind: Kind::Maildir(path.clone()),
                description: format!("maildir:{}", path.display()),
            },
            ReplyTransport::Smtp { host, port } => Transport {
                kind: Kind::Smtp(smtp_relay(host, *port, hostname, Duration::from_secs(60))),
                description: format!("smtp://{host}:{port}"),
            },
            ReplyTransport::Mx => Transport {
                kind: Kind::Mx {
                    hostname: hostname.to_string(),
                    timeout: Duration::from_secs(60),
                },
                description: "mx".into(),
            },
        }
    }

    pub fn description(&self) -> &str {
        &self.description
    }

    /// Delivers one message. `mail_from` None is the null reverse-path; `unique` names the file
    /// in a Maildir.
    pub async fn send(
        &self,
        mail_from: Option<&str>,
        recipients: &[String],
        bytes: &[u8],
        unique: &str,
    ) -> Result<(), DeliveryError> {
        self.send_with(mail_from, recipients, bytes, unique, None)
            .await
    }

    /// [`Transport::send`], telling a pipe command about the decision (other kinds ignore it).
    pub async fn send_with(
        &self,
        mail_from: Option<&str>,
        recipients: &[String],
        bytes: &[u8],
        unique: &str,
        context: Option<&DeliveryContext>,
    ) -> Result<(), DeliveryError> {
        match &self.kind {
            Kind::Pipe(command) => {
                super::pipe::run(command, mail_from, recipients, bytes, context).await
            }
            Kind::Maildir(root) => {
                let (root, unique, bytes) = (root.clone(), unique.to_string(), bytes.to_vec());
                tokio::task::spawn_blocking(move || maildir::deliver(&root, &unique, &bytes))
                    .await
                    .map_err(|e| DeliveryError::Temporary(format!("maildir task: {e}")))?
                    .map(|_| ())
                    .map_err(|e| DeliveryError::Temporary(format!("maildir: {e}")))
            }
            Kind::Smtp(relay) => {
                let envelope = lettre_envelope(mail_from, recipients)?;
                relay.send(&envelope, bytes).await.map_err(|e| match e {
                    SendError::Smtp(e) => classify(e),
                    SendError::Unreachable(why) => DeliveryError::Temporary(why),
                })
            }
            Kind::Mx { hostname, timeout } => {
                send_via_mx(hostname, *timeout, mail_from, recipients, bytes).await
            }
        }
    }
}

fn lettre_envelope(
    mail_from: Option<&str>,
    recipients: &[String],
) -> Result<LettreEnvelope, DeliveryError> {
    let from = match mail_from {
        Some(address) => Some(
            address
                .parse::<Address>()
                .map_err(|e| DeliveryError::Permanent(format!("bad sender {address:?}: {e}")))?,
        ),
        None => None,
    };
    let to = recipients
        .iter()
        .map(|r| {
            r.parse::<Address>()
                .map_err(|e| DeliveryError::Permanent(format!("bad recipient {r:?}: {e}")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    LettreEnvelope::new(from, to).map_err(|e| DeliveryError::Permanent(e.to_string()))
}

/// The upstream's refusal, kept as text: a 5xx is permanent, everything else (4xx, connection
/// refused, timeout) is temporary.
fn classify(error: lettre::transport::smtp::Error) -> DeliveryError {
    let text = error.to_string().replace(['\r', '\n'], " ");
    if error.is_permanent() {
        DeliveryError::Permanent(text)
    } else {
        DeliveryError::Temporary(text)
    }
}

async fn send_via_mx(
    hostname: &str,
    timeout: Duration,
    mail_from: Option<&str>,
    recipients: &[String],
    bytes: &[u8],
) -> Result<(), DeliveryError> {
    use hickory_resolver::proto::rr::RData;
    let envelope = lettre_envelope(mail_from, recipients)?;
    let domain = recipients
        .first()
        .and_then(|r| r.rsplit_once('@'))
        .map(|(_, d)| d.to_string())
        .ok_or_else(|| DeliveryError::Permanent("no recipient".into()))?;
    let resolver = hickory_resolver::TokioResolver::builder_tokio()
        .map_err(|e| DeliveryError::Temporary(format!("resolver: {e}")))?
        .build()
        .map_err(|e| DeliveryError::Temporary(format!("resolver: {e}")))?;
    let mut hosts: Vec<(u16, String)> = match resolver.mx_lookup(domain.as_str()).await {
        Ok(lookup) => lookup
            .answers()
            .iter()
            .filter_map(|r| match &r.data {
                RData::MX(mx) => Some((mx.preference, mx.exchange.to_utf8())),
                _ => None,
            })
            .collect(),
        Err(e) => {
            return Err(DeliveryError::Temporary(format!(
                "MX lookup for {domain}: {e}"
            )))
        }
    };
    if hosts.is_empty() {
        // RFC 5321 §5.1: no MX, the domain itself is the implicit MX.
        hosts.push((0, domain.clone()));
    }
    hosts.sort();
    let mut last = DeliveryError::Temporary(format!("no MX host for {domain} answered"));
    for (_, host) in hosts {
        let host = host.trim_end_matches('.').to_string();
        let relay = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&host)
            .port(25)
            .hello_name(ClientId::Domain(hostname.to_string()))
            .timeout(Some(timeout))
            .build();
        match relay
            .send_raw(&envelope, bytes.strip_suffix(b"\r\n").unwrap_or(bytes))
            .await
        {
            Ok(_) => return Ok(()),
            Err(e) => {
                last = classify(e);
                if matches!(last, DeliveryError::Permanent(_)) {
                    return Err(last);
                }
            }
        }
    }
    Err(last)
}
