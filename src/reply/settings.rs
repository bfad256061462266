//! `[replies]` as the reply layer uses it: who replies, how replies leave, where the templates
//! are. Read and validated by `config`; nothing here reads a file.

use crate::address::NormalizedAddress;
use crate::directory::Language;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

/// The name of the P4 notification template (`fr/notify-privileged`).
pub const NOTIFY_TEMPLATE: &str = "notify-privileged";

/// How auto-replies leave (`[replies] transport`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReplyTransport {
    Maildir(PathBuf),
    Smtp { host: String, port: u16 },
    Mx,
}

#[derive(Debug, Clone)]
pub struct ReplySettings {
    pub from: NormalizedAddress,
    pub transport: ReplyTransport,
    pub default_language: Language,
    pub interval: Duration,
    pub templates: PathBuf,
    /// `"fr/not-registered" = "path"` overrides.
    pub template_files: BTreeMap<String, PathBuf>,
    pub sign_in_url: String,
    /// Whom the customers of a suspended or closed account contact (`{{billing_contact}}`).
    pub billing_contact: String,
    /// At most this many auto-replies and notifications queued per hour, whatever their
    /// recipients (a cap against reply storms).
    pub max_per_hour: u32,
}
