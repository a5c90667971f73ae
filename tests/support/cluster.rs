//! Several `mcp2` replicas as users run them: one routes directory, a real HAProxy in front
//! (round-robin, no stickiness), a real Redis they share, and an HTTP upstream that logs every
//! request it receives; all started on free 127.0.0.1 ports, stopped when dropped. Needs
//! `redis-server` and `haproxy` (`scripts/install-test-deps` installs them).
//!
//! ```ignore
//! let cluster = Cluster::start("limit tool scale/add 5/min", &[]).await;
//! let client = connect(&cluster.url()).await;
//! cluster.kill(1); // SIGKILL: a crash, not a drain
//! ```

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::process::{Child, Command};

use super::process::{Mcp2, Routes};
use super::{eventually, free_port, spawn_python_server};

/// The session key every replica shares.
pub const KEY: &str = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";
pub const OTHER_KEY: &str = "0000000000000000000000000000000000000000000000000000000000000001";
const START: Duration = Duration::from_secs(20);

/// The retry policy of the replicas' backend, as in `deploy/haproxy/haproxy.cfg`: a request
/// that could not be sent (connection refused: the replica is gone) goes to another replica;
/// a `POST` that reached a replica is never sent again (it may have run there), while `GET`
/// and `DELETE` are also retried when the replica closed without answering.
pub const RETRIES: &str = "    retries 3\n    option redispatch 1\n    retry-on conn-failure empty-response\n    http-request disable-l7-retry if METH_POST\n";

/// A system tool the tests need, or a failure that says how to get it.
pub fn system_tool(name: &str) -> PathBuf {
    for dir in ["/usr/bin", "/usr/sbin", "/usr/local/bin", "/usr/local/sbin"] {
        let path = Path::new(dir).join(name);
        if path.exists() {
            return path;
        }
    }
    panic!(
        "\n\n  `{name}` is missing. Run `scripts/install-test-deps` (as root it installs it).\n\n"
    );
}

pub async fn wait_port(port: u16, what: &str) {
    let up = eventually(START, || {
        std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
    })
    .await;
    assert!(up, "{what} did not listen on port {port} within {START:?}");
}

pub struct Redis {
    child: Option<Child>,
    pub port: u16,
}

impl Redis {
    pub async fn start() -> Redis {
        let mut redis = Redis {
            child: None,
            port: free_port(),
        };
        redis.restart().await;
        redis
    }

    pub async fn restart(&mut self) {
        let child = Command::new(system_tool("redis-server"))
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("start redis-server");
        self.child = Some(child);
        wait_port(self.port, "redis-server").await;
    }

    pub async fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill().await;
        }
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }
}

/// An HTTP upstream every replica shares (`tests/fixtures/servers/scale_server.py`), logging
/// each request it receives.
pub struct Upstream {
    _server: super::ServerChild,
    log: tempfile::NamedTempFile,
    pub port: u16,
}

impl Upstream {
    pub async fn start() -> Upstream {
        let log = tempfile::NamedTempFile::new().expect("a log file");
        let path = log.path().display().to_string();
        let server = spawn_python_server("scale_server.py", &[("SCALE_LOG", &path)]).await;
        let port = server.port;
        Upstream {
            _server: server,
            log,
            port,
        }
    }

    /// How many HTTP requests reached the upstream so far.
    pub fn requests(&self) -> usize {
        std::fs::read_to_string(self.log.path())
            .unwrap_or_default()
            .lines()
            .count()
    }

    /// How many log lines are `line` (`CALL slow`: calls of the slow tool).
    pub fn logged(&self, line: &str) -> usize {
        std::fs::read_to_string(self.log.path())
            .unwrap_or_default()
            .lines()
            .filter(|l| *l == line)
            .count()
    }
}

pub struct Cluster {
    pub upstream: Upstream,
    pub redis: Redis,
    pub replicas: Vec<Option<Mcp2>>,
    _haproxy: Child,
    _config: tempfile::TempDir,
    pub port: u16,
    stats_port: u16,
    _routes: Routes,
}

