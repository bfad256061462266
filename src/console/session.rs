//! Sessions, in memory: a random token in the `sg_session` cookie names a session, which holds
//! the signed-in user (none before sign-in) and the CSRF token that every form carries. A
//! restart signs everyone out. The token changes at sign-in (no session fixation).

use crate::locking::lock;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

pub const COOKIE: &str = "sg_session";
/// At most this many sessions at once; the oldest go first when it is reached.
const MAX_SESSIONS: usize = 10_000;
/// A session that never signed in lives this long.
const ANONYMOUS_LIFETIME: Duration = Duration::from_secs(3600);

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub user: Option<String>,
    pub csrf: String,
    expires: Instant,
}

pub struct Sessions {
    lifetime: Duration,
    by_token: Mutex<HashMap<String, Session>>,
}

/// 256 random bits, hex.
pub fn random_token() -> String {
    use rand::RngCore;
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Equal without telling, by its timing, how much of a guess was right.
pub fn same_token(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |diff, (x, y)| diff | (x ^ y))
            == 0
}

impl Sessions {
    pub fn new(lifetime: Duration) -> Sessions {
        Sessions {
            lifetime,
            by_token: Mutex::default(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Session>> {
        lock(&self.by_token)
    }

    /// A new session (for `user`, or anonymous): its token and the session.
    pub fn create(&self, user: Option<String>) -> (String, Session) {
        let now = Instant::now();
        let lifetime = if user.is_some() {
            self.lifetime
        } else {
            ANONYMOUS_LIFETIME
        };
        let session = Session {
            user,
            csrf: random_token(),
            expires: now + lifetime,
        };
        let token = random_token();
        let mut sessions = self.lock();
        if sessions.len() >= MAX_SESSIONS {
            sessions.retain(|_, s| s.expires > now);
        }
        if sessions.len() >= MAX_SESSIONS {
            if let Some(oldest) = sessions
                .iter()
                .min_by_key(|(_, s)| s.expires)
                .map(|(t, _)| t.clone())
            {
                sessions.remove(&oldest);
            }
        }
        sessions.insert(token.clone(), session.clone());
        (token, session)
    }

    /// The live session named by `token`.
    pub fn get(&self, token: &str) -> Option<Session> {
        let mut sessions = self.lock();
        match sessions.get(token) {
            Some(s) if s.expires > Instant::now() => Some(s.clone()),
            Some(_) => {
                sessions.remove(token);
                None
            }
            None => None,
        }
    }

    pub fn remove(&self, token: &str) {
        self.lock().remove(token);
    }
}

/// The `Set-Cookie` value for a session token.
pub fn cookie(token: &str, secure: bool) -> String {
    format!(
        "{COOKIE}={token}; Path=/; HttpOnly; SameSite=Strict{}",
        if secure { "; Secure" } else { "" }
    )
}

/// The value of cookie `name` in a `Cookie` request header.
pub fn cookie_value<'a>(header: &'a str, name: &str) -> Option<&'a str> {
    header.split(';').find_map(|pair| {
        let (key, value) = pair.trim().split_once('=')?;
        (key == name).then_some(value)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn create_get_remove() {
        let sessions = Sessions::new(Duration::from_secs(60));
        let (token, session) = sessions.create(Some("jdoe".into()));
        assert_eq!(token.len(), 64);
        assert_eq!(sessions.get(&token), Some(session.clone()));
        let (other, _) = sessions.create(None);
        assert_ne!(token, other);
        sessions.remove(&token);
        assert_eq!(sessions.get(&token), None);
        assert!(sessions.get(&other).is_some_and(|s| s.user.is_none()));
    }

    #[test]
    fn expired_sessions_are_gone() {
        let sessions = Sessions::new(Duration::ZERO);
        let (token, _) = sessions.create(Some("jdoe".into()));
        assert_eq!(sessions.get(&token), None);
    }

    #[test]
    fn cookies() {
        assert_eq!(
            cookie("ab", true),
            "sg_session=ab; Path=/; HttpOnly; SameSite=Strict; Secure"
        );
        assert!(!cookie("ab", false).contains("Secure"));
        assert_eq!(cookie_value("a=1; sg_session=xy; b=2", COOKIE), Some("xy"));
        assert_eq!(cookie_value("a=1", COOKIE), None);
        assert!(same_token("abc", "abc"));
        assert!(!same_token("abc", "abd"));
        assert!(!same_token("abc", "ab"));
    }
}
