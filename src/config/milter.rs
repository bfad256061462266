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

#[cfg(test)]
mod tests {
    use crate::config::Config;
    use crate::milter::MilterAddress;
    use std::path::Path;

    /// The shipped file with no SMTP listener, and `milter` as `[milter] listen` if given.
    fn load(milter: Option<&str>) -> Result<Config, Vec<String>> {
        let mut text = std::fs::read_to_string("config/supportgate.toml")
            .unwrap()
            .replace("listen = [\"127.0.0.1:2525\"]", "listen = []");
        if let Some(address) = milter {
            text = text.replace(
                "# listen = \"127.0.0.1:10027\"",
                &format!("listen = {address:?}"),
            );
        }
        Config::from_toml(&text, Path::new("config/supportgate.toml"))
            .map_err(|problems| problems.iter().map(|p| p.to_string()).collect())
    }

    #[test]
    fn the_milter_may_be_the_only_listener() {
        let config = load(Some("unix:/run/sg/milter.sock")).unwrap();
        assert!(config.server.listen.is_empty());
        assert_eq!(
            config.milter.listen,
            Some(MilterAddress::Unix("/run/sg/milter.sock".into()))
        );
        let problems = load(None).unwrap_err();
        assert!(problems[0].contains("server.listen"), "{problems:?}");
        let problems = load(Some("nowhere")).unwrap_err();
        assert!(problems[0].contains("milter.listen"), "{problems:?}");
    }

    #[test]
    fn listen_takes_an_address_or_a_unix_socket() {
        assert_eq!(
            MilterAddress::parse("127.0.0.1:10027"),
            Some(MilterAddress::Inet("127.0.0.1:10027".parse().unwrap()))
        );
        assert_eq!(
            MilterAddress::parse("inet:[::1]:10027"),
            Some(MilterAddress::Inet("[::1]:10027".parse().unwrap()))
        );
        assert_eq!(
            MilterAddress::parse("unix:/run/supportgate/milter.sock"),
            Some(MilterAddress::Unix("/run/supportgate/milter.sock".into()))
        );
        assert_eq!(MilterAddress::parse("unix:relative.sock"), None);
        assert_eq!(MilterAddress::parse("localhost:10027"), None);
    }
}
