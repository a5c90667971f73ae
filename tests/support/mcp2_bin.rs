//! The real `mcp2` binary as a test subject: started on a free 127.0.0.1 port, its stderr
//! captured for assertions, killed when dropped.

use std::path::Path;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

pub struct Mcp2 {
    child: Child,
    pub addr: String,
    log: Arc<Mutex<String>>,
}

impl Mcp2 {
    /// `mcp2 serve ROUTES --port 0 EXTRA…`, waiting (bounded) until it listens.
    pub async fn serve(routes: &Path, extra: &[&str]) -> Mcp2 {
        let mut child = Command::new(env!("CARGO_BIN_EXE_mcp2"))
            .arg("serve")
            .arg(routes)
            .args(["--port", "0"])
            .args(extra)
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("start mcp2");
        let stderr = child.stderr.take().expect("stderr");
        let log = Arc::new(Mutex::new(String::new()));
        let (tx, rx) = tokio::sync::oneshot::channel();
        let sink = log.clone();
        tokio::spawn(async move {
            let mut tx = Some(tx);
            let mut lines = BufReader::new(stderr).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                if let Some(rest) = line.strip_prefix("mcp2 listening on http://")
                    && let Some(tx) = tx.take()
                {
                    let addr = rest
                        .split_whitespace()
                        .next()
                        .unwrap_or_default()
                        .to_string();
                    let _ = tx.send(addr);
                }
                let mut log = sink.lock().unwrap();
                log.push_str(&line);
                log.push('\n');
            }
        });
        let addr = tokio::time::timeout(Duration::from_secs(30), rx)
            .await
            .unwrap_or_else(|_| panic!("mcp2 did not start listening:\n{}", log.lock().unwrap()))
            .expect("mcp2 exited before listening");
        Mcp2 { child, addr, log }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub fn pid(&self) -> u32 {
        self.child.id().expect("mcp2 is running")
    }

    /// Everything mcp2 wrote to stderr so far.
    pub fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    pub async fn wait_for_log(&self, check: impl Fn(&str) -> bool, limit: Duration) -> bool {
        let start = Instant::now();
        while start.elapsed() < limit {
            if check(&self.log()) {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        check(&self.log())
    }

    /// Sends a signal (`HUP`, `TERM`, …) to this mcp2 only.
    pub fn signal(&self, name: &str) {
        let status = std::process::Command::new("kill")
            .arg(format!("-{name}"))
            .arg(self.pid().to_string())
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -{name} failed");
    }

    pub async fn get(&self, path: &str) -> (u16, serde_json::Value) {
        let response = reqwest::Client::new()
            .get(self.url(path))
            .send()
            .await
            .expect("GET reaches mcp2");
        let status = response.status().as_u16();
        (
            status,
            response.json().await.unwrap_or(serde_json::Value::Null),
        )
    }

    pub async fn post(&self, path: &str) -> (u16, serde_json::Value) {
        let response = reqwest::Client::new()
            .post(self.url(path))
            .send()
            .await
            .expect("POST reaches mcp2");
        let status = response.status().as_u16();
        (
            status,
            response.json().await.unwrap_or(serde_json::Value::Null),
        )
    }

    /// The child PID of a connected stdio upstream, from `/_mcp2/ready`.
    pub async fn upstream_pid(&self, upstream: &str) -> Option<u32> {
        let (_, body) = self.get("/_mcp2/ready").await;
        body["upstreams"][upstream]["pid"]
            .as_u64()
            .and_then(|p| u32::try_from(p).ok())
    }
}
