//! Stdio upstreams: spawning the child, its environment, its stderr, and its end.
//!
//! The child gets ONLY the configured environment plus [`INHERITED_ENV`] (each variable copied
//! from mcp2's own environment when set there; a configured value wins). It runs in its own
//! process group (a job object on Windows) so that stopping it also stops what it spawned
//! (`npx` → `node`, shell wrappers). Its stdout/stdin carry MCP; every stderr line is logged at
//! INFO with target `mcp2::upstream::stderr` and the upstream's name.
//!
//! A reaper task owns the child. It notices an exit at once (independently of stdout EOF, which
//! a grandchild holding the pipe could delay) and, when asked to stop, follows the MCP stdio
//! shutdown order: stdin is already closed by then, so wait [`STDIN_GRACE`], send SIGTERM to the
//! group, wait [`TERM_GRACE`], then SIGKILL the group and reap it.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::{ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::StreamExt;
use process_wrap::tokio::{ChildWrapper, CommandWrap, KillOnDrop};
use rmcp::service::RoleClient;
use rmcp::transport::async_rw::AsyncRwTransport;
use tokio::process::{ChildStderr, ChildStdin, ChildStdout};
use tokio_util::codec::{FramedRead, LinesCodec};
use tokio_util::sync::CancellationToken;

use super::error::{Redactor, UpstreamError};
use crate::plan::{Secret, UpstreamId};

/// Variables passed through from mcp2's environment when set there. Enough for a program to
/// find its interpreter and libraries, write temp files and pick a locale, and nothing that
/// usually carries credentials. The Windows names are what `cmd`, `node` and Python need to
/// start at all there.
pub const INHERITED_ENV: &[&str] = &[
    "PATH",
    "HOME",
    "USER",
    "LOGNAME",
    "LANG",
    "LC_ALL",
    "LC_CTYPE",
    "TERM",
    "TMPDIR",
    "TZ",
    // Windows
    "SYSTEMROOT",
    "SYSTEMDRIVE",
    "WINDIR",
    "COMSPEC",
    "PATHEXT",
    "TEMP",
    "TMP",
    "USERPROFILE",
    "APPDATA",
    "LOCALAPPDATA",
    "PROGRAMDATA",
    "PROGRAMFILES",
];

/// How long a child may take to exit by itself once its stdin is closed.
pub const STDIN_GRACE: Duration = Duration::from_millis(1000);
/// How long a child may take to exit after SIGTERM before it is killed.
pub const TERM_GRACE: Duration = Duration::from_millis(2000);
/// Longest stderr line logged whole; longer lines are skipped with a note.
const MAX_STDERR_LINE: usize = 8 * 1024;

pub(crate) type ChildTransport = AsyncRwTransport<RoleClient, ChildStdout, ChildStdin>;

/// The running child, seen from the connection: its PID, whether it exited, and how to stop it.
pub(crate) struct StdioChild {
    pid: Option<u32>,
    exited: CancellationToken,
    exit: Arc<Mutex<Option<String>>>,
    stop: CancellationToken,
    /// `None` once [`StdioChild::stop`] has taken it.
    reaper: Option<tokio::task::JoinHandle<()>>,
}

/// A child dropped without [`StdioChild::stop`] (a connection attempt cancelled mid-handshake)
/// is still terminated, in the background, by its reaper.
impl Drop for StdioChild {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

impl StdioChild {
    pub(crate) fn pid(&self) -> Option<u32> {
        self.pid
    }

    /// Resolves when the child has exited (and been reaped).
    pub(crate) async fn exited(&self) {
        self.exited.cancelled().await
    }

