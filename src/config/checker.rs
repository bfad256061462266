//! Collecting problems: [`ConfigProblem`], and the `Checker` each section's file (`server`,
//! `policy`, …) adds its validation to, with the helpers they share (paths against the file's
//! folder, durations, addresses, socket addresses).

use super::duration::parse_duration;
use crate::address::{AddressRules, NormalizedAddress};
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// One problem in the configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigProblem {
    pub file: String,
    pub key: String,
    pub message: String,
}

impl fmt::Display for ConfigProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.key.is_empty() {
            write!(f, "{}: {}", self.file, self.message)
        } else {
            write!(f, "{}: {}: {}", self.file, self.key, self.message)
        }
    }
}

/// Collects problems while turning the raw file into a [`Config`](super::Config).
pub(super) struct Checker {
    pub(super) file: String,
    pub(super) base: PathBuf,
    pub(super) problems: Vec<ConfigProblem>,
}

impl Checker {
    pub(super) fn problem(&mut self, key: &str, message: impl Into<String>) {
        self.problems.push(ConfigProblem {
            file: self.file.clone(),
            key: key.to_string(),
            message: message.into(),
        });
    }

    pub(super) fn path(&self, value: &str) -> PathBuf {
        let path = Path::new(value);
        if path.is_absolute() {
            path.to_path_buf()
        } else {
            self.base.join(path)
        }
    }

    pub(super) fn duration(&mut self, key: &str, value: &str) -> Duration {
        parse_duration(value).unwrap_or_else(|e| {
            self.problem(key, format!("bad duration: {e}"));
            Duration::ZERO
        })
    }

    pub(super) fn address(
        &mut self,
        key: &str,
        value: &str,
        rules: &AddressRules,
    ) -> Option<NormalizedAddress> {
        match NormalizedAddress::parse(value, rules) {
            Ok(address) => Some(address),
            Err(e) => {
                self.problem(key, format!("bad address {value:?}: {e}"));
                None
            }
        }
    }

    pub(super) fn socket(&mut self, key: &str, value: &str) -> Option<SocketAddr> {
        match value.parse() {
            Ok(addr) => Some(addr),
            Err(_) => {
                self.problem(
                    key,
                    format!("bad listen address {value:?}: expected IP:PORT, e.g. \"127.0.0.1:2525\" or \"[::1]:2525\""),
                );
                None
            }
        }
    }

    pub(super) fn positive(&mut self, key: &str, value: u64) {
        if value == 0 {
            self.problem(key, "must be greater than 0");
        }
    }
}
