//! What the directory checks report: one [`Finding`] per problem, about one account. Both the
//! per-account checks done while indexing (`index`) and the cross checks (`lint`) produce them.

use serde::Serialize;
use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Warning,
    Error,
}

/// One problem in the directory, about one account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    pub severity: Severity,
    pub account: String,
    pub message: String,
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let level = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        write!(f, "{level}: account {:?}: {}", self.account, self.message)
    }
}

impl Finding {
    pub(super) fn error(account: &str, message: String) -> Finding {
        Finding {
            severity: Severity::Error,
            account: account.to_string(),
            message,
        }
    }
}
