//! `[console]`: the web console for support staff (SPEC §13), and `[quarantine] retention`.

use super::checker::Checker;
use super::file;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// How support staff sign in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConsoleSignIn {
    /// Names and argon2id hashes in a TOML file (`supportgate console passwd NAME`).
    Users(PathBuf),
    /// The vendor's SSO proxy names the user in this request header (loopback listener only).
    TrustedHeader(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsoleSettings {
    pub listen: SocketAddr,
    pub sign_in: ConsoleSignIn,
    /// The users file, also when the trusted header signs in (`console passwd` writes it).
    pub users: PathBuf,
    /// Append-only JSON lines: who did what, when.
    pub audit_log: PathBuf,
    pub session_lifetime: Duration,
    /// Failed sign-ins allowed per user and per client IP within the window.
    pub max_failed_sign_ins: u32,
    pub failed_sign_in_window: Duration,
}

impl ConsoleSettings {
    /// Cookies get `Secure` unless the console listens on loopback (plain HTTP there).
    pub fn secure_cookies(&self) -> bool {
        !self.listen.ip().is_loopback()
    }
}

impl Checker {
    pub(super) fn console(&mut self, raw: &file::ConsoleFile) -> Option<ConsoleSettings> {
        let users = self.path(&raw.users);
        let audit_log = self.path(&raw.audit_log);
        let session_lifetime = self.duration("console.session_lifetime", &raw.session_lifetime);
        if session_lifetime.is_zero() {
            self.problem("console.session_lifetime", "must be greater than 0");
        }
        let failed_sign_in_window =
            self.duration("console.failed_sign_in_window", &raw.failed_sign_in_window);
        if failed_sign_in_window.is_zero() {
            self.problem("console.failed_sign_in_window", "must be greater than 0");
        }
        if raw.max_failed_sign_ins == 0 {
            self.problem("console.max_failed_sign_ins", "must be at least 1");
        }
        let listen = self.socket("console.listen", raw.listen.as_deref()?)?;
        let sign_in = match raw.trusted_user_header.as_deref() {
            None => ConsoleSignIn::Users(users.clone()),
            Some(name) => {
                let token = !name.is_empty()
                    && name
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
                if !token {
                    self.problem(
                        "console.trusted_user_header",
                        format!("{name:?} is not a header name"),
                    );
                }
                // Anyone who can reach the port could name any user: only the proxy on this
                // machine may.
                if !listen.ip().is_loopback() {
                    self.problem(
                        "console.trusted_user_header",
                        format!(
                            "only with a loopback console.listen (127.0.0.1 or [::1]), not {listen}: \
                             anyone reaching the port could sign in as anyone"
                        ),
                    );
                }
                ConsoleSignIn::TrustedHeader(name.to_string())
            }
        };
        Some(ConsoleSettings {
            listen,
            sign_in,
            users,
            audit_log,
            session_lifetime,
            max_failed_sign_ins: raw.max_failed_sign_ins,
            failed_sign_in_window,
        })
    }

    pub(super) fn quarantine_retention(&mut self, raw: &file::QuarantineFile) -> Duration {
        let retention = self.duration("quarantine.retention", &raw.retention);
        if retention < Duration::from_secs(3600) {
            self.problem("quarantine.retention", "at least 1h");
        }
        retention
    }
}

#[cfg(test)]
mod tests {
    use crate::config::Config;
    use std::path::Path;

    /// The problems about `key` when the configuration is `text`.
    fn problems(text: &str, key: &str) -> Vec<String> {
        match Config::from_toml(text, Path::new("/nowhere/supportgate.toml")) {
            Ok(_) => Vec::new(),
            Err(problems) => problems
                .into_iter()
                .filter(|p| p.key == key)
                .map(|p| p.message)
                .collect(),
        }
    }

    #[test]
    fn the_sso_header_needs_a_loopback_listener() {
        let off = "[console]\nlisten = \"0.0.0.0:9326\"\ntrusted_user_header = \"X-Remote-User\"\n";
        let found = problems(off, "console.trusted_user_header");
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(found[0].contains("loopback"), "{found:?}");
        let on =
            "[console]\nlisten = \"127.0.0.1:9326\"\ntrusted_user_header = \"X-Remote-User\"\n";
        assert!(problems(on, "console.trusted_user_header").is_empty());
        let v6 = "[console]\nlisten = \"[::1]:9326\"\ntrusted_user_header = \"X-Remote-User\"\n";
        assert!(problems(v6, "console.trusted_user_header").is_empty());
        let bad = "[console]\nlisten = \"127.0.0.1:9326\"\ntrusted_user_header = \"X Remote\"\n";
        assert_eq!(problems(bad, "console.trusted_user_header").len(), 1);
    }

    #[test]
    fn limits_and_retention_are_checked() {
        let zero = "[console]\nlisten = \"127.0.0.1:9326\"\nmax_failed_sign_ins = 0\n";
        assert_eq!(problems(zero, "console.max_failed_sign_ins").len(), 1);
        let overlap = "[console]\nlisten = \"127.0.0.1:2525\"\n";
        assert_eq!(problems(overlap, "console.listen").len(), 1);
        assert_eq!(
            problems(
                "[quarantine]\nretention = \"10m\"\n",
                "quarantine.retention"
            )
            .len(),
            1
        );
        assert!(problems(
            "[quarantine]\nretention = \"30d\"\n",
            "quarantine.retention"
        )
        .is_empty());
    }
}
