//! The log of `supportgate serve`: `[log]` format, level and file; text lines escape what came
//! from a message ([`crate::printable`]).

use crate::config::{Config, LogFormat};
use std::sync::Arc;

pub(super) fn init_logging(config: &Config) -> Result<(), String> {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_env("SUPPORTGATE_LOG")
        .or_else(|_| EnvFilter::try_new(&config.log_level))
        .map_err(|e| e.to_string())?;
    let writer: Box<dyn Fn() -> Box<dyn std::io::Write> + Send + Sync> = match &config.log_file {
        Some(path) => {
            let file = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .map_err(|e| format!("{}: {e}", path.display()))?;
            let file = Arc::new(file);
            Box::new(move || Box::new(Arc::clone(&file)) as Box<dyn std::io::Write>)
        }
        None => Box::new(|| Box::new(std::io::stderr()) as Box<dyn std::io::Write>),
    };
    // Text lines are read by people in a terminal: what came from a message is escaped.
    // (JSON escapes control characters itself.)
    let writer: Box<dyn Fn() -> Box<dyn std::io::Write> + Send + Sync> = match config.log_format {
        LogFormat::Text => Box::new(move || {
            Box::new(crate::printable::EscapingWriter(writer())) as Box<dyn std::io::Write>
        }),
        LogFormat::Json => writer,
    };
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer);
    let result = match config.log_format {
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .try_init(),
        LogFormat::Text => builder.with_ansi(false).try_init(),
    };
    result.map_err(|e| e.to_string())
}
