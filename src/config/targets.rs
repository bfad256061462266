//! `[queue] target` and `[replies] transport`: where forwarded mail and auto-replies go,
//! written `maildir:PATH`, `smtp://HOST:PORT`, `pipe:/PATH/TO/COMMAND ARGS` (queue) or `mx`
//! (replies).

use super::checker::Checker;
use super::file;
use super::pipe::{split_command, PipeCommand};
use std::path::PathBuf;
use std::time::Duration;

/// Where forwarded mail goes (`[queue] target`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QueueTarget {
    Maildir(PathBuf),
    Smtp {
        host: String,
        port: u16,
    },
    /// `pipe:/path/to/command args`: a helpdesk mail-gate run with the message on stdin.
    Pipe(PipeCommand),
}

impl Checker {
    pub(super) fn queue(&mut self, raw: &file::QueueFile) -> QueueTarget {
        let pipe_timeout = self.duration("queue.pipe_timeout", &raw.pipe_timeout);
        match parse_target(&raw.target) {
            Some(Target::Maildir(p)) => QueueTarget::Maildir(self.path(&p)),
            Some(Target::Pipe(line)) => self.pipe(&line, pipe_timeout),
            Some(Target::Smtp(host, port)) => QueueTarget::Smtp { host, port },
            _ => {
                self.problem(
                    "queue.target",
                    format!(
                        "{:?}: expected \"maildir:PATH\", \"smtp://HOST:PORT\" or \"pipe:/PATH/TO/COMMAND ARGS\"",
                        raw.target
                    ),
                );
                QueueTarget::Maildir(PathBuf::new())
            }
        }
    }

    /// `[queue] target = "pipe:..."`: the program must exist and be executable.
    fn pipe(&mut self, line: &str, timeout: Duration) -> QueueTarget {
        use std::os::unix::fs::PermissionsExt;
        let mut words = match split_command(line) {
            Ok(words) => words.into_iter(),
            Err(e) => {
                self.problem("queue.target", format!("pipe command {line:?}: {e}"));
                Vec::new().into_iter()
            }
        };
        let program = words.next().map(|p| self.path(&p)).unwrap_or_default();
        let executable = std::fs::metadata(&program)
            .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0);
        if !executable {
            self.problem(
                "queue.target",
                format!(
                    "pipe command {} is not an executable file (write an absolute path, e.g. \"pipe:/usr/bin/rt-mailgate --queue support\")",
                    program.display()
                ),
            );
        }
        if timeout.is_zero() {
            self.problem("queue.pipe_timeout", "must be greater than 0");
        }
        QueueTarget::Pipe(PipeCommand {
            program,
            args: words.collect(),
            timeout,
        })
    }
}

/// A target as written, before its paths are resolved and checked.
pub(super) enum Target {
    Maildir(String),
    Smtp(String, u16),
    Pipe(String),
}

pub(super) fn parse_target(value: &str) -> Option<Target> {
    if let Some(line) = value.strip_prefix("pipe:") {
        return (!line.trim().is_empty()).then(|| Target::Pipe(line.to_string()));
    }
    if let Some(path) = value.strip_prefix("maildir:") {
        return (!path.is_empty()).then(|| Target::Maildir(path.to_string()));
    }
    let rest = value.strip_prefix("smtp://")?.trim_end_matches('/');
    let (host, port) = rest.rsplit_once(':')?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let port: u16 = port.parse().ok().filter(|p| *p > 0)?;
    (!host.is_empty()).then(|| Target::Smtp(host.to_string(), port))
}
