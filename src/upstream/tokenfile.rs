//! The token file of an `auth oauth authorization-code` upstream: what `mcp2 login` obtained
//! (access and refresh token, the client it registered, where tokens are renewed), read when
//! serving and rewritten when a refresh rotates the tokens.
//!
//! The file is JSON, created with mode 0600 in a directory created 0700: a new file is written
//! beside the old one (created 0600, never wider even briefly), synced and renamed over it, so
//! a reader sees the old file or the new one, never half of one. Its contents never reach a
//! log line or an error: [`StoredTokens`]' `Debug` shows none of them, and errors name the
//! path only.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

/// How the client authenticates at the token endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClientAuth {
    /// HTTP Basic (`client_secret_basic`).
    Basic,
    /// `client_id`/`client_secret` in the form (`client_secret_post`).
    Post,
    /// A public client: `client_id` only (`none`).
    None,
}

/// See the module docs. Field names are the file's.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredTokens {
    /// The authorization server's issuer, as discovered or configured.
    pub issuer: String,
    pub token_endpoint: String,
    pub client_id: String,
    /// Only for a client `mcp2 login` registered (a configured secret stays in the routes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<String>,
    pub client_auth: ClientAuth,
    /// RFC 8707 `resource` the tokens were asked for (the upstream's URL).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource: Option<String>,
    /// Scopes granted (or asked for), space-separated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    pub access_token: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    /// Seconds since the epoch the access token expires; `None`: unknown.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<u64>,
}

impl std::fmt::Debug for StoredTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoredTokens")
            .field("issuer", &self.issuer)
            .field("client_id", &self.client_id)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

impl StoredTokens {
    /// How long the access token stays valid from now (zero once expired); `None`: unknown.
    pub fn remaining(&self) -> Option<Duration> {
        let at = self.expires_at?;
        Some(Duration::from_secs(at.saturating_sub(now_secs())))
    }

    /// Sets `expires_at` from a lifetime starting now.
    pub fn expires_in(&mut self, lifetime: Option<Duration>) {
        self.expires_at = lifetime.map(|l| now_secs() + l.as_secs());
    }
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// A token file that could not be read or written. Names the path, never the contents.
#[derive(Debug, thiserror::Error)]
pub enum TokenFileError {
    #[error("cannot read the token file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the token file {path} is not one `mcp2 login` wrote (line {line}, column {column})")]
    Malformed {
        path: PathBuf,
        line: usize,
        column: usize,
    },
    #[error("cannot write the token file {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// The tokens in `path`; `None` when there is no such file (not logged in yet).
pub fn read(path: &Path) -> Result<Option<StoredTokens>, TokenFileError> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => {
            return Err(TokenFileError::Read {
                path: path.to_path_buf(),
                source,
            });
        }
    };
    // serde_json's error may quote the input: only its position is kept.
    serde_json::from_str(&text)
        .map(Some)
        .map_err(|e| TokenFileError::Malformed {
            path: path.to_path_buf(),
            line: e.line(),
            column: e.column(),
        })
}

/// Replaces `path` with `tokens` atomically, mode 0600 (its directory created 0700).
pub fn write(path: &Path, tokens: &StoredTokens) -> Result<(), TokenFileError> {
    let failed = |source| TokenFileError::Write {
        path: path.to_path_buf(),
        source,
    };
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    create_dir(&dir).map_err(failed)?;
    let body = serde_json::to_vec_pretty(tokens).map_err(|e| failed(std::io::Error::other(e)))?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "tokens".into());
    let temp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let written = write_new(&temp, &body).and_then(|()| std::fs::rename(&temp, path));
    if written.is_err() {
        let _ = std::fs::remove_file(&temp);
    }
    written.map_err(failed)
}

fn create_dir(dir: &Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)
}

/// Creates `path` afresh with mode 0600 (a stale temporary file is replaced) and syncs it.
fn write_new(path: &Path, body: &[u8]) -> std::io::Result<()> {
    let _ = std::fs::remove_file(path);
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path)?;
    file.write_all(body)?;
    file.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> StoredTokens {
        StoredTokens {
            issuer: "http://127.0.0.1:1".into(),
            token_endpoint: "http://127.0.0.1:1/token".into(),
            client_id: "c".into(),
            client_secret: Some("registered-secret".into()),
            client_auth: ClientAuth::Basic,
            resource: None,
            scope: Some("mcp".into()),
            access_token: "at-123".into(),
            refresh_token: Some("rt-456".into()),
            expires_at: Some(1),
        }
    }

    #[test]
    fn a_written_file_reads_back_is_owner_only_and_its_debug_shows_no_token() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("nested/api.json");
        assert!(read(&path).expect("missing is fine").is_none());
        write(&path, &sample()).expect("write");
        write(&path, &sample()).expect("overwrite");
        assert_eq!(read(&path).expect("read"), Some(sample()));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).expect("meta").permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let shown = format!("{:?}", sample());
        assert!(
            !shown.contains("at-123") && !shown.contains("rt-456") && !shown.contains("registered")
        );
        assert_eq!(
            std::fs::read_dir(path.parent().expect("dir"))
                .expect("ls")
                .count(),
            1
        );
    }

    #[test]
    fn a_broken_file_is_named_without_quoting_it() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("api.json");
        std::fs::write(&path, "{\"access_token\": \"secret-xyz\"").expect("write");
        let err = read(&path).expect_err("malformed").to_string();
        assert!(
            err.contains("api.json") && !err.contains("secret-xyz"),
            "{err}"
        );
    }
}
