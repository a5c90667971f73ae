//! Logging setup. Logs go to stderr (never stdout: `serve --stdio` speaks MCP there).
//!
//! `RUST_LOG`, when set, overrides the routes' `logging.level`.

pub mod events;
pub mod metrics;

use tracing_subscriber::EnvFilter;

use crate::plan::LoggingSettings;

/// Keeps the logging pipeline alive; drop it last.
pub struct LogGuard;

pub fn init(settings: &LoggingSettings) -> LogGuard {
    metrics::install();
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(&settings.filter))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    use std::io::IsTerminal;
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr)
        .with_target(true)
        .try_init();
    LogGuard
}
