//! Logging and metrics setup. Logs go to stderr, human-readable (never stdout: `serve --stdio`
//! speaks MCP there), and, when `logging.file` is set, also to that file as JSON lines, rotated
//! by [`file::RotatingFile`]. Both writers are non-blocking and write in batches
//! ([`batched`]): a request never waits for the output, and a full buffer drops lines (counted)
//! rather than stalling one.
//!
//! `RUST_LOG`, when set, overrides the routes' `logging.level`. Request lines use the target
//! `mcp2::request` (filter them with `info,mcp2::request=warn`); request and response bodies
//! (`log-requests`, `log-responses`, see [`bodies`]) the target `mcp2::body`.

pub mod batched;
pub mod bodies;
pub mod events;
pub mod file;
pub mod metrics;
pub mod series;

use std::time::Duration;

use tracing_subscriber::EnvFilter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

use crate::plan::LoggingSettings;

/// Keeps the logging pipeline alive (its writer threads flush on drop); drop it last.
pub struct LogGuard {
    _writers: Vec<batched::BatchGuard>,
}

/// Installs the metrics recorder and the log subscriber (once per process).
pub fn init(settings: &LoggingSettings) -> LogGuard {
    metrics::install();
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(&settings.filter))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    use std::io::IsTerminal;
    let (stderr, stderr_guard) = batched::batched(std::io::stderr(), batched::Writes::Batch);
    let mut writers = vec![stderr_guard];
    let (file_layer, file_error) = match &settings.file {
        Some(path) => match file::RotatingFile::open(path, rotation(settings)) {
            Ok(f) => {
                let (writer, guard) = batched::batched(f, batched::Writes::Lines);
                writers.push(guard);
                let layer = tracing_subscriber::fmt::layer()
                    .json()
                    .flatten_event(true)
                    .with_current_span(false)
                    .with_span_list(false)
                    .with_target(true)
                    .with_writer(writer);
                (Some(layer), None)
            }
            Err(e) => (None, Some(e)),
        },
        None => (None, None),
    };
    let stderr_layer = tracing_subscriber::fmt::layer()
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(stderr)
        .with_target(true);
    let _ = tracing_subscriber::registry()
        .with(filter)
        .with(stderr_layer)
        .with(file_layer)
        .try_init();
    if let Some(e) = file_error {
        tracing::error!(error = %e, "logging to stderr only");
    }
    LogGuard { _writers: writers }
}

fn rotation(settings: &LoggingSettings) -> file::Rotation {
    file::Rotation {
        max_bytes: usize::try_from(settings.max_size_bytes()).unwrap_or(usize::MAX),
        max_backups: usize::try_from(settings.max_backups).unwrap_or(usize::MAX),
        max_age: (settings.max_age_days > 0)
            .then(|| Duration::from_secs(settings.max_age_days.saturating_mul(86_400))),
        compress: settings.compress,
    }
}
