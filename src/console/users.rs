//! The console's users file: names and argon2id hashes (`supportgate console passwd NAME`
//! writes an entry). Read at every sign-in, so a new password needs no restart.
//!
//! ```toml
//! [users]
//! jdoe = "$argon2id$v=19$m=19456,t=2,p=1$…"
//! ```

use argon2::password_hash::{rand_core::OsRng, PasswordHash, PasswordHasher, SaltString};
use argon2::{Argon2, PasswordVerifier};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;

/// Shorter passwords are refused by `console passwd`.
pub const MIN_PASSWORD_LENGTH: usize = 12;

#[derive(Debug, thiserror::Error)]
pub enum UsersError {
    #[error("{path}: {message}")]
    File { path: String, message: String },
    #[error("{0:?} is not a user name (1 to 64 of A-Z a-z 0-9 . _ @ -)")]
    BadName(String),
    #[error("the password is shorter than {MIN_PASSWORD_LENGTH} characters")]
    ShortPassword,
    #[error("cannot hash the password: {0}")]
    Hash(String),
}

#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct UsersFile {
    #[serde(default)]
    users: BTreeMap<String, String>,
}

/// A user name the console accepts (also from a trusted SSO header).
pub fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'@' | b'-'))
}

fn file_error(path: &Path, message: impl ToString) -> UsersError {
    UsersError::File {
        path: path.display().to_string(),
        message: message.to_string(),
    }
}

fn read(path: &Path) -> Result<UsersFile, UsersError> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(UsersFile::default()),
        Err(e) => return Err(file_error(path, e)),
    };
    toml::from_str(&text).map_err(|e| file_error(path, e.message()))
}

/// A hash checked for unknown users too, so that the answer takes as long either way.
const UNKNOWN_USER_HASH: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$c3VwcG9ydGdhdGUtbm8tdXNlcg$KJDWM2AyL1tBCU1Jt0u8ZmbgRL5hbf7NYyX+SYS1ZUs";

/// True when `name` is in the file and `password` matches its hash. Blocking (argon2id).
pub fn verify(path: &Path, name: &str, password: &str) -> Result<bool, UsersError> {
    let users = read(path)?;
    let stored = users.users.get(name).filter(|_| valid_name(name));
    let hash_text = stored.map_or(UNKNOWN_USER_HASH, String::as_str);
    let Ok(hash) = PasswordHash::new(hash_text) else {
        return Err(file_error(
            path,
            format!("users.{name}: not an argon2id hash"),
        ));
    };
    let matches = Argon2::default()
        .verify_password(password.as_bytes(), &hash)
        .is_ok();
    Ok(matches && stored.is_some())
}

/// Writes (or replaces) `name`'s entry with an argon2id hash of `password`; the file is
/// replaced atomically; a new file is readable by its owner only, an existing one keeps its
/// owner and mode.
pub fn set_password(path: &Path, name: &str, password: &str) -> Result<(), UsersError> {
    if !valid_name(name) {
        return Err(UsersError::BadName(name.to_string()));
    }
    if password.chars().count() < MIN_PASSWORD_LENGTH {
        return Err(UsersError::ShortPassword);
    }
    let mut users = read(path)?;
    let salt = SaltString::generate(&mut OsRng);
    let hash = Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map_err(|e| UsersError::Hash(e.to_string()))?;
    users.users.insert(name.to_string(), hash.to_string());
    let text = format!(
        "# supportgate console users: name = argon2id hash (`supportgate console passwd NAME`).\n{}",
        toml::to_string(&users).map_err(|e| file_error(path, e))?
    );
    let tmp = path.with_extension("toml.tmp");
    let written = (|| {
        use std::os::unix::fs::OpenOptionsExt;
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)?;
        file.write_all(text.as_bytes())?;
        file.sync_all()?;
        // A file that exists keeps its owner and mode (root running this for the service's
        // user must not take the file away from it).
        if let Ok(existing) = std::fs::metadata(path) {
            use std::os::unix::fs::MetadataExt;
            std::os::unix::fs::chown(&tmp, Some(existing.uid()), Some(existing.gid()))?;
            std::fs::set_permissions(&tmp, existing.permissions())?;
        }
        std::fs::rename(&tmp, path)
    })();
    written.map_err(|e| file_error(path, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_then_verify() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("users.toml");
        assert!(!verify(&path, "jdoe", "whatever-password").unwrap());
        set_password(&path, "jdoe", "correct horse battery").unwrap();
        assert!(verify(&path, "jdoe", "correct horse battery").unwrap());
        assert!(!verify(&path, "jdoe", "wrong horse battery").unwrap());
        assert!(!verify(&path, "nobody", "correct horse battery").unwrap());
        set_password(&path, "asmith", "another long password").unwrap();
        assert!(verify(&path, "jdoe", "correct horse battery").unwrap());
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains("$argon2id$"), "{text}");
        assert!(!text.contains("correct horse"), "{text}");
        assert!(matches!(
            set_password(&path, "x", "short"),
            Err(UsersError::ShortPassword)
        ));
        assert!(matches!(
            set_password(&path, "a b", "long enough password"),
            Err(UsersError::BadName(_))
        ));
    }

    #[test]
    fn the_unknown_user_hash_parses() {
        assert!(PasswordHash::new(UNKNOWN_USER_HASH).is_ok());
    }
}
