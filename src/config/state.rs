//! `[state]`: where what the gateway remembers between messages is kept (SPEC §12): the reply
//! memory, the `mail-loop` sender history (and, once issue 14 lands, pending approvals).
//! `embedded` (the default) keeps it in redb on this host; `postgres` in a database that every
//! gateway of a fleet shares.

use super::checker::Checker;
use super::duration::parse_duration;
use serde::Deserialize;
use std::path::PathBuf;
use std::time::Duration;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StateFile {
    pub backend: String,
    /// `embedded`: one redb file for everything; unset: the two files of `[reply_memory]` and
    /// `[sender_history]`, as before `[state]` existed.
    pub path: Option<String>,
    /// `postgres`: the connection string.
    pub url: Option<String>,
    /// `postgres`: connections kept open to the database.
    pub connections: u32,
    /// `postgres`: the longest a message waits for one state operation (or a connection).
    pub timeout: String,
}

impl Default for StateFile {
    fn default() -> Self {
        StateFile {
            backend: "embedded".into(),
            path: None,
            url: None,
            connections: 4,
            timeout: "2s".into(),
        }
    }
}

/// `[reply_memory]`: the embedded reply memory's own file when `[state] path` is not set.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ReplyMemoryFile {
    pub path: String,
}

impl Default for ReplyMemoryFile {
    fn default() -> Self {
        ReplyMemoryFile {
            path: "../var/reply-memory.redb".into(),
        }
    }
}

/// `[sender_history]`: the embedded sender history's own file when `[state] path` is not set.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SenderHistoryFile {
    pub path: String,
}

impl Default for SenderHistoryFile {
    fn default() -> Self {
        SenderHistoryFile {
            path: "../var/sender-history.redb".into(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StateSettings {
    Embedded(EmbeddedStateFiles),
    Postgres(PostgresStateSettings),
}

/// The redb file(s) of the embedded backend.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EmbeddedStateFiles {
    /// `[state] path`: one file, every table in it.
    One(PathBuf),
    /// `[reply_memory] path` and `[sender_history] path` (no `[state] path`).
    Separate {
        reply_memory: PathBuf,
        sender_history: PathBuf,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostgresStateSettings {
    pub url: String,
    pub connections: usize,
    pub timeout: Duration,
}

impl PostgresStateSettings {
    /// The database as logs name it, without the password.
    pub fn redacted_url(&self) -> String {
        super::directory::redacted_database_url(&self.url)
    }
}

/// Connections beyond this would only queue behind the database's own workers.
const MAX_CONNECTIONS: u32 = 64;

impl Checker {
    pub(super) fn state(
        &mut self,
        raw: &StateFile,
        reply_memory: &ReplyMemoryFile,
        sender_history: &SenderHistoryFile,
    ) -> StateSettings {
        match raw.backend.as_str() {
            "embedded" => {
                if raw.url.is_some() {
                    self.problem("state.url", "only with backend = \"postgres\"");
                }
                StateSettings::Embedded(match &raw.path {
                    Some(path) if path.trim().is_empty() => {
                        self.problem("state.path", "empty: leave it out to keep the two files of [reply_memory] and [sender_history]");
                        EmbeddedStateFiles::One(self.path("state.redb"))
                    }
                    Some(path) => EmbeddedStateFiles::One(self.path(path)),
                    None => EmbeddedStateFiles::Separate {
                        reply_memory: self.path(&reply_memory.path),
                        sender_history: self.path(&sender_history.path),
                    },
                })
            }
            "postgres" => StateSettings::Postgres(self.postgres_state(raw)),
            other => {
                self.problem(
                    "state.backend",
                    format!("{other:?}: expected \"embedded\" or \"postgres\""),
                );
                StateSettings::Embedded(EmbeddedStateFiles::One(self.path("state.redb")))
            }
        }
    }

    fn postgres_state(&mut self, raw: &StateFile) -> PostgresStateSettings {
        let url = raw.url.clone().unwrap_or_default();
        if url.is_empty() {
            self.problem("state.url", "needed with backend = \"postgres\"");
        } else if let Err(e) = super::directory::check_database_url(&url) {
            self.problem("state.url", e);
        }
        if raw.path.is_some() {
            self.problem("state.path", "only with backend = \"embedded\"");
        }
        if raw.connections == 0 || raw.connections > MAX_CONNECTIONS {
            self.problem(
                "state.connections",
                format!("{}: expected 1 to {MAX_CONNECTIONS}", raw.connections),
            );
        }
        let timeout = match parse_duration(&raw.timeout) {
            Ok(t) if t >= Duration::from_millis(100) && t <= Duration::from_secs(60) => t,
            Ok(_) => {
                self.problem("state.timeout", "expected 100ms to 60s");
                Duration::from_secs(2)
            }
            Err(e) => {
                self.problem("state.timeout", format!("bad duration: {e}"));
                Duration::from_secs(2)
            }
        };
        PostgresStateSettings {
            url,
            connections: raw.connections.clamp(1, MAX_CONNECTIONS) as usize,
            timeout,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use std::path::Path;

    /// The shipped configuration with its `[state] backend` line replaced by `keys`.
    fn state(keys: &str) -> Result<StateSettings, Vec<String>> {
        let shipped = std::fs::read_to_string("config/supportgate.toml").unwrap();
        let line = "\nbackend = \"embedded\"\n";
        assert_eq!(shipped.matches(line).count(), 1);
        let text = shipped.replace(line, &format!("\n{keys}\n"));
        Config::from_toml(&text, Path::new("config/supportgate.toml"))
            .map(|c| c.state)
            .map_err(|problems| problems.into_iter().map(|p| p.key).collect())
    }

    #[test]
    fn embedded_keeps_the_two_files_unless_state_path_names_one() {
        match state("backend = \"embedded\"").unwrap() {
            StateSettings::Embedded(EmbeddedStateFiles::Separate {
                reply_memory,
                sender_history,
            }) => {
                assert!(reply_memory.ends_with("var/reply-memory.redb"));
                assert!(sender_history.ends_with("var/sender-history.redb"));
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(
            state("path = \"/var/lib/supportgate/state.redb\"").unwrap(),
            StateSettings::Embedded(EmbeddedStateFiles::One(
                "/var/lib/supportgate/state.redb".into()
            ))
        );
    }

    #[test]
    fn postgres_needs_a_url_and_sane_bounds() {
        let ok = state("backend = \"postgres\"\nurl = \"host=db.example user=gw\"").unwrap();
        assert_eq!(
            ok,
            StateSettings::Postgres(PostgresStateSettings {
                url: "host=db.example user=gw".into(),
                connections: 4,
                timeout: Duration::from_secs(2),
            })
        );
        assert_eq!(state("backend = \"postgres\"").unwrap_err(), ["state.url"]);
        assert_eq!(
            state("backend = \"postgres\"\nurl = \"host=h\"\nconnections = 0\ntimeout = \"1h\"\npath = \"x\"")
                .unwrap_err(),
            ["state.path", "state.connections", "state.timeout"]
        );
        assert_eq!(
            state("backend = \"sqlite\"").unwrap_err(),
            ["state.backend"]
        );
        assert_eq!(state("url = \"host=h\"").unwrap_err(), ["state.url"]);
    }
}
