//! The real `mcp2` binary as a test process: `mcp2 serve <routes> --port 0`, its bound address
//! learnt from its stderr, its stderr kept for assertions, killed when dropped.
//!
//! ```ignore
//! let routes = Routes::new("upstream a { … }\nprofile default { use a }\nendpoint \"/mcp\" -> default\n");
//! let mcp2 = Mcp2::serve(&routes, &[]).await;
//! let client = connect(&mcp2.url("/mcp")).await;
//! assert!(mcp2.stderr().contains("…"));
//! ```

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tempfile::TempDir;

use super::eventually;

/// How long `mcp2 serve` may take to print its listening line.
pub const LISTEN_LIMIT: Duration = Duration::from_secs(30);

/// How long [`Mcp2::stderr`] lets mcp2's batched log writer catch up (its batches wait 10 ms).
const LOG_SETTLE: Duration = Duration::from_millis(50);

/// The stable line `mcp2 serve` prints on stderr once it accepts connections:
/// `mcp2 listening on http://ADDR (ENDPOINTS)`.
const LISTENING: &str = "mcp2 listening on http://";

/// A route directory of its own, removed when dropped.
pub struct Routes {
    dir: TempDir,
}

impl Routes {
    /// A directory holding one `routes.mcproute` with `text`.
    pub fn new(text: &str) -> Routes {
        let dir = tempfile::Builder::new()
            .prefix("mcp2-routes-")
            .tempdir()
            .expect("create a temp dir");
        std::fs::write(dir.path().join("routes.mcproute"), text).expect("write routes");
        Routes { dir }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }
}

/// A running `mcp2` process.
pub struct Mcp2 {
    child: Child,
    addr: Option<SocketAddr>,
    stderr: Arc<Mutex<String>>,
    status: Option<ExitStatus>,
}

impl Mcp2 {
    /// `mcp2 serve <routes> --port 0 <args>` with `env` added; returns once it listens.
    pub async fn serve(routes: &Routes, args: &[&str], env: &[(&str, &str)]) -> Mcp2 {
        let mut all = vec!["serve", path_str(routes.path()), "--port", "0"];
        all.extend_from_slice(args);
        let mut mcp2 = Mcp2::spawn(&all, env, Stdio::null());
        mcp2.addr = Some(mcp2.wait_listening().await);
        mcp2
    }

    /// `mcp2 <args>` with its stdin and stdout left to the caller (for `serve --stdio`).
    pub fn command(args: &[&str], env: &[(&str, &str)]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_mcp2"));
        cmd.args(args)
            .envs(env.iter().copied())
            .env_remove("RUST_LOG")
            .env("NO_COLOR", "1");
        // `MCP2_TEST_LOG=debug` (any filter but `1`) also turns mcp2's own logging up.
        if let Some(filter) = std::env::var("MCP2_TEST_LOG").ok().filter(|f| f != "1") {
            cmd.env("RUST_LOG", filter);
        }
        cmd
    }

