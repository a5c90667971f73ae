//! Shared test harness: real upstream servers on 127.0.0.1 and specs pointing at them.
//!
//! The servers come from `scripts/install-test-deps` (into `.fixtures/`). A missing fixture
//! fails the test with a message saying so: a test never skips silently.
//!
//! - [`process`]: the real `mcp2` binary serving a route directory ([`process::Mcp2`]).
//! - [`client`]: an rmcp client connected to it, with helpers.
//! - [`cluster`]: three replicas behind HAProxy, sharing a Redis (the scale-out tests).
#![allow(dead_code)]

pub mod client;
pub mod cluster;
pub mod hub;
pub mod process;
pub mod prometheus;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use mcp2::plan::{Secret, TransportSpec, UpstreamId, UpstreamSpec};
use mcp2::source::Location;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use url::Url;

/// How long a fixture server may take to start listening.
pub const START_LIMIT: Duration = Duration::from_secs(20);

pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn require(path: PathBuf, what: &str) -> PathBuf {
    assert!(
        path.exists(),
        "\n\n  {what} is missing: {}\n  Run `scripts/install-test-deps` first (it installs the test \
         upstream servers into .fixtures/).\n\n",
        path.display()
    );
    path
}

/// `@modelcontextprotocol/server-everything`'s launcher.
pub fn everything_bin() -> PathBuf {
    require(
        repo_root().join(".fixtures/node/node_modules/.bin/mcp-server-everything"),
        "the reference server @modelcontextprotocol/server-everything",
    )
}

/// The Python of the fixtures venv (with the `mcp` SDK).
pub fn python() -> PathBuf {
    require(
        repo_root().join(".fixtures/venv/bin/python"),
        "the Python fixtures venv",
    )
}

pub fn fixture_server(name: &str) -> PathBuf {
    require(
        repo_root().join("tests/fixtures/servers").join(name),
        "a fixture server script",
    )
}

/// A port free on 127.0.0.1 right now (the OS may hand it out again later; good enough here).
pub fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    listener.local_addr().expect("local addr").port()
}

/// A fixture server process; killed when dropped.
pub struct ServerChild {
    pub child: Child,
    pub port: u16,
}

impl ServerChild {
    /// Kills the server and waits until it is gone, so its port can be reused.
    pub async fn stop(mut self) {
        let _ = self.child.kill().await;
    }

    pub fn url(&self, path: &str) -> Url {
        Url::parse(&format!("http://127.0.0.1:{}{path}", self.port)).expect("url")
    }
}

/// Starts a Python fixture server and waits for its `LISTENING port=<port>` line.
pub async fn spawn_python_server(script: &str, env: &[(&str, &str)]) -> ServerChild {
    spawn_python_server_on(script, 0, env).await
}

/// Like [`spawn_python_server`] on a given port (0: any free one).
pub async fn spawn_python_server_on(script: &str, port: u16, env: &[(&str, &str)]) -> ServerChild {
    let (child, ports) = spawn_python(script, port, env, 1).await;
    ServerChild {
        child,
        port: ports[0],
    }
}

/// Several servers run by one Python process (one import of the SDK instead of several).
pub struct ServerGroup {
    pub child: Child,
    pub ports: Vec<u16>,
}

impl ServerGroup {
    /// `http://127.0.0.1:<port of server i><path>`.
    pub fn url(&self, i: usize, path: &str) -> Url {
        Url::parse(&format!("http://127.0.0.1:{}{path}", self.ports[i])).expect("url")
    }
}

/// Starts a Python fixture that runs `count` servers and waits for its `count` readiness lines.
pub async fn spawn_python_servers(script: &str, env: &[(&str, &str)], count: usize) -> ServerGroup {
    let (child, ports) = spawn_python(script, 0, env, count).await;
    ServerGroup { child, ports }
}

async fn spawn_python(
    script: &str,
    port: u16,
    env: &[(&str, &str)],
    count: usize,
) -> (Child, Vec<u16>) {
    let mut cmd = Command::new(python());
    cmd.arg(fixture_server(script))
        .arg(port.to_string())
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true);
    let mut child = cmd.spawn().expect("spawn python fixture server");
    let stdout = child.stdout.take().expect("piped stdout");
    let mut lines = BufReader::new(stdout).lines();
    let ports = tokio::time::timeout(START_LIMIT, async {
        let mut ports = Vec::new();
        while ports.len() < count {
            let Some(line) = lines.next_line().await.expect("read fixture stdout") else {
                panic!("{script} exited before listening");
            };
            if let Some(port) = line.strip_prefix("LISTENING port=") {
                ports.push(port.trim().parse::<u16>().expect("port number"));
            }
        }
        ports
    })
    .await
    .unwrap_or_else(|_| panic!("{script} did not listen within {START_LIMIT:?}"));
    // Keep draining stdout so the server never blocks on a full pipe.
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    (child, ports)
}

/// Starts server-everything in `streamableHttp` or `sse` mode on a free port of 127.0.0.1.
pub async fn spawn_everything(mode: &str) -> ServerChild {
    spawn_everything_on(mode, free_port()).await
}

/// Like [`spawn_everything`] on a given port.
pub async fn spawn_everything_on(mode: &str, port: u16) -> ServerChild {
    let preload = fixture_server("bind_localhost.cjs");
    let mut cmd = Command::new(everything_bin());
    cmd.arg(mode)
        .env("PORT", port.to_string())
        .env("NODE_OPTIONS", format!("--require={}", preload.display()))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true);
    let child = cmd.spawn().expect("spawn server-everything");
    wait_listening(port).await;
    ServerChild { child, port }
}

async fn wait_listening(port: u16) {
    let waited = tokio::time::timeout(START_LIMIT, async {
        loop {
            if tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .is_ok()
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await;
    assert!(
        waited.is_ok(),
        "nothing listened on 127.0.0.1:{port} within {START_LIMIT:?}"
    );
}

fn origin() -> Location {
    Location {
        file: Arc::from("tests/upstream.rs"),
        line: 1,
        col: 1,
    }
}

pub fn spec(id: &str, transport: TransportSpec, headers: &[(&str, &str)]) -> Arc<UpstreamSpec> {
    Arc::new(UpstreamSpec {
        id: UpstreamId::new(id),
        transport,
        headers: headers
            .iter()
            .map(|(k, v)| (k.to_string(), Secret::new(*v, vec![])))
            .collect(),
        auth: None,
        timeout: Duration::from_secs(20),
        connect_timeout: Duration::from_secs(20),
        session: Default::default(),
        protocol: Default::default(),
        origin: origin(),
    })
}

pub fn stdio(command: &Path, args: &[&str], env: &[(&str, &str)]) -> TransportSpec {
    TransportSpec::Stdio {
        command: command.display().to_string(),
        args: args.iter().map(|a| a.to_string()).collect(),
        env: env
            .iter()
            .map(|(k, v)| (k.to_string(), Secret::new(*v, vec![])))
            .collect::<BTreeMap<_, _>>(),
        cwd: None,
    }
}

pub fn init_tracing() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("MCP2_TEST_LOG")
                .unwrap_or_else(|_| "warn".into()),
        )
        .with_test_writer()
        .try_init();
}

/// Whether a process with this PID exists, zombies included: a child that is gone from here
/// was killed AND reaped.
pub fn process_exists(pid: u32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
}

/// Polls `check` every 20 ms until it holds or `limit` passes; true if it held.
pub async fn eventually(limit: Duration, mut check: impl FnMut() -> bool) -> bool {
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        if check() {
            return true;
        }
        if tokio::time::Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
