//! The real `mcp2 serve` binary on 127.0.0.1, for pass-through tests, and rmcp clients for it.
//!
//! [`Hub::start`] writes a route file into a fresh directory, starts `mcp2 serve --port 0`,
//! reads the bound port from its stderr and waits until `/_mcp2/ready` says every upstream is
//! connected. The process is killed when the `Hub` is dropped. [`TestClient`] is an rmcp
//! client whose sampling, elicitation and roots answers name the client, and which records
//! every server→client request and notification it gets, so a test can tell whose is whose.
#![allow(dead_code, deprecated)]

use std::path::PathBuf;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rmcp::model::{
    ClientCapabilities, ClientConfig, CreateMessageRequestParams, CreateMessageResult,
    ElicitRequestParams, ElicitResult, ElicitationAction, Implementation, ListRootsResult,
    ProtocolVersion, Root, SamplingMessage,
};
use rmcp::service::{NotificationContext, RequestContext, RoleClient, RunningService};
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::{ClientHandler, ErrorData as McpError, ServiceExt};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::Notify;

use super::START_LIMIT;

pub struct Hub {
    pub child: Child,
    pub port: u16,
    pub dir: PathBuf,
    pub stderr: Arc<Mutex<Vec<String>>>,
}

impl Hub {
    /// Starts `mcp2 serve` on `routes` (the text of one `.mcproute` file).
    pub async fn start(name: &str, routes: &str) -> Hub {
        Self::start_with(name, routes, &[]).await
    }

    pub async fn start_with(name: &str, routes: &str, env: &[(&str, &str)]) -> Hub {
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
            .join("hub")
            .join(name);
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create hub dir");
        std::fs::write(dir.join("routes.mcproute"), routes).expect("write routes");
        let mut child = Command::new(env!("CARGO_BIN_EXE_mcp2"))
            .current_dir(&dir)
            .args(["serve", "routes.mcproute", "--port", "0"])
            .env("NO_COLOR", "1")
            .env(
                "RUST_LOG",
                std::env::var("MCP2_HUB_LOG").unwrap_or_else(|_| "info".into()),
            )
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("spawn mcp2");
        let stderr = child.stderr.take().expect("piped stderr");
        let mut lines = BufReader::new(stderr).lines();
        let log = Arc::new(Mutex::new(Vec::new()));
        let port = tokio::time::timeout(START_LIMIT, async {
            while let Some(line) = lines.next_line().await.expect("read mcp2 stderr") {
                log.lock().unwrap().push(line.clone());
                if let Some(rest) = line.strip_prefix("mcp2 listening on http://") {
                    let addr = rest.split_whitespace().next().expect("address");
                    let port = addr.rsplit(':').next().expect("port");
                    return port.parse::<u16>().expect("port number");
                }
            }
            panic!(
                "mcp2 exited before listening:\n{}",
                log.lock().unwrap().join("\n")
            );
        })
        .await
        .unwrap_or_else(|_| panic!("mcp2 did not listen within {START_LIMIT:?}"));
        let keep = log.clone();
        tokio::spawn(async move {
            while let Ok(Some(line)) = lines.next_line().await {
                keep.lock().unwrap().push(line);
            }
        });
        let hub = Hub {
            child,
            port,
            dir,
            stderr: log,
        };
        hub.wait_ready().await;
        hub
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    async fn wait_ready(&self) {
        let client = reqwest::Client::new();
        let url = self.url("/_mcp2/ready");
        let ready = tokio::time::timeout(START_LIMIT, async {
            loop {
                if let Ok(r) = client.get(&url).send().await
                    && r.status().is_success()
                {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        })
        .await;
        assert!(ready.is_ok(), "mcp2 not ready:\n{}", self.log());
    }

    /// Everything mcp2 logged so far.
    pub fn log(&self) -> String {
        self.stderr.lock().unwrap().join("\n")
    }

    pub fn pid(&self) -> u32 {
        self.child.id().expect("mcp2 runs")
    }

    /// PIDs of mcp2's direct children (stdio upstreams).
    pub fn children(&self) -> Vec<u32> {
        children_of(self.pid())
    }
}

impl Drop for Hub {
    /// Stops mcp2 the way an operator would (SIGTERM), so it stops its upstream children
    /// itself; a SIGKILL (what `kill_on_drop` would send) would orphan them. SIGKILL follows
    /// if it has not exited within a few seconds.
    fn drop(&mut self) {
        let Some(pid) = self.child.id() else {
            return;
        };
        let _ = std::process::Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status();
        for _ in 0..100 {
            if matches!(self.child.try_wait(), Ok(Some(_))) {
                return;
            }
            std::thread::sleep(Duration::from_millis(30));
        }
        let _ = self.child.start_kill();
    }
}

pub fn children_of(parent: u32) -> Vec<u32> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return out;
    };
    for entry in entries.flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        // `pid (comm) state ppid …`; comm may hold spaces, so read after the last `)`.
        let Some(rest) = stat.rsplit_once(')').map(|(_, r)| r) else {
            continue;
        };
        let mut fields = rest.split_whitespace();
        let state = fields.next();
        if state == Some("Z") {
            continue;
        }
        if fields.next().and_then(|p| p.parse::<u32>().ok()) == Some(parent) {
            out.push(pid);
        }
    }
    out
}

