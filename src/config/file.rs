//! The configuration file as written (`supportgate.toml`): every key, with its default.
//! Unknown keys are refused (`deny_unknown_fields`) so that a typo is reported, not ignored.

use super::duration::format_duration;
use super::DEFAULT_LOG_FLUSH_INTERVAL;
use crate::smtp::limits::DEFAULT_SHUTDOWN_GRACE;
use crate::smtp::{SessionLimits, Timeouts};
use serde::Deserialize;
use std::collections::BTreeMap;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ConfigFile {
    pub server: ServerFile,
    pub mailboxes: MailboxesFile,
    pub addresses: AddressesFile,
    pub directory: DirectoryFile,
    pub policy: PolicyFile,
    pub authentication: AuthenticationFile,
    pub queue: QueueFile,
    pub replies: RepliesFile,
    pub quarantine: QuarantineFile,
    pub spool: SpoolFile,
    pub reply_memory: super::state::ReplyMemoryFile,
    pub approval: super::approval::ApprovalFile,
    pub state: super::state::StateFile,
    pub actions: BTreeMap<String, String>,
    pub category: Vec<CategoryFile>,
    pub lists: super::suspension::ListsFile,
    pub limits: super::suspension::LimitsFile,
    pub sender_history: super::state::SenderHistoryFile,
    pub log: LogFile,
    pub metrics: MetricsFile,
    pub milter: super::milter::MilterFile,
    pub console: ConsoleFile,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerFile {
    pub listen: Vec<String>,
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
    pub min_data_rate: u32,
    pub bare_line_endings: String,
    pub shutdown_grace: String,
    pub pid_file: Option<String>,
    pub xforward_from: Vec<String>,
    pub timeouts: TimeoutsFile,
    pub tls: Option<TlsFile>,
}

/// The limits are the protocol layer's own defaults (`smtp::limits`), so each is written once.
impl Default for ServerFile {
    fn default() -> Self {
        let limits = SessionLimits::default();
        ServerFile {
            listen: vec!["127.0.0.1:2525".into()],
            hostname: "supportgate.localhost".into(),
            max_message_size: limits.max_message_size as u64,
            max_recipients: saturating_u32(limits.max_recipients),
            max_line_length: saturating_u32(limits.max_line_length),
            max_connections: saturating_u32(limits.max_connections),
            max_connections_per_ip: saturating_u32(limits.max_connections_per_ip),
            max_errors: limits.max_errors,
            max_junk_commands: limits.max_junk_commands,
            max_header_size: saturating_u32(limits.max_header_size),
            max_header_count: saturating_u32(limits.max_header_count),
            min_data_rate: u32::try_from(limits.min_data_rate).unwrap_or(u32::MAX),
            bare_line_endings: "reject".into(),
            shutdown_grace: format_duration(DEFAULT_SHUTDOWN_GRACE),
            pid_file: None,
            xforward_from: Vec::new(),
            timeouts: TimeoutsFile::default(),
            tls: None,
        }
    }
}

/// RFC 5321 §4.5.3.2 server timeouts.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TimeoutsFile {
    pub command: String,
    pub data_block: String,
    pub data_termination: String,
}

impl Default for TimeoutsFile {
    fn default() -> Self {
        let timeouts = Timeouts::default();
        TimeoutsFile {
            command: format_duration(timeouts.command),
            data_block: format_duration(timeouts.data_block),
            data_termination: format_duration(timeouts.data_termination),
        }
    }
}

