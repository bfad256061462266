//! Standard output for the commands' results.
//!
//! Rust ignores SIGPIPE, so `println!` panics when the reader has gone away
//! (`supportgate check FILE | head -1`, `quarantine list | head`). Here a closed reader only
//! ends the output: what was decided or listed stands, and the command keeps its exit code.
//! Any other write error (a full disk behind a redirection) is reported, once, on stderr.

use std::fmt;
use std::io::{self, Write};
use std::process::ExitCode;

pub struct Stdout {
    out: io::StdoutLock<'static>,
    error: Option<io::Error>,
}

impl Stdout {
    pub fn lock() -> Stdout {
        Stdout {
            out: io::stdout().lock(),
            error: None,
        }
    }

    /// Writes `text` and a newline. False once output has failed: the caller may stop producing.
    pub fn line(&mut self, text: impl fmt::Display) -> bool {
        self.write(format_args!("{text}\n"))
    }

    /// Writes `text` as it is.
    pub fn text(&mut self, text: impl fmt::Display) -> bool {
        self.write(format_args!("{text}"))
    }

    fn write(&mut self, args: fmt::Arguments<'_>) -> bool {
        if self.error.is_none() {
            if let Err(e) = self.out.write_fmt(args) {
                self.error = Some(e);
            }
        }
        self.error.is_none()
    }

    /// `code`, once the output is flushed; exit 1 if it could not be written for another
    /// reason than a reader that went away.
    pub fn finish(mut self, code: ExitCode) -> ExitCode {
        let result = match self.error.take() {
            Some(e) => Err(e),
            None => self.out.flush(),
        };
        match result {
            Ok(()) => code,
            Err(e) if e.kind() == io::ErrorKind::BrokenPipe => code,
            Err(e) => {
                eprintln!("supportgate: cannot write the output: {e}");
                ExitCode::from(1)
            }
        }
    }
}

/// Lists records one line each (`--json`: one JSON object per line, else `summary`), skipping
/// those `keep` refuses. A record that cannot be read is reported on stderr and makes the exit
/// code 1, the others are still listed.
pub fn list_records<T: serde::Serialize, E: fmt::Display>(
    command: &str,
    records: impl IntoIterator<Item = Result<T, E>>,
    keep: impl Fn(&T) -> bool,
    json: bool,
    summary: impl Fn(&T) -> String,
) -> ExitCode {
    let mut damaged = false;
    let mut stdout = Stdout::lock();
    for record in records {
        let record = match record {
            Ok(record) => record,
            Err(e) => {
                eprintln!("supportgate {command}: {e}");
                damaged = true;
                continue;
            }
        };
        if !keep(&record) {
            continue;
        }
        let line = if json {
            serde_json::to_string(&record).unwrap_or_default()
        } else {
            summary(&record)
        };
        if !stdout.line(line) {
            break;
        }
    }
    stdout.finish(if damaged {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// A Subject cut to the 60 characters a listing row shows.
pub fn short_subject(subject: Option<&str>) -> String {
    subject.unwrap_or("").chars().take(60).collect()
}

/// A Unix time as RFC 3339 (UTC), for listings; empty if out of range.
pub fn rfc3339(at: u64) -> String {
    time::OffsetDateTime::from_unix_timestamp(at as i64)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default()
}
