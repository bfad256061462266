//! Configuration: the one place that owns defaults and validation (`supportgate.toml`, SPEC §9).
//!
//! [`Config::load`] reads the file, applies defaults (in [`file`]), checks every key and returns
//! either a ready [`Config`] or every problem found, each with its key and reason, for
//! `supportgate config check`. Relative paths are resolved against the configuration file's
//! own folder, so a configuration tree can be moved as a whole.
//!
//! One file per section: `server`, `authentication`, `policy` (with `[addresses]`), `targets`
//! (`[queue]`), `replies`, `spool`, `console` (with `[quarantine] retention`), `suspension`
//! (`[lists]`, `[limits]`, `[sender_history]`), `state` (`[state]`, with `[reply_memory]`), `approval`; each adds its part to the `Checker` that collects the
//! problems. A layer's own settings type lives with the layer and is named here too:
//! [`ReplySettings`] in `reply`, [`BareLineEndings`](crate::smtp::BareLineEndings) in `smtp`.

mod approval;
mod authentication;
mod checker;
mod console;
mod directory;
mod duration;
mod file;
mod milter;
mod pipe;
mod policy;
mod replies;
mod server;
mod spool;
mod state;
mod suspension;
mod targets;
pub(crate) mod toml_error;

/// `[replies]`, as the reply layer's own settings type.
pub use crate::reply::{ReplySettings, ReplyTransport};
pub use approval::ApprovalSettings;
pub use authentication::{AuthenticationMode, AuthenticationSettings};
pub use checker::ConfigProblem;
pub use console::{ConsoleSettings, ConsoleSignIn};
pub use directory::{DirectorySource, PostgresDirectorySettings};
pub use duration::{format_duration, parse_duration};
pub use milter::MilterSettings;
pub use pipe::{split_command, PipeCommand};
pub use server::ServerSettings;
pub use spool::SpoolSettings;
pub use state::{EmbeddedStateFiles, PostgresStateSettings, StateSettings};
pub use suspension::SenderLimits;
pub use targets::QueueTarget;

use crate::address::{AddressRules, NormalizedAddress};
use crate::policy::{Action, PolicySettings, Reason};
use checker::Checker;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// `[log] flush_interval` by default: INFO lines written together at most 5 ms after the first.
pub const DEFAULT_LOG_FLUSH_INTERVAL: Duration = Duration::from_millis(5);
/// The longest `[log] flush_interval` accepted (what a crash could lose of the log).
pub const MAX_LOG_FLUSH_INTERVAL: Duration = Duration::from_secs(1);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

/// A validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    pub path: PathBuf,
    pub server: ServerSettings,
    pub support_addresses: Vec<NormalizedAddress>,
    pub address_rules: AddressRules,
    /// `[directory] path`: the file of `source = "file"`.
    pub directory_path: PathBuf,
    pub directory_source: DirectorySource,
    pub policy: PolicySettings,
    pub authentication: AuthenticationSettings,
    pub queue: QueueTarget,
    pub replies: ReplySettings,
    pub quarantine_path: PathBuf,
    /// Kept messages older than this are purged by the running server.
    pub quarantine_retention: std::time::Duration,
    pub spool: SpoolSettings,
    /// `[approval]`: pending approvals (SPEC §11).
    pub approval: ApprovalSettings,
    /// `[state]`: where the reply memory and the sender history are kept (with `embedded`
    /// and no `[state] path`, the files of `[reply_memory]` and `[sender_history]`).
    pub state: StateSettings,
    /// `[limits]` windows (`mail-loop`).
    pub sender_limits: SenderLimits,
    pub log_format: LogFormat,
    pub log_level: String,
    pub log_file: Option<PathBuf>,
    /// How long INFO lines wait to be written together (`[log] flush_interval`; zero: each at
    /// once).
    pub log_flush_interval: Duration,
    pub metrics_listen: Option<SocketAddr>,
    pub milter: MilterSettings,
    /// `[console]`; `None`: no console.
    pub console: Option<ConsoleSettings>,
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

impl Checker {
    fn validate(&mut self, raw: file::ConfigFile, path: &Path) -> Config {
        let address_rules = self.address_rules(&raw.addresses);
        let milter = self.milter(&raw.milter);
        let server = self.server(raw.server, milter.listen.is_some());
        if let Some(crate::milter::MilterAddress::Inet(address)) = &milter.listen {
            if let Some(smtp) = server
                .listen
                .iter()
                .find(|&&a| crate::smtp::listener::overlap(a, *address))
            {
                self.problem(
                    "milter.listen",
                    format!("{address} overlaps server.listen {smtp}: both cannot be listened on"),
                );
            }
        }
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
        let directory_source = self.directory_source(&raw.directory, &directory_path);
        let mut policy = self.policy(&raw.policy, &raw.actions, &raw.category);
        self.lists(&raw.lists, &address_rules, &mut policy);
        let sender_limits = self.limits(&raw.limits, &mut policy);
        let state = self.state(&raw.state, &raw.reply_memory, &raw.sender_history);
        let authentication = self.authentication(raw.authentication);
        let queue = self.queue(&raw.queue);
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
        let log_flush_interval = self.duration("log.flush_interval", &raw.log.flush_interval);
        if log_flush_interval > MAX_LOG_FLUSH_INTERVAL {
            self.problem(
                "log.flush_interval",
                format!(
                    "{:?} is longer than {}: a crash would lose that much of the log",
                    raw.log.flush_interval,
                    format_duration(MAX_LOG_FLUSH_INTERVAL)
                ),
            );
        }
        let metrics_listen = raw
            .metrics
            .listen
            .as_deref()
            .and_then(|v| self.socket("metrics.listen", v));
        if let Some(metrics) = metrics_listen {
            if let Some(smtp) = server
                .listen
                .iter()
                .find(|&&a| crate::smtp::listener::overlap(a, metrics))
            {
                self.problem(
                    "metrics.listen",
                    format!("{metrics} overlaps server.listen {smtp}: both cannot be listened on"),
                );
            }
        }
        let console = self.console(&raw.console);
        if let (Some(console), Some(metrics)) = (&console, metrics_listen) {
            if crate::smtp::listener::overlap(console.listen, metrics) {
                self.problem(
                    "console.listen",
                    format!("{} overlaps metrics.listen {metrics}", console.listen),
                );
            }
        }
        if let Some(console) = &console {
            if let Some(smtp) = server
                .listen
                .iter()
                .find(|&&a| crate::smtp::listener::overlap(a, console.listen))
            {
                self.problem(
                    "console.listen",
                    format!("{} overlaps server.listen {smtp}", console.listen),
                );
            }
        }
        let quarantine_retention = self.quarantine_retention(&raw.quarantine);
        let approval = self.approval(&raw.approval, &policy);
        Config {
            path: path.to_path_buf(),
            server,
            support_addresses,
            address_rules,
            directory_path,
            directory_source,
            policy,
            authentication,
            queue,
            replies,
            quarantine_path: self.path(&raw.quarantine.path),
            quarantine_retention,
            spool,
            approval,
            state,
            sender_limits,
            log_format,
            log_level: raw.log.level,
            log_file: raw.log.file.as_deref().map(|f| self.path(f)),
            log_flush_interval,
            metrics_listen,
            milter,
            console,
        }
    }
}