/// The file's limits are `u32`; a default too large for one would be meant as "no limit".
fn saturating_u32(value: usize) -> u32 {
    u32::try_from(value).unwrap_or(u32::MAX)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsFile {
    pub certificate: String,
    pub key: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MailboxesFile {
    pub addresses: Vec<String>,
}

impl Default for MailboxesFile {
    fn default() -> Self {
        MailboxesFile {
            addresses: vec!["support@vendor.example".into()],
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AddressesFile {
    pub local_part_case: String,
    pub strip_sender_subaddress: bool,
    pub subaddress_separator: String,
}

impl Default for AddressesFile {
    fn default() -> Self {
        AddressesFile {
            local_part_case: "insensitive".into(),
            strip_sender_subaddress: false,
            subaddress_separator: "+".into(),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DirectoryFile {
    pub source: String,
    pub path: String,
    pub url: Option<String>,
    pub refresh: String,
    pub channel: String,
}

impl Default for DirectoryFile {
    fn default() -> Self {
        DirectoryFile {
            source: "file".into(),
            path: "directory.toml".into(),
            url: None,
            refresh: "5m".into(),
            channel: "supportgate_directory".into(),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PolicyFile {
    pub account_order: Vec<String>,
    pub categories_match_body: bool,
    pub category_body_chars: usize,
    pub notify_privileged: bool,
}

impl Default for PolicyFile {
    fn default() -> Self {
        PolicyFile {
            account_order: vec![
                "recipient-tag".into(),
                "recipient-mailbox".into(),
                "subject".into(),
                "sender".into(),
            ],
            categories_match_body: true,
            category_body_chars: 500,
            notify_privileged: true,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuthenticationFile {
    pub mode: String,
    pub trusted_authserv_ids: Vec<String>,
    pub nameservers: Vec<String>,
    pub dns_timeout: String,
    pub require_dmarc: bool,
    pub temperror: String,
}

impl Default for AuthenticationFile {
    fn default() -> Self {
        AuthenticationFile {
            mode: "off".into(),
            trusted_authserv_ids: Vec::new(),
            nameservers: Vec::new(),
            dns_timeout: "5s".into(),
            require_dmarc: false,
            temperror: "defer".into(),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct QueueFile {
    pub target: String,
    pub pipe_timeout: String,
}

impl Default for QueueFile {
    fn default() -> Self {
        QueueFile {
            target: "maildir:../var/tickets".into(),
            pipe_timeout: "60s".into(),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RepliesFile {
    pub from: String,
    pub transport: String,
    pub default_language: String,
    pub interval: String,
    pub templates: String,
    pub template_files: BTreeMap<String, String>,
    pub sign_in_url: String,
    pub billing_contact: String,
    pub max_per_hour: u32,
}

impl Default for RepliesFile {
    fn default() -> Self {
        RepliesFile {
            from: "no-reply@vendor.example".into(),
            transport: "maildir:../var/outbox".into(),
            default_language: "en".into(),
            interval: "7d".into(),
            templates: "templates".into(),
            template_files: BTreeMap::new(),
            sign_in_url: "https://vendor.example/sign-in".into(),
            billing_contact: "billing@vendor.example".into(),
            max_per_hour: 500,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct QuarantineFile {
    pub path: String,
    pub retention: String,
}

impl Default for QuarantineFile {
    fn default() -> Self {
        QuarantineFile {
            path: "../var/quarantine".into(),
            // As Zendesk keeps suspended tickets (SPEC §13).
            retention: "14d".into(),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SpoolFile {
    /// None: on for `smtp://` and `pipe:` targets, off for a Maildir (already durable).
    pub enabled: Option<bool>,
    pub path: String,
    pub retry_schedule: Vec<String>,
    pub max_age: String,
}

impl Default for SpoolFile {
    fn default() -> Self {
        SpoolFile {
            enabled: None,
            path: "../var/spool".into(),
            retry_schedule: ["1m", "5m", "15m", "30m", "1h", "2h", "4h"]
                .map(String::from)
                .to_vec(),
            max_age: "5d".into(),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CategoryFile {
    pub name: String,
    #[serde(default = "default_requires")]
    pub requires: String,
    /// Language code → the name shown in replies; checked by the policy checker, so that an
    /// unknown language is named like any other problem.
    #[serde(default)]
    pub label: BTreeMap<String, String>,
    pub patterns: Vec<String>,
}

fn default_requires() -> String {
    "admin".into()
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogFile {
    pub format: String,
    pub level: String,
    pub file: Option<String>,
    pub flush_interval: String,
}

impl Default for LogFile {
    fn default() -> Self {
        LogFile {
            format: "text".into(),
            level: "info".into(),
            file: None,
            flush_interval: format_duration(DEFAULT_LOG_FLUSH_INTERVAL),
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MetricsFile {
    pub listen: Option<String>,
}

/// `[console]` (SPEC §13): no console unless `listen` is set.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ConsoleFile {
    pub listen: Option<String>,
    pub users: String,
    pub trusted_user_header: Option<String>,
    pub audit_log: String,
    pub session_lifetime: String,
    pub max_failed_sign_ins: u32,
    pub failed_sign_in_window: String,
}

impl Default for ConsoleFile {
    fn default() -> Self {
        ConsoleFile {
            listen: None,
            users: "console-users.toml".into(),
            trusted_user_header: None,
            audit_log: "../var/console-audit.jsonl".into(),
            session_lifetime: "8h".into(),
            max_failed_sign_ins: 5,
            failed_sign_in_window: "15m".into(),
        }
    }
}
