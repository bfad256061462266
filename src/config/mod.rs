//! Configuration: the one place that owns defaults and validation (`supportgate.toml`, SPEC §9).
//!
//! [`Config::load`] reads the file, applies defaults (in [`file`]), checks every key and returns
//! either a ready [`Config`] or every problem found, each with its key and reason, for
//! `supportgate config check`. Relative paths are resolved against the configuration file's
//! own folder, so a configuration tree can be moved as a whole.

mod duration;
mod file;
mod pipe;
mod spool;
pub(crate) mod toml_error;

/// `[replies]` lives with the reply layer that uses it; named here too, like every section.
pub use crate::reply::{ReplySettings, ReplyTransport};
pub use duration::parse_duration;
pub use pipe::{split_command, PipeCommand};
pub use spool::SpoolSettings;

use crate::address::{AddressRules, NormalizedAddress};
use crate::directory::{Language, Role};
use crate::policy::{Action, CategoryRule, IdentificationStrategy, PolicySettings, Reason};
use crate::reply::NOTIFY_TEMPLATE;
use crate::smtp::BareLineEndings;
use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

/// One problem in the configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigProblem {
    pub file: String,
    pub key: String,
    pub message: String,
}

impl fmt::Display for ConfigProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.key.is_empty() {
            write!(f, "{}: {}", self.file, self.message)
        } else {
            write!(f, "{}: {}: {}", self.file, self.key, self.message)
        }
    }
}

/// Where forwarded mail goes (`[queue] target`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QueueTarget {
    Maildir(PathBuf),
    Smtp {
        host: String,
        port: u16,
    },
    /// `pipe:/path/to/command args`: a helpdesk mail-gate run with the message on stdin.
    Pipe(PipeCommand),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthenticationMode {
    /// Every sender counts as authenticated: only for loopback tests and demos.
    Off,
    /// Trust the topmost `Authentication-Results` of a configured relay.
    TrustedHeader,
    /// Verify SPF, DKIM and DMARC ourselves.
    Verify,
}

impl AuthenticationMode {
    pub fn as_str(self) -> &'static str {
        match self {
            AuthenticationMode::Off => "off",
            AuthenticationMode::TrustedHeader => "trusted-header",
            AuthenticationMode::Verify => "verify",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

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

#[derive(Debug, Clone)]
pub struct AuthenticationSettings {
    pub mode: AuthenticationMode,
    pub trusted_authserv_ids: Vec<String>,
    pub nameservers: Vec<SocketAddr>,
    pub dns_timeout: Duration,
    pub require_dmarc: bool,
    /// A DNS temporary failure that decides P6: `451 4.4.3` (false) or quarantine (true).
    pub quarantine_on_temperror: bool,
}

/// A validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    pub path: PathBuf,
    pub server: ServerSettings,
    pub support_addresses: Vec<NormalizedAddress>,
    pub address_rules: AddressRules,
    pub directory_path: PathBuf,
    pub policy: PolicySettings,
    pub authentication: AuthenticationSettings,
    pub queue: QueueTarget,
    pub replies: ReplySettings,
    pub quarantine_path: PathBuf,
    pub spool: SpoolSettings,
    pub reply_memory_path: PathBuf,
    pub log_format: LogFormat,
    pub log_level: String,
    pub log_file: Option<PathBuf>,
    pub metrics_listen: Option<SocketAddr>,
}

impl Config {
    /// Loads `path`; `Err` lists every problem found.
    pub fn load(path: &Path) -> Result<Config, Vec<ConfigProblem>> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            vec![ConfigProblem {
                file: path.display().to_string(),
                key: String::new(),
                message: format!("cannot read: {e}"),
            }]
        })?;
        Config::from_toml(&text, path)
    }

    /// Parses configuration text; `path` names the file in messages and anchors relative paths.
    pub fn from_toml(text: &str, path: &Path) -> Result<Config, Vec<ConfigProblem>> {
        let mut check = Checker {
            file: path.display().to_string(),
            base: path.parent().map(Path::to_path_buf).unwrap_or_default(),
            problems: Vec::new(),
        };
        let raw: file::ConfigFile = match toml::from_str(text) {
            Ok(raw) => raw,
            Err(e) => {
                // Named by its key (`server.max_recipients`) like every other problem when the
                // error is in a `key = value` line (a wrong type or value); else by position.
                let key = e
                    .span()
                    .and_then(|span| toml_error::key_at(text, span.start))
                    .unwrap_or_default();
                check.problem(&key, toml_error::one_line(e.message(), e.span(), text));
                return Err(check.problems);
            }
        };
        let config = check.validate(raw, path);
        if check.problems.is_empty() {
            Ok(config)
        } else {
            Err(check.problems)
        }
    }

    /// The problems `reply::Templates::load` found in the `[replies]` templates, as problems
    /// of this file: `FILE: replies.templates: template fr/not-registered: … does not exist`.
    /// The templates are read once, by whoever loads them (the engine, `config check`), not
    /// while the file is validated.
    pub fn template_problems(&self, problems: Vec<String>) -> Vec<ConfigProblem> {
        let file = self.path.display().to_string();
        problems
            .into_iter()
            .map(|message| ConfigProblem {
                file: file.clone(),
                key: "replies.templates".to_string(),
                message,
            })
            .collect()
    }

    /// What to do for a reason (after `[actions]`).
    pub fn action(&self, reason: Reason) -> Action {
        self.policy.action(reason)
    }
}

