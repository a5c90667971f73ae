//! The upstream fixture: a fast rmcp Streamable HTTP server, run as a child process of the bench.
//!
//! The bench re-executes itself with `--fixture-server` (see `main.rs`) so that the upstream is a
//! process of its own whose CPU time and RSS can be read from `/proc`, exactly like mcp2's. The
//! server offers:
//! - `echo {text}`: returns `text` as its only text content (the load generator checks it);
//! - `big`: returns `--result-bytes` bytes of text;
//! - `tool_0` … `tool_{N-1}`: inert tools that only make the list long;
//!
//! and pages `tools/list` by [`PAGE_SIZE`] (cursor = offset), waiting `--list-delay-ms` per page
//! request and `--call-delay-ms` per call. It binds 127.0.0.1 only, prints `LISTENING port=P` on
//! stdout once bound, and exits when its stdin closes, so it never outlives the bench.
//!
//! [`FixtureProcess`] is the parent's side: spawn, wait for the port, kill on drop.

use std::borrow::Cow;
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::serve::ListenerExt;
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock, InitializeResult,
    JsonObject, ListToolsResult, PaginatedRequestParams, ServerCapabilities, Tool,
};
use rmcp::service::RequestContext;
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::{StreamableHttpServerConfig, StreamableHttpService};
use rmcp::{ErrorData, RoleServer, ServerHandler};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use tokio_util::sync::CancellationToken;

use crate::BenchError;

/// Tools per `tools/list` page.
pub const PAGE_SIZE: usize = 100;

/// How the fixture behaves; also its command line.
#[derive(Debug, Clone, Default)]
pub struct FixtureOpts {
    /// 0: any free port.
    pub port: u16,
    /// Extra inert tools besides `echo` and `big`.
    pub tools: usize,
    pub list_delay: Duration,
    pub call_delay: Duration,
    /// Size of `big`'s result.
    pub result_bytes: usize,
}

impl FixtureOpts {
    pub fn args(&self) -> Vec<String> {
        vec![
            "--fixture-server".into(),
            "--port".into(),
            self.port.to_string(),
            "--tools".into(),
            self.tools.to_string(),
            "--list-delay-ms".into(),
            self.list_delay.as_millis().to_string(),
            "--call-delay-ms".into(),
            self.call_delay.as_millis().to_string(),
            "--result-bytes".into(),
            self.result_bytes.to_string(),
        ]
    }

    /// Parses what [`FixtureOpts::args`] wrote (after `--fixture-server`).
    pub fn parse(args: &[String]) -> Result<Self, BenchError> {
        let mut opts = FixtureOpts::default();
        let mut it = args.iter();
        while let Some(flag) = it.next() {
            let value = it
                .next()
                .ok_or_else(|| BenchError::Usage(format!("{flag} needs a value")))?;
            let number = || {
                value
                    .parse::<u64>()
                    .map_err(|_| BenchError::Usage(format!("{flag}: `{value}` is not a number")))
            };
            match flag.as_str() {
                "--port" => {
                    opts.port = u16::try_from(number()?)
                        .map_err(|_| BenchError::Usage(format!("bad port {value}")))?
                }
                "--tools" => opts.tools = number()? as usize,
                "--list-delay-ms" => opts.list_delay = Duration::from_millis(number()?),
                "--call-delay-ms" => opts.call_delay = Duration::from_millis(number()?),
                "--result-bytes" => opts.result_bytes = number()? as usize,
                other => return Err(BenchError::Usage(format!("unknown fixture flag {other}"))),
            }
        }
        Ok(opts)
    }
}

/// The tools every fixture offers, in list order.
fn tool_list(opts: &FixtureOpts) -> Vec<Tool> {
    let schema = |props: serde_json::Value| -> Arc<JsonObject> {
        let mut o = JsonObject::new();
        o.insert("type".into(), "object".into());
        o.insert("properties".into(), props);
        Arc::new(o)
    };
    let mut tools = vec![
        Tool::new(
            "echo",
            "Returns its `text` argument",
            schema(serde_json::json!({"text": {"type": "string"}})),
        ),
        Tool::new(
            "big",
            "Returns a large text result",
            schema(serde_json::json!({})),
        ),
    ];
    let empty = schema(serde_json::json!({}));
    tools.extend((0..opts.tools).map(|i| {
        Tool::new(
            format!("tool_{i}"),
            format!("Inert tool number {i}, here to make the list long"),
            empty.clone(),
        )
    }));
    tools
}

#[derive(Clone)]
struct FixtureServer {
    tools: Arc<Vec<Tool>>,
    big: Arc<str>,
    opts: Arc<FixtureOpts>,
}

impl ServerHandler for FixtureServer {
    fn get_info(&self) -> InitializeResult {
        InitializeResult::new(ServerCapabilities::builder().enable_tools().build())
    }

