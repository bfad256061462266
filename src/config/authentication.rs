//! `[authentication]`: how a sender is authenticated (SPEC §4): not at all, by a trusted relay's
//! `Authentication-Results`, or by verifying SPF, DKIM and DMARC ourselves.

use super::checker::Checker;
use super::file;
use std::net::SocketAddr;
use std::time::Duration;

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

impl Checker {
    pub(super) fn authentication(
        &mut self,
        raw: file::AuthenticationFile,
    ) -> AuthenticationSettings {
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
}
