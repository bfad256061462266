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
