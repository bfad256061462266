//! The log of `supportgate serve`: `[log]` format, level and file; text lines escape what came
//! from a message ([`crate::printable`]); lines are written in batches ([`super::log_output`]).

use super::log_output::{LineWriter, LogGuard, LogOutput};
use crate::config::{Config, LogFormat};
use crate::printable::EscapingWriter;
use tracing::Metadata;

/// Installs the log; the guard writes what is collected when `serve` ends.
pub(super) fn init_logging(config: &Config) -> Result<LogGuard, String> {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_env("SUPPORTGATE_LOG")
        .or_else(|_| EnvFilter::try_new(&config.log_level))
        .map_err(|e| e.to_string())?;
    let destination: Box<dyn std::io::Write + Send> = match &config.log_file {
        Some(path) => Box::new(
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .map_err(|e| format!("{}: {e}", path.display()))?,
        ),
        None => Box::new(std::io::stderr()),
    };
    let (output, guard) =
        LogOutput::start(destination, config.log_flush_interval).map_err(|e| e.to_string())?;
    flush_on_panic(output.clone());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_timer(super::log_time::CachedUtcTime);
    let result = match config.log_format {
        // JSON escapes control characters itself.
        LogFormat::Json => builder
            .with_writer(output)
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .try_init(),
        // Text lines are read by people in a terminal: what came from a message is escaped.
        LogFormat::Text => builder
            .with_writer(Escaping(output))
            .with_ansi(false)
            .try_init(),
    };
    result.map_err(|e| e.to_string())?;
    Ok(guard)
}

/// A panic's own message goes to stderr after the lines logged before it.
fn flush_on_panic(output: LogOutput) {
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        output.flush_unless_busy();
        previous(info);
    }));
}

/// The text format's writer: each line escaped, then collected.
struct Escaping(LogOutput);

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Escaping {
    type Writer = EscapingWriter<LineWriter>;

    fn make_writer(&'a self) -> Self::Writer {
        EscapingWriter(self.0.make_writer())
    }

    fn make_writer_for(&'a self, meta: &Metadata<'_>) -> Self::Writer {
        EscapingWriter(self.0.make_writer_for(meta))
    }
}
