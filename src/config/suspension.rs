//! The settings of SPEC §10's suspension causes: `[lists]` (`block`, `no_reply_local_parts`,
//! `out_of_office_subjects`), `[limits]` (`mail-loop`: `sender_messages`, `sender_window`,
//! `sender_block`); where the counters are kept is `[state]`'s (`state.rs`).

use super::checker::Checker;
use crate::address::AddressRules;
use crate::policy::{Action, PolicySettings, Reason};
use serde::Deserialize;
use std::time::Duration;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ListsFile {
    pub block: Vec<String>,
    pub no_reply_local_parts: Vec<String>,
    pub out_of_office_subjects: Vec<String>,
}

impl Default for ListsFile {
    fn default() -> Self {
        ListsFile {
            block: Vec::new(),
            no_reply_local_parts: ["noreply", "no-reply", "donotreply", "do-not-reply"]
                .map(String::from)
                .to_vec(),
            out_of_office_subjects: [
                "Out of Office",
                "Out of Office AutoReply",
                "Automatic reply",
                "Auto-reply",
                "Autoreply",
                "Auto response",
                "Réponse automatique",
                "Absence du bureau",
                "Message d'absence",
                "Absent du bureau",
            ]
            .map(String::from)
            .to_vec(),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LimitsFile {
    pub sender_messages: u32,
    pub sender_window: String,
    pub sender_block: String,
}

impl Default for LimitsFile {
    fn default() -> Self {
        LimitsFile {
            sender_messages: 20,
            sender_window: "10m".into(),
            sender_block: "1h".into(),
        }
    }
}

/// `[limits]` as the pipeline uses them (the count limit itself is the policy's:
/// [`PolicySettings::sender_messages`]; where the counts are kept is `[state]`'s).
#[derive(Debug, Clone)]
pub struct SenderLimits {
    pub window: Duration,
    pub block: Duration,
}

impl Checker {
    pub(super) fn lists(
        &mut self,
        raw: &ListsFile,
        rules: &AddressRules,
        policy: &mut PolicySettings,
    ) {
        for (i, entry) in raw.block.iter().enumerate() {
            if let Err(e) = policy.block.add(entry, rules) {
                self.problem(&format!("lists.block[{i}]"), e);
            }
        }
        for (i, local) in raw.no_reply_local_parts.iter().enumerate() {
            let local = local.trim();
            if local.is_empty() || local.contains(['@', ' ']) {
                self.problem(
                    &format!("lists.no_reply_local_parts[{i}]"),
                    format!("{local:?}: expected a local part without @, e.g. \"noreply\""),
                );
            } else {
                policy.no_reply_local_parts.push(local.to_lowercase());
            }
        }
        for (i, subject) in raw.out_of_office_subjects.iter().enumerate() {
            let subject = subject.trim();
            if subject.is_empty() {
                self.problem(
                    &format!("lists.out_of_office_subjects[{i}]"),
                    "empty: every Subject would match",
                );
            } else {
                policy.out_of_office_subjects.push(subject.to_lowercase());
            }
        }
        if policy.action(Reason::Automated) == Action::Reply {
            self.problem(
                "actions.automated",
                "automatic mail is never replied to (RFC 3834): expected quarantine, reject or forward",
            );
        }
    }

    pub(super) fn limits(&mut self, raw: &LimitsFile, policy: &mut PolicySettings) -> SenderLimits {
        self.positive("limits.sender_messages", raw.sender_messages.into());
        policy.sender_messages = raw.sender_messages;
        let window = self.duration("limits.sender_window", &raw.sender_window);
        let block = self.duration("limits.sender_block", &raw.sender_block);
        for (key, text) in [
            ("limits.sender_window", &raw.sender_window),
            ("limits.sender_block", &raw.sender_block),
        ] {
            if super::parse_duration(text).is_ok_and(|d| d.is_zero()) {
                self.problem(key, "must be longer than 0s");
            }
        }
        SenderLimits { window, block }
    }
}