/// Collects problems while turning the raw file into a [`Config`].
struct Checker {
    file: String,
    base: PathBuf,
    problems: Vec<ConfigProblem>,
}

impl Checker {
    fn problem(&mut self, key: &str, message: impl Into<String>) {
        self.problems.push(ConfigProblem {
            file: self.file.clone(),
            key: key.to_string(),
            message: message.into(),
        });
    }

    fn path(&self, value: &str) -> PathBuf {
        let path = Path::new(value);
        if path.is_absolute() {
            path.to_path_buf()
        } else {
            self.base.join(path)
        }
    }

    fn duration(&mut self, key: &str, value: &str) -> Duration {
        parse_duration(value).unwrap_or_else(|e| {
            self.problem(key, format!("bad duration: {e}"));
            Duration::ZERO
        })
    }

    fn address(
        &mut self,
        key: &str,
        value: &str,
        rules: &AddressRules,
    ) -> Option<NormalizedAddress> {
        match NormalizedAddress::parse(value, rules) {
            Ok(address) => Some(address),
            Err(e) => {
                self.problem(key, format!("bad address {value:?}: {e}"));
                None
            }
        }
    }

    fn socket(&mut self, key: &str, value: &str) -> Option<SocketAddr> {
        match value.parse() {
            Ok(addr) => Some(addr),
            Err(_) => {
                self.problem(
                    key,
                    format!("bad listen address {value:?}: expected IP:PORT, e.g. \"127.0.0.1:2525\" or \"[::1]:2525\""),
                );
                None
            }
        }
    }

    fn positive(&mut self, key: &str, value: u64) {
        if value == 0 {
            self.problem(key, "must be greater than 0");
        }
    }

    fn validate(&mut self, raw: file::ConfigFile, path: &Path) -> Config {
        let address_rules = self.address_rules(&raw.addresses);
        let server = self.server(raw.server);
        let mut support_addresses = Vec::new();
        if raw.mailboxes.addresses.is_empty() {
            self.problem(
                "mailboxes.addresses",
                "at least one support address is needed",
            );
        }
        for value in &raw.mailboxes.addresses {
            if let Some(a) = self.address("mailboxes.addresses", value, &address_rules) {
                support_addresses.push(a);
            }
        }
        let directory_path = self.path(&raw.directory.path);
        if !directory_path.is_file() {
            self.problem(
                "directory.path",
                format!("directory file {} does not exist", directory_path.display()),
            );
        }
        let mut policy = self.policy(&raw.policy, &raw.actions, &raw.category);
        let authentication = self.authentication(raw.authentication);
        let pipe_timeout = self.duration("queue.pipe_timeout", &raw.queue.pipe_timeout);
        let queue = match parse_target(&raw.queue.target) {
            Some(Target::Maildir(p)) => QueueTarget::Maildir(self.path(&p)),
            Some(Target::Pipe(line)) => self.pipe(&line, pipe_timeout),
            Some(Target::Smtp(host, port)) => QueueTarget::Smtp { host, port },
            _ => {
                self.problem(
                    "queue.target",
                    format!(
                        "{:?}: expected \"maildir:PATH\", \"smtp://HOST:PORT\" or \"pipe:/PATH/TO/COMMAND ARGS\"",
                        raw.queue.target
                    ),
                );
                QueueTarget::Maildir(PathBuf::new())
            }
        };
        let spool = self.spool(&raw.spool, &queue);
        let replies = self.replies(raw.replies, &address_rules);
        policy.support_addresses = support_addresses.clone();
        // Never reply to ourselves: neither the reply address nor the support mailbox.
        policy.own_addresses = std::iter::once(replies.from.clone())
            .chain(support_addresses.iter().cloned())
            .collect();
        policy.require_dmarc = authentication.require_dmarc;
        policy.reply_interval = replies.interval;
        let log_format = match raw.log.format.as_str() {
            "text" => LogFormat::Text,
            "json" => LogFormat::Json,
            other => {
                self.problem(
                    "log.format",
                    format!("{other:?}: expected \"text\" or \"json\""),
                );
                LogFormat::Text
            }
        };
        if tracing_subscriber::EnvFilter::try_new(&raw.log.level).is_err() {
            self.problem(
                "log.level",
                format!(
                    "{:?}: expected e.g. \"info\" or \"supportgate=debug\"",
                    raw.log.level
                ),
            );
        }
        let metrics_listen = raw
            .metrics
            .listen
            .as_deref()
            .and_then(|v| self.socket("metrics.listen", v));
        Config {
            path: path.to_path_buf(),
            server,
            support_addresses,
            address_rules,
            directory_path,
            policy,
            authentication,
            queue,
            replies,
            quarantine_path: self.path(&raw.quarantine.path),
            spool,
            reply_memory_path: self.path(&raw.reply_memory.path),
            log_format,
            log_level: raw.log.level,
            log_file: raw.log.file.as_deref().map(|f| self.path(f)),
            metrics_listen,
        }
    }

