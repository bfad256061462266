//! `[server]`: listeners, the SMTP session limits and timeouts, TLS, shutdown. The defaults are
//! the protocol layer's (`smtp::limits`, see `file`).

use super::checker::Checker;
use super::file;
use crate::smtp::BareLineEndings;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

#[derive(Debug, Clone)]
pub struct ServerSettings {
    pub listen: Vec<SocketAddr>,
    pub hostname: String,
    pub max_message_size: u64,
    pub max_recipients: u32,
    pub max_line_length: u32,
    pub max_connections: u32,
    pub max_connections_per_ip: u32,
    pub max_errors: u32,
    pub bare_line_endings: BareLineEndings,
    pub shutdown_grace: Duration,
    /// Where `serve` writes its process id, for `supportgate directory reload`.
    pub pid_file: Option<PathBuf>,
    pub command_timeout: Duration,
    pub data_block_timeout: Duration,
    pub data_termination_timeout: Duration,
    pub tls: Option<(PathBuf, PathBuf)>,
}

impl Checker {
    pub(super) fn server(&mut self, raw: file::ServerFile) -> ServerSettings {
        let mut listen = Vec::new();
        if raw.listen.is_empty() {
            self.problem("server.listen", "at least one listen address is needed");
        }
        for value in &raw.listen {
            listen.extend(self.socket("server.listen", value));
        }
        if raw.hostname.is_empty() || crate::address::normalize_domain(&raw.hostname).is_err() {
            self.problem(
                "server.hostname",
                format!("{:?} is not a host name", raw.hostname),
            );
        }
        self.positive("server.max_message_size", raw.max_message_size);
        self.positive("server.max_recipients", raw.max_recipients.into());
        self.positive("server.max_connections", raw.max_connections.into());
        self.positive(
            "server.max_connections_per_ip",
            raw.max_connections_per_ip.into(),
        );
        self.positive("server.max_errors", raw.max_errors.into());
        if raw.max_line_length < 512 {
            self.problem(
                "server.max_line_length",
                "must be at least 512 (RFC 5321 §4.5.3.1.4)",
            );
        }
        let bare_line_endings = match raw.bare_line_endings.as_str() {
            "reject" => BareLineEndings::Reject,
            "normalize" => BareLineEndings::Normalize,
            other => {
                self.problem(
                    "server.bare_line_endings",
                    format!("{other:?}: expected \"reject\" or \"normalize\""),
                );
                BareLineEndings::Reject
            }
        };
        let tls = raw.tls.map(|tls| {
            let (cert, key) = (self.path(&tls.certificate), self.path(&tls.key));
            for (name, path) in [("server.tls.certificate", &cert), ("server.tls.key", &key)] {
                if !path.is_file() {
                    self.problem(name, format!("{} does not exist", path.display()));
                }
            }
            (cert, key)
        });
        ServerSettings {
            listen,
            hostname: raw.hostname,
            max_message_size: raw.max_message_size,
            max_recipients: raw.max_recipients,
            max_line_length: raw.max_line_length,
            max_connections: raw.max_connections,
            max_connections_per_ip: raw.max_connections_per_ip,
            max_errors: raw.max_errors,
            bare_line_endings,
            shutdown_grace: self.duration("server.shutdown_grace", &raw.shutdown_grace),
            pid_file: raw.pid_file.as_deref().map(|p| self.path(p)),
            command_timeout: self.duration("server.timeouts.command", &raw.timeouts.command),
            data_block_timeout: self
                .duration("server.timeouts.data_block", &raw.timeouts.data_block),
            data_termination_timeout: self.duration(
                "server.timeouts.data_termination",
                &raw.timeouts.data_termination,
            ),
            tls,
        }
    }
}
