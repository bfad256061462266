//! `[milter]`: the milter front (SPEC §15), off unless `listen` is set. The message limits are
//! `[server]`'s, the same on both fronts.

use super::checker::Checker;
use super::duration::format_duration;
use crate::milter::MilterAddress;
use serde::Deserialize;
use std::time::Duration;

/// Postfix keeps its milter connection open for the whole SMTP session, silent while the client
/// is (`smtpd_timeout`, 300 s): more than that.
const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(600);

/// Postfix's default process limit for its smtpd (100): one milter connection each.
const DEFAULT_MAX_CONNECTIONS: u32 = 100;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MilterFile {
    pub listen: Option<String>,
    pub max_connections: u32,
    pub idle_timeout: String,
}

impl Default for MilterFile {
    fn default() -> Self {
        MilterFile {
            listen: None,
            max_connections: DEFAULT_MAX_CONNECTIONS,
            idle_timeout: format_duration(DEFAULT_IDLE_TIMEOUT),
        }
    }
}

#[derive(Debug, Clone)]
pub struct MilterSettings {
    /// None: no milter front.
    pub listen: Option<MilterAddress>,
    pub max_connections: u32,
    pub idle_timeout: Duration,
}

impl Checker {
    pub(super) fn milter(&mut self, raw: &MilterFile) -> MilterSettings {
        let listen = raw.listen.as_deref().and_then(|value| {
            let parsed = MilterAddress::parse(value);
            if parsed.is_none() {
                self.problem(
                    "milter.listen",
                    format!("bad address {value:?}: expected IP:PORT, e.g. \"127.0.0.1:8891\", or \"unix:/run/supportgate/milter.sock\""),
                );
            }
            parsed
        });
        self.positive("milter.max_connections", raw.max_connections.into());
        let idle_timeout = self.duration("milter.idle_timeout", &raw.idle_timeout);
        if idle_timeout.is_zero() {
            self.problem("milter.idle_timeout", "must be more than zero");
        }
        MilterSettings {
            listen,
            max_connections: raw.max_connections,
            idle_timeout,
        }
    }
}