    /// `[queue] target = "pipe:..."`: the program must exist and be executable.
    fn pipe(&mut self, line: &str, timeout: Duration) -> QueueTarget {
        use std::os::unix::fs::PermissionsExt;
        let mut words = match split_command(line) {
            Ok(words) => words.into_iter(),
            Err(e) => {
                self.problem("queue.target", format!("pipe command {line:?}: {e}"));
                Vec::new().into_iter()
            }
        };
        let program = words.next().map(|p| self.path(&p)).unwrap_or_default();
        let executable = std::fs::metadata(&program)
            .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0);
        if !executable {
            self.problem(
                "queue.target",
                format!(
                    "pipe command {} is not an executable file (write an absolute path, e.g. \"pipe:/usr/bin/rt-mailgate --queue support\")",
                    program.display()
                ),
            );
        }
        if timeout.is_zero() {
            self.problem("queue.pipe_timeout", "must be greater than 0");
        }
        QueueTarget::Pipe(PipeCommand {
            program,
            args: words.collect(),
            timeout,
        })
    }

    fn address_rules(&mut self, raw: &file::AddressesFile) -> AddressRules {
        let case_insensitive_local_part = match raw.local_part_case.as_str() {
            "insensitive" => true,
            "sensitive" => false,
            other => {
                self.problem(
                    "addresses.local_part_case",
                    format!("{other:?}: expected \"insensitive\" or \"sensitive\""),
                );
                true
            }
        };
        let mut chars = raw.subaddress_separator.chars();
        let subaddress_separator = match (chars.next(), chars.next()) {
            (Some(c), None) if !c.is_alphanumeric() && c != '@' => c,
            _ => {
                self.problem(
                    "addresses.subaddress_separator",
                    "expected one punctuation character, e.g. \"+\"",
                );
                '+'
            }
        };
        AddressRules {
            case_insensitive_local_part,
            strip_subaddress: raw.strip_sender_subaddress,
            subaddress_separator,
        }
    }

    fn server(&mut self, raw: file::ServerFile) -> ServerSettings {
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

    fn policy(
        &mut self,
        raw: &file::PolicyFile,
        actions: &BTreeMap<String, String>,
        categories: &[file::CategoryFile],
    ) -> PolicySettings {
        let mut settings = PolicySettings::default();
        settings.account_order.clear();
        for name in &raw.account_order {
            match IdentificationStrategy::from_str(name) {
                Ok(s) if !settings.account_order.contains(&s) => settings.account_order.push(s),
                Ok(_) => self.problem("policy.account_order", format!("{name:?} is listed twice")),
                Err(()) => self.problem(
                    "policy.account_order",
                    format!(
                        "{name:?}: expected recipient-tag, recipient-mailbox, subject or sender"
                    ),
                ),
            }
        }
        settings.categories_match_body = raw.categories_match_body;
        settings.category_body_chars = raw.category_body_chars;
        settings.notify_privileged = raw.notify_privileged;
        for (reason, action) in actions {
            let key = format!("actions.{reason}");
            let Ok(reason) = Reason::from_str(reason) else {
                let known: Vec<_> = Reason::ALL.iter().map(|r| r.code()).collect();
                self.problem(
                    &key,
                    format!("unknown reason code; known: {}", known.join(", ")),
                );
                continue;
            };
            match Action::from_str(action) {
                Ok(action) => settings.set_action(reason, action),
                Err(()) => self.problem(
                    &key,
                    format!(
                        "unknown action {action:?}: expected forward, reply, reject or quarantine"
                    ),
                ),
            }
        }
        for (i, category) in categories.iter().enumerate() {
            let key = format!("category[{i}] ({})", category.name);
            let requires = match category.requires.as_str() {
                "owner" => Role::Owner,
                "admin" => Role::Admin,
                other => {
                    self.problem(
                        &format!("{key}.requires"),
                        format!("{other:?}: expected \"owner\" or \"admin\""),
                    );
                    Role::Admin
                }
            };
            if category.patterns.is_empty() {
                self.problem(&format!("{key}.patterns"), "at least one pattern is needed");
            }
            match CategoryRule::new(&category.name, requires, &category.patterns) {
                Ok(rule) => settings.categories.push(rule),
                Err(e) => self.problem(&format!("{key}.patterns"), e),
            }
        }
        settings
    }

    fn authentication(&mut self, raw: file::AuthenticationFile) -> AuthenticationSettings {
        let mode = match raw.mode.as_str() {
            "off" => AuthenticationMode::Off,
            "trusted-header" => AuthenticationMode::TrustedHeader,
            "verify" => AuthenticationMode::Verify,
            other => {
                self.problem(
                    "authentication.mode",
                    format!("{other:?}: expected \"verify\", \"trusted-header\" or \"off\""),
                );
                AuthenticationMode::Off
            }
        };
        if mode == AuthenticationMode::TrustedHeader && raw.trusted_authserv_ids.is_empty() {
            self.problem(
                "authentication.trusted_authserv_ids",
                "mode \"trusted-header\" needs at least one trusted authserv-id",
            );
        }
        let nameservers = raw
            .nameservers
            .iter()
            .filter_map(|v| self.socket("authentication.nameservers", v))
            .collect();
        if raw.temperror != "defer" && raw.temperror != "quarantine" {
            self.problem(
                "authentication.temperror",
                "expected \"defer\" or \"quarantine\"",
            );
        }
        AuthenticationSettings {
            mode,
            trusted_authserv_ids: raw.trusted_authserv_ids,
            nameservers,
            dns_timeout: self.duration("authentication.dns_timeout", &raw.dns_timeout),
            require_dmarc: raw.require_dmarc,
            quarantine_on_temperror: raw.temperror == "quarantine",
        }
    }

    fn replies(&mut self, raw: file::RepliesFile, rules: &AddressRules) -> ReplySettings {
        let from = self
            .address("replies.from", &raw.from, rules)
            .unwrap_or_else(|| {
                NormalizedAddress::parse("invalid@invalid.example", rules).expect("valid literal")
            });
        let transport = if raw.transport == "mx" {
            ReplyTransport::Mx
        } else {
            match parse_target(&raw.transport) {
                Some(Target::Maildir(p)) => ReplyTransport::Maildir(self.path(&p)),
                Some(Target::Smtp(host, port)) => ReplyTransport::Smtp { host, port },
                Some(Target::Pipe(_)) | None => {
                    self.problem(
                        "replies.transport",
                        format!(
                            "{:?}: expected \"maildir:PATH\", \"smtp://HOST:PORT\" or \"mx\"",
                            raw.transport
                        ),
                    );
                    ReplyTransport::Mx
                }
            }
        };
        let default_language = Language::from_tag(&raw.default_language).unwrap_or_else(|| {
            self.problem(
                "replies.default_language",
                format!("{:?}: expected \"fr\" or \"en\"", raw.default_language),
            );
            Language::En
        });
        let interval = self.duration("replies.interval", &raw.interval);
        let templates = self.path(&raw.templates);
        let mut template_files = BTreeMap::new();
        for (name, value) in &raw.template_files {
            let valid_name = name.split_once('/').is_some_and(|(lang, reason)| {
                Language::from_tag(lang).is_some()
                    && (reason == NOTIFY_TEMPLATE || Reason::from_str(reason).is_ok())
            });
            if !valid_name {
                self.problem(
                    &format!("replies.template_files.\"{name}\""),
                    "expected LANG/REASON, e.g. \"fr/not-registered\" or \"en/notify-privileged\"",
                );
            }
            template_files.insert(name.clone(), self.path(value));
        }
        ReplySettings {
            from,
            transport,
            default_language,
            interval,
            templates,
            template_files,
            sign_in_url: raw.sign_in_url,
        }
    }
}

enum Target {
    Maildir(String),
    Smtp(String, u16),
    Pipe(String),
}

fn parse_target(value: &str) -> Option<Target> {
    if let Some(line) = value.strip_prefix("pipe:") {
        return (!line.trim().is_empty()).then(|| Target::Pipe(line.to_string()));
    }
    if let Some(path) = value.strip_prefix("maildir:") {
        return (!path.is_empty()).then(|| Target::Maildir(path.to_string()));
    }
    let rest = value.strip_prefix("smtp://")?.trim_end_matches('/');
    let (host, port) = rest.rsplit_once(':')?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let port: u16 = port.parse().ok().filter(|p| *p > 0)?;
    (!host.is_empty()).then(|| Target::Smtp(host.to_string(), port))
}
