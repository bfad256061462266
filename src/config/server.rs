//! `[server]`: listeners, the SMTP session limits and timeouts, TLS, shutdown. The defaults are
//! the protocol layer's (`smtp::limits`, see `file`).

use super::checker::Checker;
use super::file;
use crate::smtp::listener::overlap;
use crate::smtp::BareLineEndings;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

/// The smallest `max_header_size` that lets one full-length header line through (998 + CRLF).
const MIN_HEADER_SIZE: u64 = 1000;

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
    pub max_junk_commands: u32,
    pub max_header_size: u32,
    pub max_header_count: u32,
    /// Bytes per second, see `smtp::Timeouts::data_block`.
    pub min_data_rate: u32,
    pub bare_line_endings: BareLineEndings,
    pub shutdown_grace: Duration,
    /// Where `serve` writes its process id, for `supportgate directory reload`.
    pub pid_file: Option<PathBuf>,
    pub command_timeout: Duration,
    pub data_block_timeout: Duration,
    pub data_termination_timeout: Duration,
    pub tls: Option<(PathBuf, PathBuf)>,
    /// Peers whose XFORWARD is believed (Postfix's before-queue proxy).
    pub xforward_from: Vec<IpAddr>,
}

impl Checker {
    /// `milter`: the milter front is on, so the SMTP front may have no listener.
    pub(super) fn server(&mut self, raw: file::ServerFile, milter: bool) -> ServerSettings {
        let mut listen = Vec::new();
        if raw.listen.is_empty() && !milter {
            self.problem(
                "server.listen",
                "at least one listen address is needed (or a [milter] listen)",
            );
        }
        for value in &raw.listen {
            listen.extend(self.socket("server.listen", value));
        }
        self.overlapping_listeners(&listen);
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
        self.positive("server.max_junk_commands", raw.max_junk_commands.into());
        self.positive("server.max_header_count", raw.max_header_count.into());
        self.positive("server.min_data_rate", raw.min_data_rate.into());
        if u64::from(raw.max_header_size) < MIN_HEADER_SIZE {
            self.problem(
                "server.max_header_size",
                format!("must be at least {MIN_HEADER_SIZE} (one header line of RFC 5322 §2.1.1)"),
            );
        }
        if u64::from(raw.max_header_size) > raw.max_message_size {
            self.problem(
                "server.max_header_size",
                format!(
                    "{} is larger than server.max_message_size ({}): the header is part of the message",
                    raw.max_header_size, raw.max_message_size
                ),
            );
        }
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
        let xforward_from = raw
            .xforward_from
            .iter()
            .filter_map(|value| match value.parse::<IpAddr>() {
                Ok(ip) => Some(ip),
                Err(_) => {
                    self.problem(
                        "server.xforward_from",
                        format!("{value:?} is not an IP address"),
                    );
                    None
                }
            })
            .collect();
        ServerSettings {
            listen,
            hostname: raw.hostname,
            max_message_size: raw.max_message_size,
            max_recipients: raw.max_recipients,
            max_line_length: raw.max_line_length,
            max_connections: raw.max_connections,
            max_connections_per_ip: raw.max_connections_per_ip,
            max_errors: raw.max_errors,
            max_junk_commands: raw.max_junk_commands,
            max_header_size: raw.max_header_size,
            max_header_count: raw.max_header_count,
            min_data_rate: raw.min_data_rate,
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
            xforward_from,
        }
    }
}

impl Checker {
    /// `server.listen` addresses that cannot all be bound (`0.0.0.0:25` twice, or with
    /// `127.0.0.1:25`); `0.0.0.0:25` with `[::]:25` is fine, IPv6 sockets being IPv6-only.
    fn overlapping_listeners(&mut self, listen: &[SocketAddr]) {
        for (i, &address) in listen.iter().enumerate() {
            if let Some(earlier) = listen[..i].iter().find(|&&e| overlap(e, address)) {
                self.problem(
                    "server.listen",
                    format!("{address} overlaps {earlier}: both cannot be listened on"),
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::smtp::SessionLimits;

    fn checked(raw: file::ServerFile) -> (ServerSettings, Vec<String>) {
        let mut checker = Checker {
            file: "supportgate.toml".into(),
            base: PathBuf::from("/etc/supportgate"),
            problems: Vec::new(),
        };
        let settings = checker.server(raw, false);
        let problems = checker.problems.iter().map(|p| p.to_string()).collect();
        (settings, problems)
    }

    #[test]
    fn overlapping_listeners_are_reported() {
        let listen = |addresses: &[&str]| file::ServerFile {
            listen: addresses.iter().map(|a| a.to_string()).collect(),
            ..file::ServerFile::default()
        };
        let (_, problems) = checked(listen(&["0.0.0.0:25", "[::]:25"]));
        assert!(problems.is_empty(), "{problems:?}");
        let (_, problems) = checked(listen(&[
            "0.0.0.0:25",
            "[::]:25",
            "127.0.0.1:25",
            "0.0.0.0:25",
        ]));
        assert_eq!(
            problems,
            [
                "supportgate.toml: server.listen: 127.0.0.1:25 overlaps 0.0.0.0:25: both cannot be listened on",
                "supportgate.toml: server.listen: 0.0.0.0:25 overlaps 0.0.0.0:25: both cannot be listened on",
            ]
        );
    }

    #[test]
    fn the_adversary_limits_default_to_the_protocol_layer() {
        let (settings, problems) = checked(file::ServerFile::default());
        assert!(problems.is_empty(), "{problems:?}");
        let limits = SessionLimits::default();
        assert_eq!(settings.max_junk_commands, limits.max_junk_commands);
        assert_eq!(settings.max_header_size as usize, limits.max_header_size);
        assert_eq!(settings.max_header_count as usize, limits.max_header_count);
        assert_eq!(u64::from(settings.min_data_rate), limits.min_data_rate);
        assert_eq!(
            (settings.max_junk_commands, settings.max_header_size),
            (100, 102_400)
        );
        assert_eq!(
            (settings.max_header_count, settings.min_data_rate),
            (1000, 500)
        );
    }

    #[test]
    fn bad_adversary_limits_are_reported_by_key() {
        let raw = file::ServerFile {
            max_junk_commands: 0,
            max_header_size: 999,
            max_header_count: 0,
            min_data_rate: 0,
            ..file::ServerFile::default()
        };
        let (_, problems) = checked(raw);
        assert_eq!(
            problems,
            [
                "supportgate.toml: server.max_junk_commands: must be greater than 0",
                "supportgate.toml: server.max_header_count: must be greater than 0",
                "supportgate.toml: server.min_data_rate: must be greater than 0",
                "supportgate.toml: server.max_header_size: must be at least 1000 \
                 (one header line of RFC 5322 §2.1.1)",
            ]
        );
        let raw = file::ServerFile {
            max_message_size: 50_000,
            ..file::ServerFile::default()
        };
        let (_, problems) = checked(raw);
        assert_eq!(
            problems,
            [
                "supportgate.toml: server.max_header_size: 102400 is larger than \
              server.max_message_size (50000): the header is part of the message"
            ]
        );
    }
}
