//! The log file: JSON lines, rotated by size, with a count and an age limit on rotated files and
//! optional gzip compression of them.
//!
//! Rotation is `file-rotate`'s: once the file has passed its size limit (a line is never split
//! across files) it becomes `NAME.1` (`NAME.1.gz` when compressing), older ones shift up, and
//! those beyond the count are removed. Age is ours: rotated files older than the age limit are
//! removed at start and at every rotation. Writes reach this type one line at a time from the
//! batching writer's thread (`batched`), so a slow disk never stalls a request.

use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use file_rotate::compression::Compression;
use file_rotate::suffix::AppendCount;
use file_rotate::{ContentLimit, FileRotate};

/// How a log file rotates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rotation {
    pub max_bytes: usize,
    /// Rotated files kept (the live file not counted); at least one.
    pub max_backups: usize,
    /// Rotated files older than this are removed; `None` keeps them regardless of age.
    pub max_age: Option<Duration>,
    pub compress: bool,
}

#[derive(Debug, thiserror::Error)]
#[error("cannot open the log file {}: {source}", path.display())]
pub struct LogFileError {
    pub path: PathBuf,
    #[source]
    pub source: io::Error,
}

/// A size-rotated log file.
pub struct RotatingFile {
    inner: FileRotate<AppendCount>,
    path: PathBuf,
    rotation: Rotation,
    /// Bytes written since the last age sweep; a sweep runs after each rotation's worth.
    since_sweep: usize,
}

impl RotatingFile {
    /// Opens (or creates, with its directory) the file at `path`. Fails instead of panicking
    /// when the file cannot be written.
    pub fn open(path: &Path, rotation: Rotation) -> Result<RotatingFile, LogFileError> {
        let err = |source| LogFileError {
            path: path.to_path_buf(),
            source,
        };
        let path = std::path::absolute(path).map_err(err)?;
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(err)?;
        }
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(err)?;
        let rotation = Rotation {
            max_bytes: rotation.max_bytes.max(1),
            max_backups: rotation.max_backups.max(1),
            ..rotation
        };
        let compression = if rotation.compress {
            Compression::OnRotate(0)
        } else {
            Compression::None
        };
        let inner = FileRotate::new(
            &path,
            AppendCount::new(rotation.max_backups),
            ContentLimit::BytesSurpassed(rotation.max_bytes),
            compression,
            None,
        );
        let file = RotatingFile {
            inner,
            path,
            rotation,
            since_sweep: 0,
        };
        file.sweep_old();
        Ok(file)
    }

    /// Removes rotated files (`NAME.N`, `NAME.N.gz`) older than the age limit.
    fn sweep_old(&self) {
        let Some(max_age) = self.rotation.max_age else {
            return;
        };
        let (Some(dir), Some(name)) = (self.path.parent(), self.path.file_name()) else {
            return;
        };
        let prefix = format!("{}.", name.to_string_lossy());
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        let now = SystemTime::now();
        for entry in entries.flatten() {
            let file_name = entry.file_name().to_string_lossy().into_owned();
            let Some(suffix) = file_name.strip_prefix(&prefix) else {
                continue;
            };
            let number = suffix.strip_suffix(".gz").unwrap_or(suffix);
            if number.is_empty() || !number.bytes().all(|b| b.is_ascii_digit()) {
                continue;
            }
            let old = entry
                .metadata()
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| now.duration_since(t).ok())
                .is_some_and(|age| age > max_age);
            if old {
                let _ = std::fs::remove_file(entry.path());
            }
        }
    }
}

impl Write for RotatingFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.since_sweep = self.since_sweep.saturating_add(n);
        if self.since_sweep >= self.rotation.max_bytes {
            self.since_sweep = 0;
            self.sweep_old();
        }
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .expect("read dir")
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    fn rotation(compress: bool) -> Rotation {
        Rotation {
            max_bytes: 1000,
            max_backups: 2,
            max_age: None,
            compress,
        }
    }

    fn write_lines(file: &mut RotatingFile, lines: usize) {
        for i in 0..lines {
            // One write per line, as the log writer does.
            let line = format!("{{\"n\":{i},\"pad\":\"{}\"}}\n", "x".repeat(80));
            file.write_all(line.as_bytes()).expect("write");
        }
        file.flush().expect("flush");
    }

    #[test]
    fn rotates_past_the_size_limit_and_keeps_only_the_count() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("mcp2.log");
        let mut file = RotatingFile::open(&path, rotation(false)).expect("open");
        write_lines(&mut file, 5);
        assert_eq!(
            names(dir.path()),
            ["mcp2.log"],
            "under the limit: no rotation"
        );
        write_lines(&mut file, 60);
        assert_eq!(names(dir.path()), ["mcp2.log", "mcp2.log.1", "mcp2.log.2"]);
        for name in names(dir.path()) {
            let text = std::fs::read_to_string(dir.path().join(&name)).expect("read");
            for line in text.lines() {
                serde_json::from_str::<serde_json::Value>(line)
                    .unwrap_or_else(|e| panic!("{name}: a split line {line:?}: {e}"));
            }
            assert!(text.len() < 1000 + 100, "{name} is {} bytes", text.len());
        }
    }

    #[test]
    fn compresses_rotated_files_when_asked() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("mcp2.log");
        let mut file = RotatingFile::open(&path, rotation(true)).expect("open");
        write_lines(&mut file, 60);
        assert_eq!(
            names(dir.path()),
            ["mcp2.log", "mcp2.log.1.gz", "mcp2.log.2.gz"]
        );
        let gz = std::fs::read(dir.path().join("mcp2.log.1.gz")).expect("read");
        assert_eq!(&gz[..2], &[0x1f, 0x8b], "gzip magic");
    }

    #[test]
    fn removes_rotated_files_past_the_age_limit() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("mcp2.log");
        std::fs::write(dir.path().join("mcp2.log.1"), "old\n").expect("write");
        std::fs::write(dir.path().join("mcp2.log.notes"), "kept\n").expect("write");
        std::thread::sleep(Duration::from_millis(50));
        let rotation = Rotation {
            max_age: Some(Duration::from_millis(10)),
            ..rotation(false)
        };
        let _file = RotatingFile::open(&path, rotation).expect("open");
        assert_eq!(names(dir.path()), ["mcp2.log", "mcp2.log.notes"]);
    }

    #[test]
    fn an_unwritable_path_is_an_error_not_a_panic() {
        let dir = tempfile::tempdir().expect("tempdir");
        let blocker = dir.path().join("file");
        std::fs::write(&blocker, "").expect("write");
        let err = RotatingFile::open(&blocker.join("mcp2.log"), rotation(false));
        assert!(err.is_err());
    }
}
