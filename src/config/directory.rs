//! `[directory]`: where the directory comes from (SPEC §12): a TOML file (`source = "file"`,
//! the default) or a PostgreSQL database kept in sync by LISTEN/NOTIFY (`source = "postgres"`).

use super::checker::Checker;
use super::duration::parse_duration;
use super::file;
use std::path::Path;
use std::time::Duration;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DirectorySource {
    /// `[directory] path`, read at start and on SIGHUP.
    File,
    Postgres(PostgresDirectorySettings),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostgresDirectorySettings {
    /// A libpq-style connection string or `postgres://` URL; `sslmode=require` asks for TLS.
    pub url: String,
    /// Full resynchronisation period.
    pub refresh: Duration,
    /// The LISTEN channel whose payload is the id of the account that changed.
    pub channel: String,
}

impl PostgresDirectorySettings {
    /// The database as logs and reports name it: `postgres://user@host:port/dbname`, no
    /// password.
    pub fn redacted_url(&self) -> String {
        redacted_database_url(&self.url)
    }
}

/// `postgres://user@host:port/dbname` for logs and reports: never the password.
pub(super) fn redacted_database_url(url: &str) -> String {
    let Ok(config) = url.parse::<tokio_postgres::Config>() else {
        return "postgres://?".to_string();
    };
    let hosts: Vec<String> = config
        .get_hosts()
        .iter()
        .map(|host| match host {
            tokio_postgres::config::Host::Tcp(name) => name.clone(),
            tokio_postgres::config::Host::Unix(path) => path.display().to_string(),
        })
        .collect();
    let port = config.get_ports().first().copied().unwrap_or(5432);
    format!(
        "postgres://{}@{}:{port}/{}",
        config.get_user().unwrap_or(""),
        hosts.join(","),
        config.get_dbname().unwrap_or("")
    )
}

impl Checker {
    pub(super) fn directory_source(
        &mut self,
        raw: &file::DirectoryFile,
        path: &Path,
    ) -> DirectorySource {
        match raw.source.as_str() {
            "file" => {
                if !path.is_file() {
                    self.problem(
                        "directory.path",
                        format!("directory file {} does not exist", path.display()),
                    );
                }
                DirectorySource::File
            }
            "postgres" => DirectorySource::Postgres(self.postgres_directory(raw)),
            other => {
                self.problem(
                    "directory.source",
                    format!("{other:?}: expected \"file\" or \"postgres\""),
                );
                DirectorySource::File
            }
        }
    }

    fn postgres_directory(&mut self, raw: &file::DirectoryFile) -> PostgresDirectorySettings {
        let url = raw.url.clone().unwrap_or_default();
        if url.is_empty() {
            self.problem("directory.url", "needed with source = \"postgres\"");
        } else if let Err(e) = check_database_url(&url) {
            self.problem("directory.url", e);
        }
        let refresh = match parse_duration(&raw.refresh) {
            Ok(refresh) if refresh >= Duration::from_secs(1) => refresh,
            Ok(_) => {
                self.problem("directory.refresh", "at least 1s");
                Duration::from_secs(300)
            }
            Err(e) => {
                self.problem("directory.refresh", format!("bad duration: {e}"));
                Duration::from_secs(300)
            }
        };
        // LISTEN takes an identifier: keep to the characters that need no quoting.
        let channel_ok = !raw.channel.is_empty()
            && raw.channel.len() <= 63
            && raw
                .channel
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
            && !raw.channel.as_bytes()[0].is_ascii_digit();
        if !channel_ok {
            self.problem(
                "directory.channel",
                format!("{:?}: expected [a-z_][a-z0-9_]*, at most 63", raw.channel),
            );
        }
        PostgresDirectorySettings {
            url,
            refresh,
            channel: raw.channel.clone(),
        }
    }
}

/// A connection string tokio-postgres can use (its error never echoes the password).
pub(super) fn check_database_url(url: &str) -> Result<(), String> {
    url.parse::<tokio_postgres::Config>()
        .map(|_| ())
        .map_err(|e| format!("not a PostgreSQL connection string: {e}"))
}