    fn spawn(args: &[&str], env: &[(&str, &str)], stdin: Stdio) -> Mcp2 {
        let mut child = Mcp2::command(args, env)
            .stdin(stdin)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start the mcp2 binary");
        let stderr = Arc::new(Mutex::new(String::new()));
        let pipe = child.stderr.take().expect("piped stderr");
        let sink = stderr.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(pipe).lines() {
                let Ok(line) = line else { break };
                if std::env::var_os("MCP2_TEST_LOG").is_some() {
                    eprintln!("[mcp2] {line}");
                }
                let mut all = sink.lock().unwrap_or_else(|p| p.into_inner());
                all.push_str(&line);
                all.push('\n');
            }
        });
        Mcp2 {
            child,
            addr: None,
            stderr,
            status: None,
        }
    }

    async fn wait_listening(&mut self) -> SocketAddr {
        let deadline = tokio::time::Instant::now() + LISTEN_LIMIT;
        loop {
            if let Some(addr) = listening_addr(&self.captured()) {
                return addr;
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                // Let the reader thread catch the last lines.
                tokio::time::sleep(Duration::from_millis(100)).await;
                panic!(
                    "mcp2 exited ({status}) before listening; stderr:\n{}",
                    self.stderr()
                );
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "mcp2 did not listen within {LISTEN_LIMIT:?}; stderr:\n{}",
                self.stderr()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr.expect("mcp2 serves HTTP")
    }

    /// `http://ADDR{path}`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr())
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Everything mcp2 wrote to stderr so far, once what it logged before this call has had
    /// time to arrive: mcp2 writes its log in batches, up to 10 ms after the fact
    /// (`telemetry::batched`), so every check on its log sees the lines of what came before.
    pub fn stderr(&self) -> String {
        std::thread::sleep(LOG_SETTLE);
        self.captured()
    }

    /// What has arrived from mcp2's stderr until now.
    fn captured(&self) -> String {
        self.stderr
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// The last `n` lines of stderr, for failure messages.
    pub fn stderr_tail(&self, n: usize) -> String {
        let all = self.stderr();
        let lines: Vec<&str> = all.lines().collect();
        lines[lines.len().saturating_sub(n)..].join("\n")
    }

    /// How many stderr lines contain `needle`.
    pub fn count_in_stderr(&self, needle: &str) -> usize {
        self.stderr().lines().filter(|l| l.contains(needle)).count()
    }

    /// Waits until stderr contains `needle`; false if it did not within `limit`.
    pub async fn wait_for_stderr(&self, needle: &str, limit: Duration) -> bool {
        eventually(limit, || self.stderr().contains(needle)).await
    }

    /// Waits until a stderr line satisfies `wanted`; false if none did within `limit`. mcp2
    /// writes its log in batches, a few milliseconds after the fact: assert on a line this way.
    pub async fn wait_for_line(&self, limit: Duration, wanted: impl Fn(&str) -> bool) -> bool {
        eventually(limit, || self.stderr().lines().any(&wanted)).await
    }

    /// An admin endpoint (`GET` or `POST`): the status and the JSON body (`Null` if not JSON).
    pub async fn admin(&self, method: reqwest::Method, path: &str) -> (u16, serde_json::Value) {
        let response = reqwest::Client::new()
            .request(method, self.url(path))
            .send()
            .await
            .expect("the admin endpoint answers");
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or_default())
    }

    /// The child PID of a connected stdio upstream, from `/_mcp2/ready`.
    pub async fn upstream_pid(&self, upstream: &str) -> Option<u32> {
        let (_, body) = self.admin(reqwest::Method::GET, "/_mcp2/ready").await;
        body["upstreams"][upstream]["pid"]
            .as_u64()
            .and_then(|p| u32::try_from(p).ok())
    }

    /// Sends SIGTERM (to this process only).
    pub fn terminate(&self) {
        signal(self.pid(), "TERM");
    }

    /// Waits for the process to exit; `None` if it is still running after `limit`.
    pub async fn wait_exit(&mut self, limit: Duration) -> Option<ExitStatus> {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            if let Some(status) = self.status {
                return Some(status);
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                self.status = Some(status);
                return Some(status);
            }
            if tokio::time::Instant::now() >= deadline {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// The PIDs of mcp2's direct child processes (its stdio upstreams).
    pub fn children(&self) -> Vec<u32> {
        children_of(self.pid())
    }

    /// The child process whose command line contains `needle`.
    pub fn child_running(&self, needle: &str) -> Option<u32> {
        self.children()
            .into_iter()
            .find(|pid| command_line(*pid).contains(needle))
    }
}

impl Drop for Mcp2 {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!(
                "--- mcp2's stderr, last lines ---\n{}",
                self.stderr_tail(60)
            );
        }
        if self.status.is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// The address in mcp2's listening line, if it has been printed.
pub fn listening_addr(stderr: &str) -> Option<SocketAddr> {
    let line = stderr.lines().find_map(|l| l.strip_prefix(LISTENING))?;
    let addr = line.split_whitespace().next()?;
    addr.parse().ok()
}

/// Sends a signal to one process we started, by its PID.
pub fn signal(pid: u32, name: &str) {
    let status = Command::new("kill")
        .arg(format!("-{name}"))
        .arg(pid.to_string())
        .status()
        .expect("run kill");
    assert!(status.success(), "kill -{name} {pid} failed");
}

/// Direct children of `pid`, from `/proc/<pid>/task/*/children`.
pub fn children_of(pid: u32) -> Vec<u32> {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return Vec::new();
    };
    let mut pids = Vec::new();
    for task in tasks.flatten() {
        let list = std::fs::read_to_string(task.path().join("children")).unwrap_or_default();
        pids.extend(
            list.split_whitespace()
                .filter_map(|p| p.parse::<u32>().ok()),
        );
    }
    pids.sort_unstable();
    pids.dedup();
    pids
}

/// A process's command line, arguments joined by spaces ("" once it is gone).
pub fn command_line(pid: u32) -> String {
    std::fs::read(format!("/proc/{pid}/cmdline"))
        .map(|raw| String::from_utf8_lossy(&raw).replace('\0', " "))
        .unwrap_or_default()
}

fn path_str(path: &Path) -> &str {
    path.to_str().expect("UTF-8 temp path")
}

/// A fixture path as it goes into a route file: quoted, with the escapes `.mcproute` reads.
pub fn quoted(path: &Path) -> String {
    format!("{:?}", PathBuf::from(path).display().to_string())
}