    async fn list_tools(
        &self,
        request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        if !self.opts.list_delay.is_zero() {
            tokio::time::sleep(self.opts.list_delay).await;
        }
        let start = match request.and_then(|r| r.cursor) {
            None => 0,
            Some(c) => c
                .parse::<usize>()
                .map_err(|_| ErrorData::invalid_params(format!("bad cursor {c}"), None))?,
        };
        let end = (start + PAGE_SIZE).min(self.tools.len());
        let page = self.tools.get(start..end).unwrap_or_default().to_vec();
        let mut result = ListToolsResult::with_all_items(page);
        if end < self.tools.len() {
            result.next_cursor = Some(end.to_string());
        }
        Ok(result)
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        if !self.opts.call_delay.is_zero() {
            tokio::time::sleep(self.opts.call_delay).await;
        }
        let text: Cow<'_, str> = match request.name.as_ref() {
            "echo" => {
                let text = request
                    .arguments
                    .as_ref()
                    .and_then(|a| a.get("text"))
                    .and_then(|t| t.as_str())
                    .ok_or_else(|| ErrorData::invalid_params("echo needs `text`", None))?;
                Cow::Owned(text.to_string())
            }
            "big" => Cow::Owned(self.big.to_string()),
            name if name.starts_with("tool_") => Cow::Borrowed("ok"),
            name => {
                return Err(ErrorData::invalid_params(format!("no tool {name}"), None));
            }
        };
        Ok(CallToolResult::success(vec![ContentBlock::text(text.into_owned())]).into())
    }
}

/// The text `big` returns: `size` bytes, recognisable at both ends.
pub fn big_text(size: usize) -> String {
    const PATTERN: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyz";
    (0..size)
        .map(|i| char::from(PATTERN[i % PATTERN.len()]))
        .collect()
}

/// Runs the fixture server until stdin closes (the bench's end, or its death).
pub async fn serve(opts: FixtureOpts) -> Result<(), BenchError> {
    let server = FixtureServer {
        tools: Arc::new(tool_list(&opts)),
        big: Arc::from(big_text(opts.result_bytes)),
        opts: Arc::new(opts.clone()),
    };
    let shutdown = CancellationToken::new();
    let config = StreamableHttpServerConfig::default()
        .with_sse_keep_alive(None)
        .with_cancellation_token(shutdown.child_token());
    let service: StreamableHttpService<FixtureServer, LocalSessionManager> =
        StreamableHttpService::new(move || Ok(server.clone()), Default::default(), config);
    let app = axum::Router::new().nest_service("/mcp", service);
    let listener = crate::child::listen(opts.port, "fixture").await?;
    // Without TCP_NODELAY each streamed response waits for the client's delayed ACK (~40 ms on
    // Linux) between the headers and the body: a fast upstream must not have that.
    let listener = listener.tap_io(|tcp| {
        let _ = tcp.set_nodelay(true);
    });
    let stop = shutdown.clone();
    tokio::spawn(async move {
        crate::child::stdin_closed().await;
        stop.cancel();
    });
    axum::serve(listener, app)
        .with_graceful_shutdown(async move { shutdown.cancelled_owned().await })
        .await
        .map_err(|e| BenchError::Io("fixture serve".into(), e))
}

/// A running fixture process; killed when dropped.
pub struct FixtureProcess {
    child: Child,
    pub pid: u32,
    pub port: u16,
    /// From spawn to the `LISTENING` line.
    pub started_in: Duration,
}

impl FixtureProcess {
    pub async fn spawn(opts: &FixtureOpts) -> Result<Self, BenchError> {
        Self::spawn_args(opts.args()).await
    }

    /// This executable again with `args` (a fixture server or the bare proxy), once it listens.
    pub async fn spawn_args(args: Vec<String>) -> Result<Self, BenchError> {
        let exe = std::env::current_exe().map_err(|e| BenchError::Io("current_exe".into(), e))?;
        let started = Instant::now();
        let mut child = Command::new(exe)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| BenchError::Io("spawn fixture".into(), e))?;
        let pid = child.id().unwrap_or(0);
        let stdout = child
            .stdout
            .take()
            .ok_or_else(|| BenchError::Process("fixture stdout not piped".into()))?;
        let mut lines = BufReader::new(stdout).lines();
        let port = tokio::time::timeout(Duration::from_secs(10), async {
            while let Ok(Some(line)) = lines.next_line().await {
                if let Some(p) = line.strip_prefix("LISTENING port=") {
                    return p.trim().parse::<u16>().ok();
                }
            }
            None
        })
        .await
        .ok()
        .flatten()
        .ok_or_else(|| BenchError::Process("the fixture did not start listening".into()))?;
        let started_in = started.elapsed();
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Ok(Self {
            child,
            pid,
            port,
            started_in,
        })
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}/mcp", self.port)
    }

    pub async fn stop(mut self) {
        let _ = self.child.kill().await;
    }
}
