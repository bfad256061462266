//! `[approval]` (SPEC §11): where pending approvals are kept and how long they wait.
//! `hold` is only accepted for `authorization-required`: it needs an owner or admin to ask.

use super::checker::Checker;
use crate::policy::{Action, PolicySettings, Reason};
use serde::Deserialize;
use std::path::PathBuf;
use std::time::Duration;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ApprovalFile {
    pub path: String,
    pub expiry: String,
}

impl Default for ApprovalFile {
    fn default() -> Self {
        ApprovalFile {
            path: "../var/approvals.redb".into(),
            expiry: "7d".into(),
        }
    }
}

/// `[approval]`, validated.
#[derive(Debug, Clone)]
pub struct ApprovalSettings {
    /// The redb file of pending approvals.
    pub path: PathBuf,
    /// A request nobody approved or declined within this goes to the quarantine.
    pub expiry: Duration,
}

impl Checker {
    pub(super) fn approval(
        &mut self,
        raw: &ApprovalFile,
        policy: &PolicySettings,
    ) -> ApprovalSettings {
        let expiry = self.duration("approval.expiry", &raw.expiry);
        if super::parse_duration(&raw.expiry).is_ok_and(|d| d.is_zero()) {
            self.problem("approval.expiry", "must be longer than 0s");
        }
        for reason in Reason::ALL {
            if reason != Reason::AuthorizationRequired && policy.action(reason) == Action::Hold {
                self.problem(
                    &format!("actions.{reason}"),
                    "hold is only for authorization-required (it waits for the owner or an admin)",
                );
            }
        }
        ApprovalSettings {
            path: self.path(&raw.path),
            expiry,
        }
    }
}
