//! The file trigger: a debounced watch on the routes path.
//!
//! Editors save in bursts (write a temp file, rename it over the original, touch metadata), and
//! `kubectl`'s ConfigMap volumes swap a symlinked directory. [`DEBOUNCE`] folds each burst into
//! one reload: long enough to cover a save burst (a few ms to ~100 ms), short enough that a change
//! is serving well within a second. The quiet period restarts with every new event, so a reload
//! compiles the files only once they have stopped changing.
//!
//! Only events that can change what a route file holds count. Opening or reading a file is an
//! event too (inotify reports `IN_OPEN`), and every reload opens the routes: counting those made
//! each reload trigger the next, so the routes were re-read a few times a second forever, and
//! sooner or later one of those reads caught an editor's save between truncating the file and
//! writing it (see `changes_content`).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use notify_debouncer_mini::notify::event::{AccessKind, AccessMode};
use notify_debouncer_mini::notify::{self, Event, EventKind, RecursiveMode, Watcher};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::{Reloader, Trigger};
use crate::source::SourceKind;

pub const DEBOUNCE: Duration = Duration::from_millis(100);

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
    let mut watcher = notify::recommended_watcher(move |result: notify::Result<Event>| {
        let relevant = match result {
            // A rescan means events were lost: reload to be safe.
            Ok(event) if event.need_rescan() => true,
            Ok(event) => {
                changes_content(&event.kind)
                    && event.paths.iter().any(|path| match &only {
                        Some(name) => path.file_name() == Some(name.as_os_str()),
                        None => SourceKind::of(path).is_some() || path.is_dir(),
                    })
            }
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
    watcher
        .watch(&dir, RecursiveMode::NonRecursive)
        .map_err(|e| WatchError {
            path: dir.clone(),
            reason: e.to_string(),
        })?;
    tokio::spawn(async move {
        // The watcher lives as long as this task; dropping it stops the watch.
        let _watcher = watcher;
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

/// Whether an event of this kind can mean a route file now holds something else: creation,
/// removal, any modification, and the close after a write. Opening, reading and closing after
/// a read never do (the reloader's own reads are such events).
fn changes_content(kind: &EventKind) -> bool {
    match kind {
        EventKind::Access(AccessKind::Close(AccessMode::Write)) => true,
        EventKind::Access(_) => false,
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use notify::event::{CreateKind, DataChange, ModifyKind, RemoveKind};

    #[test]
    fn reads_never_count_as_changes_but_writes_do() {
        for read in [
            AccessKind::Open(AccessMode::Any),
            AccessKind::Open(AccessMode::Read),
            AccessKind::Read,
            AccessKind::Close(AccessMode::Read),
        ] {
            assert!(!changes_content(&EventKind::Access(read)), "{read:?}");
        }
        for change in [
            EventKind::Access(AccessKind::Close(AccessMode::Write)),
            EventKind::Modify(ModifyKind::Data(DataChange::Any)),
            EventKind::Modify(ModifyKind::Any),
            EventKind::Create(CreateKind::File),
            EventKind::Remove(RemoveKind::File),
            EventKind::Any,
        ] {
            assert!(changes_content(&change), "{change:?}");
        }
    }
}
