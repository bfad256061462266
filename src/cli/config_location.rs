//! Which configuration file a command reads (SPEC §14), the same for every command:
//! `--config FILE`, else `$SUPPORTGATE_CONFIG`, else `config/supportgate.toml` when it exists
//! in the working directory (the development tree), else the packaged
//! `/etc/supportgate/supportgate.toml`. When that file cannot be read, the error says how it
//! was chosen.

use crate::config::{Config, ConfigProblem};
use clap::Args;
use std::ffi::OsString;
use std::fmt;
use std::path::{Path, PathBuf};

/// The environment variable that names the configuration when `--config` is not given.
pub const CONFIG_ENV: &str = "SUPPORTGATE_CONFIG";
/// The development tree's configuration, relative to the working directory.
pub const DEVELOPMENT_CONFIG: &str = "config/supportgate.toml";
/// Where the Debian package installs the configuration.
pub const SYSTEM_CONFIG: &str = "/etc/supportgate/supportgate.toml";

/// `--config`, shared by every command.
#[derive(Debug, Clone, Args)]
pub struct ConfigArg {
    /// Configuration file [default: $SUPPORTGATE_CONFIG, else config/supportgate.toml if it
    /// exists in the working directory, else /etc/supportgate/supportgate.toml].
    #[arg(long, value_name = "FILE", global = true)]
    config: Option<PathBuf>,
}

impl ConfigArg {
    /// The configuration, or (its problems printed, one a line) the exit code of unusable
    /// input.
    pub fn load_or_exit(&self) -> Result<crate::config::Config, std::process::ExitCode> {
        self.locate().load().map_err(|problems| {
            for problem in &problems {
                eprintln!("{problem}");
            }
            std::process::ExitCode::from(super::EXIT_UNUSABLE)
        })
    }

    /// The file to read, from this process's flag, environment and working directory.
    pub fn locate(&self) -> ConfigLocation {
        locate(self.config.clone(), std::env::var_os(CONFIG_ENV), |p| {
            p.is_file()
        })
    }
}

/// How the configuration file was chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChosenBy {
    Flag,
    Environment,
    DevelopmentTree,
    SystemDefault,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigLocation {
    pub path: PathBuf,
    pub chosen_by: ChosenBy,
}

/// The resolution itself, with the environment and the file system passed in.
pub fn locate(
    flag: Option<PathBuf>,
    env: Option<OsString>,
    exists: impl Fn(&Path) -> bool,
) -> ConfigLocation {
    let (path, chosen_by) = if let Some(path) = flag {
        (path, ChosenBy::Flag)
    } else if let Some(path) = env.filter(|v| !v.is_empty()) {
        (PathBuf::from(path), ChosenBy::Environment)
    } else if exists(Path::new(DEVELOPMENT_CONFIG)) {
        (PathBuf::from(DEVELOPMENT_CONFIG), ChosenBy::DevelopmentTree)
    } else {
        (PathBuf::from(SYSTEM_CONFIG), ChosenBy::SystemDefault)
    };
    ConfigLocation { path, chosen_by }
}

impl fmt::Display for ChosenBy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ChosenBy::Flag => "given with --config",
            ChosenBy::Environment => "named by $SUPPORTGATE_CONFIG",
            ChosenBy::DevelopmentTree => {
                "config/supportgate.toml in the working directory, used when neither --config \
                 nor $SUPPORTGATE_CONFIG is given"
            }
            ChosenBy::SystemDefault => {
                "the default when neither --config nor $SUPPORTGATE_CONFIG is given and the \
                 working directory has no config/supportgate.toml"
            }
        })
    }
}

impl ConfigLocation {
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// `Config::load`, with how the file was chosen added to "cannot read" (the one problem
    /// where the reader may not know which file was meant).
    pub fn load(&self) -> Result<Config, Vec<ConfigProblem>> {
        Config::load(&self.path).map_err(|problems| self.explain(problems))
    }

    /// Adds how the file was chosen to a "cannot read" problem.
    pub fn explain(&self, mut problems: Vec<ConfigProblem>) -> Vec<ConfigProblem> {
        if self.chosen_by != ChosenBy::Flag && !self.path.is_file() {
            for problem in problems.iter_mut().filter(|p| p.key.is_empty()) {
                problem.message = format!("{} ({})", problem.message, self.chosen_by);
            }
        }
        problems
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_flag_then_the_environment_then_the_tree_then_etc() {
        let tree = |p: &Path| p == Path::new(DEVELOPMENT_CONFIG);
        let none = |_: &Path| false;
        let table = [
            (
                Some("my.toml"),
                Some("env.toml"),
                true,
                "my.toml",
                ChosenBy::Flag,
            ),
            (
                None,
                Some("env.toml"),
                true,
                "env.toml",
                ChosenBy::Environment,
            ),
            (
                None,
                Some(""),
                true,
                DEVELOPMENT_CONFIG,
                ChosenBy::DevelopmentTree,
            ),
            (
                None,
                None,
                true,
                DEVELOPMENT_CONFIG,
                ChosenBy::DevelopmentTree,
            ),
            (None, None, false, SYSTEM_CONFIG, ChosenBy::SystemDefault),
        ];
        for (flag, env, in_tree, path, chosen_by) in table {
            let located = if in_tree {
                locate(flag.map(PathBuf::from), env.map(OsString::from), tree)
            } else {
                locate(flag.map(PathBuf::from), env.map(OsString::from), none)
            };
            assert_eq!(
                located,
                ConfigLocation {
                    path: PathBuf::from(path),
                    chosen_by
                },
                "{flag:?} {env:?} {in_tree}"
            );
        }
    }

    #[test]
    fn cannot_read_says_how_the_file_was_chosen() {
        let location = locate(None, Some("/nonexistent/sg.toml".into()), |_| false);
        let problems = location.load().map(|_| ()).unwrap_err();
        assert_eq!(problems.len(), 1);
        let message = problems[0].to_string();
        assert!(
            message.starts_with("/nonexistent/sg.toml: cannot read: "),
            "{message}"
        );
        assert!(
            message.ends_with("(named by $SUPPORTGATE_CONFIG)"),
            "{message}"
        );
        // Given with --config: the reader knows which file it is.
        let location = locate(Some("/nonexistent/sg.toml".into()), None, |_| false);
        let message = location.load().map(|_| ()).unwrap_err()[0].to_string();
        assert!(!message.contains("--config"), "{message}");
    }
}