impl Cluster {
    /// Three replicas of `profile default { use scale  <profile_extra> }` on `/mcp`, with the
    /// shared key and Redis, and `args` added to `mcp2 serve`.
    pub async fn start(profile_extra: &str, args: &[&str]) -> Cluster {
        let upstream = Upstream::start().await;
        let redis = Redis::start().await;
        let routes = Routes::new(&format!(
            "upstream scale {{\n  http \"http://127.0.0.1:{}/mcp\"\n  timeout 20s\n}}\n\
             profile default {{\n  use scale\n  {profile_extra}\n}}\nendpoint \"/mcp\" -> default\n",
            upstream.port
        ));
        let mut all = vec!["--no-watch", "--redis"];
        let url = redis.url();
        all.push(&url);
        all.extend_from_slice(args);
        let env = [("MCP2_SESSION_KEY", KEY), ("RUST_LOG", "info")];
        let mut replicas = Vec::new();
        for _ in 0..3 {
            replicas.push(Some(Mcp2::serve(&routes, &all, &env).await));
        }
        let port = free_port();
        let stats_port = free_port();
        let config = tempfile::tempdir().expect("a temp dir");
        let servers: String = replicas
            .iter()
            .flatten()
            .enumerate()
            .map(|(i, r)| {
                format!(
                    "    server r{i} {} check inter 300 fall 1 rise 1\n",
                    r.addr()
                )
            })
            .collect();
        let cfg = config.path().join("haproxy.cfg");
        std::fs::write(
            &cfg,
            format!(
                "global\n    maxconn 512\n\
                 defaults\n    mode http\n    timeout connect 1s\n    timeout client 60s\n    timeout server 60s\n\
                 frontend mcp\n    bind 127.0.0.1:{port}\n    default_backend replicas\n\
                 listen stats\n    bind 127.0.0.1:{stats_port}\n    stats enable\n    stats uri /stats\n\
                 backend replicas\n    balance roundrobin\n    option httpchk GET /_mcp2/ready\n{RETRIES}{servers}"
            ),
        )
        .expect("write haproxy.cfg");
        let haproxy = Command::new(system_tool("haproxy"))
            .arg("-db")
            .arg("-f")
            .arg(&cfg)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("start haproxy");
        wait_port(port, "haproxy").await;
        wait_port(stats_port, "haproxy's stats page").await;
        Cluster {
            upstream,
            redis,
            replicas,
            _haproxy: haproxy,
            _config: config,
            port,
            stats_port,
            _routes: routes,
        }
    }

    /// The MCP endpoint behind HAProxy.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}/mcp", self.port)
    }

    pub fn replica(&self, i: usize) -> &Mcp2 {
        self.replicas[i].as_ref().expect("a running replica")
    }

    /// SIGKILLs replica `i`: a crash, not a drain.
    pub fn kill(&mut self, i: usize) {
        self.replicas[i] = None;
    }

    /// How many requests each replica has logged (`None` for a stopped one).
    pub fn served(&self) -> Vec<Option<usize>> {
        self.replicas
            .iter()
            .map(|r| r.as_ref().map(|r| r.count_in_stderr("mcp2::request")))
            .collect()
    }

    /// How many requests HAProxy has in progress on each replica right now (its stats page's
    /// `scur`), in replica order.
    pub async fn in_progress(&self) -> Vec<u64> {
        let csv = reqwest::get(format!("http://127.0.0.1:{}/stats;csv", self.stats_port))
            .await
            .expect("HAProxy's stats page")
            .text()
            .await
            .expect("the stats as text");
        (0..self.replicas.len())
            .map(|i| {
                let name = format!("r{i}");
                csv.lines()
                    .map(|l| l.split(',').collect::<Vec<_>>())
                    .find(|f| f.len() > 4 && f[0] == "replicas" && f[1] == name)
                    .and_then(|f| f[4].parse().ok())
                    .unwrap_or(0)
            })
            .collect()
    }

    /// Waits until exactly one replica has one more request in progress than in `before`;
    /// that replica's index.
    pub async fn replica_serving(&self, before: &[u64], limit: Duration) -> Option<usize> {
        let deadline = tokio::time::Instant::now() + limit;
        while tokio::time::Instant::now() < deadline {
            let now = self.in_progress().await;
            let grown: Vec<usize> = (0..now.len())
                .filter(|&i| now[i] > before.get(i).copied().unwrap_or(0))
                .collect();
            if let [one] = grown[..] {
                return Some(one);
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        None
    }
}

/// Whether every replica served more requests in `after` than in `before`.
pub fn all_served(before: &[Option<usize>], after: &[Option<usize>]) -> bool {
    before
        .iter()
        .zip(after)
        .all(|(b, a)| matches!((b, a), (Some(b), Some(a)) if a > b))
}

/// `POST url` of one JSON-RPC message under session `id`: status and body text.
pub async fn post(url: &str, id: &str, message: Value) -> (u16, String) {
    let response = reqwest::Client::new()
        .post(url)
        .header("accept", "application/json, text/event-stream")
        .header("content-type", "application/json")
        .header("mcp-protocol-version", "2025-06-18")
        .header("mcp-session-id", id)
        .body(message.to_string())
        .send()
        .await
        .expect("a response");
    let status = response.status().as_u16();
    (status, response.text().await.unwrap_or_default())
}

/// `POST url` of `tools/list` under session `id`: the status.
pub async fn status_with_session(url: &str, id: &str) -> u16 {
    post(
        url,
        id,
        json!({"jsonrpc": "2.0", "id": 7, "method": "tools/list"}),
    )
    .await
    .0
}

/// Opens a session with a raw `initialize`; its id.
pub async fn open_session(url: &str) -> String {
    let response = reqwest::Client::new()
        .post(url)
        .header("accept", "application/json, text/event-stream")
        .header("content-type", "application/json")
        .body(
            json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
                "protocolVersion": "2025-06-18", "capabilities": {},
                "clientInfo": {"name": "raw", "version": "1"}}})
            .to_string(),
        )
        .send()
        .await
        .expect("initialize");
    assert_eq!(response.status(), 200);
    response.headers()["mcp-session-id"]
        .to_str()
        .expect("an ASCII id")
        .to_string()
}
