//! Building a [`Directory`]: reading the file, parsing it a batch at a time, indexing every
//! account (`index`), then running the checks that need them all (`lint`).

use super::batches;
use super::index::Directory;
use super::model::{AccountEntry, DirectoryFile};
use crate::address::AddressRules;
use crate::config::toml_error;
use std::path::Path;

#[derive(Debug, thiserror::Error)]
pub enum DirectoryError {
    #[error("{path}: cannot read: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    Syntax { path: String, message: String },
}

/// Why `text` is not a directory file, on one line (`KEY: line L, column C: MESSAGE`, the key
/// when the position is in a `key = value` line), as the configuration's errors are.
/// `batches::parse_whole` renders toml's error as its multi-line snippet and drops the span, so
/// this parses once more to get the error itself: only for a file that failed to load.
fn syntax_error(text: &str) -> String {
    let Err(e) = toml_v1::from_str::<DirectoryFile>(text) else {
        return "not a directory file".to_string();
    };
    let position = toml_error::one_line(e.message(), e.span(), text);
    match e
        .span()
        .and_then(|span| toml_error::key_at(text, span.start))
    {
        Some(key) => format!("{key}: {position}"),
        None => position,
    }
}

impl Directory {
    pub fn load(path: &Path, rules: &AddressRules) -> Result<Directory, DirectoryError> {
        let display = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| DirectoryError::Read {
            path: display.clone(),
            source,
        })?;
        Directory::from_toml(&text, rules).map_err(|message| DirectoryError::Syntax {
            path: display,
            message,
        })
    }

    /// Parses and indexes a directory file. Only a file that is not the directory format is an
    /// error; inconsistent content is indexed as well as possible and reported in
    /// [`Directory::findings`].
    ///
    /// The text is parsed a batch of accounts at a time (see `batches`), so that a directory of a
    /// million agents never has its whole TOML document tree in memory.
    pub fn from_toml(text: &str, rules: &AddressRules) -> Result<Directory, String> {
        let split = batches::split(text);
        let mut dir = Directory::empty(
            rules,
            split.batches.len() * batches::ACCOUNTS_PER_BATCH,
            split.agent_headers,
        );
        let parsed = batches::parse_each(&split.batches, |entries| {
            for entry in entries {
                dir.add_account(entry);
            }
        });
        match parsed {
            Ok(()) => Ok(dir.finish()),
            // The whole text gives the error its real line number, or parses (a cut inside a
            // multi-line string).
            Err(_) => match batches::parse_whole(text) {
                Ok(entries) => Ok(Directory::build(entries, rules)),
                Err(_) => Err(syntax_error(text)),
            },
        }
    }

    pub fn build(entries: Vec<AccountEntry>, rules: &AddressRules) -> Directory {
        let agent_count: usize = entries.iter().map(|a| a.agent.len()).sum();
        let mut dir = Directory::empty(rules, entries.len(), agent_count);
        for entry in entries {
            dir.add_account(entry);
        }
        dir.finish()
    }
}

#[cfg(test)]
mod syntax_error_tests {
    use super::*;

    #[test]
    fn a_file_that_does_not_parse_is_told_on_one_line() {
        let rules = AddressRules::default();
        let error = Directory::from_toml("[[account]\n", &rules).unwrap_err();
        assert!(error.starts_with("line 1, column "), "{error}");
        assert_eq!(error.lines().count(), 1, "{error}");
        let error = Directory::from_toml("[[account]]\nid = 5\n", &rules).unwrap_err();
        assert!(
            error.starts_with("account.id: line 2, column 6: invalid type"),
            "{error}"
        );
        assert_eq!(error.lines().count(), 1, "{error}");
    }
}
