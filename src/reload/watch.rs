//! The file trigger: a debounced watch on the routes path.
//!
//! Editors save in bursts (write a temp file, rename it over the original, touch metadata), and
//! `kubectl`'s ConfigMap volumes swap a symlinked directory. [`DEBOUNCE`] folds each burst into
//! one reload: long enough to cover a save burst (a few ms to ~100 ms), short enough that a change
//! is serving well within a second. The quiet period restarts with every new event, so a reload
//! compiles the files only once they have stopped changing.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use notify_debouncer_mini::notify::RecursiveMode;
use notify_debouncer_mini::{DebounceEventResult, new_debouncer};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::{Reloader, Trigger};
use crate::source::SourceKind;

pub const DEBOUNCE: Duration = Duration::from_millis(100);

/// How often the underlying watcher batches raw events; the quiet period above is counted from
/// the last batch.
const BATCH: Duration = Duration::from_millis(25);

#[derive(Debug, thiserror::Error)]
#[error("cannot watch {path}: {reason}")]
pub struct WatchError {
    path: PathBuf,
    reason: String,
}

/// Watches the reloader's routes path and reloads on every debounced change to a route file,
/// until `shutdown`.
pub fn spawn(reloader: Arc<Reloader>, shutdown: CancellationToken) -> Result<(), WatchError> {
    let routes = reloader.routes().to_path_buf();
    // Watch the directory even for a single file: editors replace files by renaming over them,
    // which a watch on the file itself would lose.
    let (dir, only) = if routes.is_dir() {
        (routes.clone(), None)
    } else {
        let parent = routes
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."))
            .to_path_buf();
        (parent, routes.file_name().map(|n| n.to_os_string()))
    };
    let (tx, mut rx) = mpsc::unbounded_channel::<()>();
    let mut debouncer = new_debouncer(BATCH, move |result: DebounceEventResult| {
        let relevant = match result {
            Ok(events) => events.iter().any(|e| match &only {
                Some(name) => e.path.file_name() == Some(name.as_os_str()),
                None => SourceKind::of(&e.path).is_some() || e.path.is_dir(),
            }),
            Err(e) => {
                tracing::warn!(error = %e, "file watch error; reloading to be safe");
                true
            }
        };
        if relevant {
            let _ = tx.send(());
        }
    })
    .map_err(|e| WatchError {
        path: dir.clone(),
        reason: e.to_string(),
    })?;
    debouncer
        .watcher()
        .watch(&dir, RecursiveMode::NonRecursive)
        .map_err(|e| WatchError {
            path: dir.clone(),
            reason: e.to_string(),
        })?;
    tokio::spawn(async move {
        // The debouncer lives as long as this task; dropping it stops the watch.
        let _debouncer = debouncer;
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => return,
                got = rx.recv() => {
                    if got.is_none() {
                        return;
                    }
                    // Wait for the files to be quiet for DEBOUNCE (bounded, so a file rewritten
                    // forever still reloads every few seconds).
                    let deadline = tokio::time::Instant::now() + 20 * DEBOUNCE;
                    while let Ok(Some(())) = tokio::time::timeout(DEBOUNCE, rx.recv()).await {
                        if tokio::time::Instant::now() > deadline {
                            break;
                        }
                    }
                    reloader.reload(Trigger::FileChange).await;
                }
            }
        }
    });
    Ok(())
}