/// What a [`TestClient`] saw.
#[derive(Debug, Default)]
pub struct Seen {
    /// The text of each sampling request's first message.
    pub sampling: Vec<String>,
    pub elicitations: Vec<String>,
    pub roots: usize,
    /// Notifications as `(method, params)`, in arrival order.
    pub notifications: Vec<(String, serde_json::Value)>,
}

impl Seen {
    pub fn of(&self, method: &str) -> Vec<serde_json::Value> {
        self.notifications
            .iter()
            .filter(|(m, _)| m == method)
            .map(|(_, p)| p.clone())
            .collect()
    }
}

/// An rmcp client that answers sampling, elicitation and roots as `name`.
#[derive(Clone)]
pub struct TestClient {
    pub name: String,
    pub seen: Arc<Mutex<Seen>>,
    /// When set, a sampling answer waits until this is notified (at most 10 s), so a test can
    /// hold a request in flight.
    pub hold: Option<Arc<Notify>>,
    /// Notified when a sampling request arrives.
    pub asked: Arc<Notify>,
    pub protocol: ProtocolVersion,
    /// Declares no capabilities (no sampling, elicitation or roots): what most clients do.
    pub plain: bool,
}

impl TestClient {
    pub fn new(name: &str) -> TestClient {
        TestClient {
            name: name.to_string(),
            seen: Arc::default(),
            hold: None,
            asked: Arc::new(Notify::new()),
            protocol: ProtocolVersion::V_2025_11_25,
            plain: false,
        }
    }

    /// A client that declares no capabilities, and still records what it is sent.
    pub fn plain(name: &str) -> TestClient {
        TestClient {
            plain: true,
            ..TestClient::new(name)
        }
    }

    pub async fn connect(&self, url: &str) -> RunningService<RoleClient, TestClient> {
        let transport = StreamableHttpClientTransport::from_uri(url.to_string());
        self.clone()
            .serve(transport)
            .await
            .unwrap_or_else(|e| panic!("client {} could not connect: {e}", self.name))
    }
}

impl ClientHandler for TestClient {
    fn get_info(&self) -> ClientConfig {
        let mut caps = ClientCapabilities::default();
        if !self.plain {
            caps = ClientCapabilities::builder()
                .enable_roots()
                .enable_sampling()
                .build();
            caps.elicitation =
                Some(rmcp::model::ElicitationCapability::new().with_form(Default::default()));
        }
        let mut config = ClientConfig::new(caps, Implementation::new(self.name.clone(), "1"));
        config.protocol_version = self.protocol.clone();
        config
    }

    async fn create_message(
        &self,
        params: CreateMessageRequestParams,
        _context: RequestContext<RoleClient>,
    ) -> Result<CreateMessageResult, McpError> {
        let text = params
            .messages
            .first()
            .and_then(|m| serde_json::to_value(&m.content).ok())
            .map(|v| v.to_string())
            .unwrap_or_default();
        self.seen.lock().unwrap().sampling.push(text);
        self.asked.notify_one();
        if let Some(hold) = &self.hold {
            let _ = tokio::time::timeout(Duration::from_secs(10), hold.notified()).await;
        }
        Ok(CreateMessageResult::new(
            SamplingMessage::assistant_text(format!("answer from {}", self.name)),
            format!("model-of-{}", self.name),
        ))
    }

    async fn create_elicitation(
        &self,
        request: ElicitRequestParams,
        _context: RequestContext<RoleClient>,
    ) -> Result<ElicitResult, McpError> {
        let text = serde_json::to_string(&request).unwrap_or_default();
        self.seen.lock().unwrap().elicitations.push(text);
        Ok(ElicitResult::new(ElicitationAction::Decline))
    }

    async fn list_roots(
        &self,
        _context: RequestContext<RoleClient>,
    ) -> Result<ListRootsResult, McpError> {
        self.seen.lock().unwrap().roots += 1;
        Ok(ListRootsResult::new(vec![Root::new(format!(
            "file:///roots/{}",
            self.name
        ))]))
    }

    async fn on_progress(
        &self,
        params: rmcp::model::ProgressNotificationParam,
        _context: NotificationContext<RoleClient>,
    ) {
        self.record("notifications/progress", &params);
    }

    async fn on_logging_message(
        &self,
        params: rmcp::model::LoggingMessageNotificationParam,
        _context: NotificationContext<RoleClient>,
    ) {
        self.record("notifications/message", &params);
    }

    async fn on_resource_updated(
        &self,
        params: rmcp::model::ResourceUpdatedNotificationParam,
        _context: NotificationContext<RoleClient>,
    ) {
        self.record("notifications/resources/updated", &params);
    }

    async fn on_tool_list_changed(&self, _context: NotificationContext<RoleClient>) {
        self.record("notifications/tools/list_changed", &serde_json::json!({}));
    }

    async fn on_resource_list_changed(&self, _context: NotificationContext<RoleClient>) {
        self.record(
            "notifications/resources/list_changed",
            &serde_json::json!({}),
        );
    }

    async fn on_prompt_list_changed(&self, _context: NotificationContext<RoleClient>) {
        self.record("notifications/prompts/list_changed", &serde_json::json!({}));
    }
}

impl TestClient {
    fn record(&self, method: &str, params: &impl serde::Serialize) {
        let params = serde_json::to_value(params).unwrap_or_default();
        self.seen
            .lock()
            .unwrap()
            .notifications
            .push((method.to_string(), params));
    }
}