    /// How the child ended, once it has (`exit status 1`, `signal 9`).
    pub(crate) fn exit_description(&self) -> Option<String> {
        match self.exit.lock() {
            Ok(exit) => exit.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Stops the child (see the module docs for the order) and waits until it is reaped.
    pub(crate) async fn stop(mut self) {
        self.stop.cancel();
        let Some(reaper) = self.reaper.take() else {
            return;
        };
        let limit = STDIN_GRACE + TERM_GRACE + Duration::from_secs(2);
        if tokio::time::timeout(limit, reaper).await.is_err() {
            tracing::warn!(pid = ?self.pid, "stdio child not reaped in time; left to kill-on-drop");
        }
    }
}

/// The parts of a stdio spec, borrowed.
pub(crate) struct StdioCommand<'a> {
    pub(crate) command: &'a str,
    pub(crate) args: &'a [String],
    pub(crate) env: &'a BTreeMap<String, Secret>,
    pub(crate) cwd: Option<&'a PathBuf>,
}

/// Spawns the child and returns the MCP transport over its stdio plus its supervisor.
pub(crate) fn spawn(
    upstream: &UpstreamId,
    cmd: StdioCommand<'_>,
    redactor: &Redactor,
) -> Result<(ChildTransport, StdioChild), UpstreamError> {
    let spawn_error = |reason: String| UpstreamError::Spawn {
        command: cmd.command.to_string(),
        reason: redactor.clean(reason),
    };
    let mut wrap = CommandWrap::with_new(cmd.command, |c| {
        c.args(cmd.args)
            .env_clear()
            .envs(inherited_env())
            .envs(cmd.env.iter().map(|(k, v)| (k, v.expose())))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if let Some(cwd) = cmd.cwd {
            c.current_dir(cwd);
        }
    });
    #[cfg(unix)]
    wrap.wrap(process_wrap::tokio::ProcessGroup::leader());
    #[cfg(windows)]
    wrap.wrap(process_wrap::tokio::JobObject);
    wrap.wrap(KillOnDrop);

    let mut child = wrap.spawn().map_err(|e| spawn_error(e.to_string()))?;
    let pid = child.id();
    let (Some(stdin), Some(stdout)) = (child.stdin().take(), child.stdout().take()) else {
        return Err(spawn_error(
            "the child's stdio pipes were not available".into(),
        ));
    };
    if let Some(stderr) = child.stderr().take() {
        tokio::spawn(log_stderr(upstream.clone(), stderr, redactor.clone()));
    }

    let exited = CancellationToken::new();
    let stop = CancellationToken::new();
    let exit = Arc::new(Mutex::new(None));
    let reaper = tokio::spawn(reap(
        upstream.clone(),
        child,
        stop.clone(),
        exited.clone(),
        exit.clone(),
    ));
    let transport = AsyncRwTransport::new_client(stdout, stdin);
    Ok((
        transport,
        StdioChild {
            pid,
            exited,
            exit,
            stop,
            reaper: Some(reaper),
        },
    ))
}

fn inherited_env() -> impl Iterator<Item = (&'static str, std::ffi::OsString)> {
    INHERITED_ENV
        .iter()
        .filter_map(|name| std::env::var_os(name).map(|value| (*name, value)))
}

async fn reap(
    upstream: UpstreamId,
    mut child: Box<dyn ChildWrapper>,
    stop: CancellationToken,
    exited: CancellationToken,
    exit: Arc<Mutex<Option<String>>>,
) {
    let by_itself = tokio::select! {
        status = child.wait() => Some(status),
        _ = stop.cancelled() => None,
    };
    let stopped = by_itself.is_none();
    let status = match by_itself {
        Some(status) => status,
        None => terminate(child.as_mut()).await,
    };
    let description = match &status {
        Ok(status) => describe(*status),
        Err(e) => format!("could not be waited for: {e}"),
    };
    if stopped {
        tracing::debug!(%upstream, exit = %description, "stdio child stopped");
    } else {
        tracing::warn!(%upstream, exit = %description, "stdio child exited");
    }
    match exit.lock() {
        Ok(mut slot) => *slot = Some(description),
        Err(poisoned) => *poisoned.into_inner() = Some(description),
    }
    exited.cancel();
}

async fn terminate(child: &mut dyn ChildWrapper) -> std::io::Result<ExitStatus> {
    if let Ok(status) = tokio::time::timeout(STDIN_GRACE, child.wait()).await {
        return status;
    }
    #[cfg(unix)]
    {
        /// POSIX SIGTERM; the value is 15 on every Unix Rust supports.
        const SIGTERM: i32 = 15;
        if child.signal(SIGTERM).is_ok()
            && let Ok(status) = tokio::time::timeout(TERM_GRACE, child.wait()).await
        {
            return status;
        }
    }
    Box::into_pin(child.kill()).await?;
    child.wait().await
}

fn describe(status: ExitStatus) -> String {
    if let Some(code) = status.code() {
        return format!("exit status {code}");
    }
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        if let Some(signal) = status.signal() {
            return format!("killed by signal {signal}");
        }
    }
    status.to_string()
}

async fn log_stderr(upstream: UpstreamId, stderr: ChildStderr, redactor: Redactor) {
    let mut lines = FramedRead::new(stderr, LinesCodec::new_with_max_length(MAX_STDERR_LINE));
    while let Some(line) = lines.next().await {
        match line {
            Ok(line) => tracing::info!(
                target: "mcp2::upstream::stderr",
                %upstream,
                "{}",
                redactor.clean(line)
            ),
            Err(tokio_util::codec::LinesCodecError::MaxLineLengthExceeded) => tracing::info!(
                target: "mcp2::upstream::stderr",
                %upstream,
                "(a stderr line longer than {MAX_STDERR_LINE} bytes was skipped)"
            ),
            Err(tokio_util::codec::LinesCodecError::Io(_)) => break,
        }
    }
}
