//! The MCP load generator: rmcp client sessions over Streamable HTTP, and the timed load loop.
//!
//! Each [`Session`] has its own keep-alive `reqwest::Client` (`TCP_NODELAY`), as separate MCP
//! clients would, and rmcp's client-side list cache is off so every `tools/list` reaches the
//! server under test. [`run_load`] drives N sessions for a fixed time, one request at a time per
//! session, records each latency in an HDR histogram, checks every answer ([`Work`]) and counts
//! the wrong ones instead of timing them as successes.

use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use futures::StreamExt;
use hdrhistogram::Histogram;
use rmcp::model::{CallToolRequestParams, ClientConfig, JsonObject, ProtocolVersion};
use rmcp::service::{Peer, RoleClient, RunningService};
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use rmcp::{ClientCacheConfig, ServiceExt};

use crate::BenchError;
use crate::procinfo::CpuSnapshot;

/// One MCP client session.
pub struct Session {
    running: RunningService<RoleClient, ClientConfig>,
}

/// The protocol revision every bench session asks for in `initialize` (see [`set_protocol`]).
static PROTOCOL: OnceLock<ProtocolVersion> = OnceLock::new();

/// Sets the revision the load generator's sessions ask for; the default is 2025-11-25, what
/// shipped MCP clients (Claude Desktop, IDEs, the Python and TypeScript SDKs) negotiate today.
/// rmcp's own default is 2026-07-28. Set once, before the first session.
pub fn set_protocol(version: ProtocolVersion) {
    let _ = PROTOCOL.set(version);
}

fn protocol() -> ProtocolVersion {
    PROTOCOL
        .get()
        .cloned()
        .unwrap_or(ProtocolVersion::V_2025_11_25)
}

impl Session {
    pub async fn connect(url: &str) -> Result<Self, BenchError> {
        let http = reqwest::Client::builder()
            .tcp_nodelay(true)
            .pool_max_idle_per_host(8)
            .build()
            .map_err(|e| BenchError::Client(format!("HTTP client: {e}")))?;
        let transport = StreamableHttpClientTransport::with_client(
            http,
            StreamableHttpClientTransportConfig::with_uri(url),
        );
        let running = ClientConfig::default()
            .with_protocol_version(protocol())
            .serve(transport)
            .await
            .map_err(|e| BenchError::Client(format!("initialize {url}: {e}")))?;
        running
            .peer()
            .set_response_cache_config(ClientCacheConfig::disabled())
            .await;
        Ok(Self { running })
    }

    pub async fn connect_owned(url: String) -> Result<Self, BenchError> {
        Self::connect(&url).await
    }

    pub fn peer(&self) -> Peer<RoleClient> {
        self.running.peer().clone()
    }

    pub async fn close(self) {
        let _ = tokio::time::timeout(Duration::from_secs(2), self.running.cancel()).await;
    }
}

/// Opens `n` sessions, at most `parallel` handshakes at a time; each handshake's time in µs.
pub async fn connect_many(
    url: &str,
    n: usize,
    parallel: usize,
) -> Result<(Vec<Session>, Histogram<u64>), BenchError> {
    let results: Vec<Result<(Session, Duration), BenchError>> = futures::stream::iter(0..n)
        .map(|_| async {
            let t = Instant::now();
            let s = Session::connect(url).await?;
            Ok((s, t.elapsed()))
        })
        .buffer_unordered(parallel.max(1))
        .collect()
        .await;
    let mut hist = new_histogram();
    let mut sessions = Vec::with_capacity(n);
    for r in results {
        let (s, took) = r?;
        record(&mut hist, took);
        sessions.push(s);
    }
    Ok((sessions, hist))
}

pub async fn close_all(sessions: Vec<Session>) {
    futures::stream::iter(sessions)
        .for_each_concurrent(64, |s| s.close())
        .await;
}

/// Latency histogram in µs, 1 µs .. 100 s, 3 significant digits.
pub fn new_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 100_000_000, 3).expect("constant histogram bounds are valid")
}

pub fn record(hist: &mut Histogram<u64>, took: Duration) {
    let us = u64::try_from(took.as_micros()).unwrap_or(u64::MAX).max(1);
    hist.saturating_record(us);
}

/// What each request of a load run is, and what a correct answer looks like.
#[derive(Clone)]
pub enum Work {
    /// `tools/call echo {text}`: the answer must be exactly `text`.
    Echo,
    /// `tools/call big`: the answer must equal the fixture's big text.
    Big { expect: Arc<str> },
    /// Every page of `tools/list`: the answer must have `expect` tools.
    ListAll { expect: usize },
}

impl Work {
    pub async fn once(
        &self,
        peer: &Peer<RoleClient>,
        session: usize,
        seq: u64,
    ) -> Result<(), String> {
        match self {
            Work::Echo => {
                let text = format!("s{session}-{seq}");
                let mut args = JsonObject::new();
                args.insert("text".into(), text.clone().into());
                let got = call_text(
                    peer,
                    CallToolRequestParams::new("echo").with_arguments(args),
                )
                .await?;
                (got == text)
                    .then_some(())
                    .ok_or_else(|| format!("echo sent {text:?}, got {got:?}"))
            }
            Work::Big { expect } => {
                let got = call_text(peer, CallToolRequestParams::new("big")).await?;
                (*got == **expect).then_some(()).ok_or_else(|| {
                    format!("big: {} bytes back, expected {}", got.len(), expect.len())
                })
            }
            Work::ListAll { expect } => {
                let tools = peer.list_all_tools().await.map_err(|e| e.to_string())?;
                (tools.len() == *expect)
                    .then_some(())
                    .ok_or_else(|| format!("tools/list: {} tools, expected {expect}", tools.len()))
            }
        }
    }
}

/// Calls a tool and returns its only text content.
async fn call_text(
    peer: &Peer<RoleClient>,
    params: CallToolRequestParams,
) -> Result<String, String> {
    let mut result = peer.call_tool(params).await.map_err(|e| e.to_string())?;
    if result.is_error == Some(true) {
        return Err(format!("tool error: {:?}", result.content));
    }
    if result.content.len() != 1 {
        return Err(format!(
            "{} content blocks, expected 1",
            result.content.len()
        ));
    }
    match result
        .content
        .pop()
        .and_then(|c| c.as_text().map(|t| t.text.clone()))
    {
        Some(text) => Ok(text),
        None => Err("the content is not text".into()),
    }
}

/// What one load run measured.
pub struct LoadResult {
    /// Latency of the correct answers, µs.
    pub hist: Histogram<u64>,
    pub ok: u64,
    pub errors: u64,
    pub first_error: Option<String>,
    /// The measured window: from the end of warm-up until the last request finished.
    pub elapsed: Duration,
    /// CPU µs per correct answer, per watched process.
    pub cpu_us: Vec<(String, Option<f64>)>,
}

impl LoadResult {
    pub fn per_second(&self) -> f64 {
        let secs = self.elapsed.as_secs_f64();
        if secs > 0.0 {
            self.ok as f64 / secs
        } else {
            0.0
        }
    }

    /// Adds another round of the same load (CPU weighted by answers).
    pub fn merge(&mut self, other: LoadResult) {
        let (a, b) = (self.ok as f64, other.ok as f64);
        for ((_, mine), (_, theirs)) in self.cpu_us.iter_mut().zip(&other.cpu_us) {
            *mine = match (*mine, theirs) {
                (Some(x), Some(y)) if a + b > 0.0 => Some((x * a + y * b) / (a + b)),
                _ => None,
            };
        }
        let _ = self.hist.add(&other.hist);
        self.ok += other.ok;
        self.errors += other.errors;
        self.first_error = self.first_error.take().or(other.first_error);
        self.elapsed += other.elapsed;
    }
}

/// Each peer sends `work` back to back for `warmup + measure`; only requests started after the
/// warm-up count. `procs` are the processes whose CPU time is charged to the counted answers.
pub async fn run_load(
    peers: &[Peer<RoleClient>],
    work: &Work,
    warmup: Duration,
    measure: Duration,
    procs: &[(String, u32)],
) -> LoadResult {
    let start = Instant::now();
    let counted_from = start + warmup;
    let until = counted_from + measure;
    let before = {
        let procs = procs.to_vec();
        tokio::spawn(async move {
            tokio::time::sleep_until(counted_from.into()).await;
            CpuSnapshot::take(&procs)
        })
    };
    let tasks: Vec<_> = peers
        .iter()
        .enumerate()
        .map(|(i, peer)| {
            let (peer, work) = (peer.clone(), work.clone());
            tokio::spawn(async move {
                let mut hist = new_histogram();
                let (mut ok, mut errors, mut first_error) = (0u64, 0u64, None);
                let mut seq = 0u64;
                loop {
                    let t = Instant::now();
                    if t >= until {
                        break;
                    }
                    seq += 1;
                    let result = work.once(&peer, i, seq).await;
                    if t < counted_from {
                        continue;
                    }
                    match result {
                        Ok(()) => {
                            ok += 1;
                            record(&mut hist, t.elapsed());
                        }
                        Err(e) => {
                            errors += 1;
                            first_error.get_or_insert(e);
                        }
                    }
                }
                (hist, ok, errors, first_error)
            })
        })
        .collect();
    let mut result = LoadResult {
        hist: new_histogram(),
        ok: 0,
        errors: 0,
        first_error: None,
        elapsed: Duration::ZERO,
        cpu_us: Vec::new(),
    };
    for task in tasks {
        match task.await {
            Ok((hist, ok, errors, first_error)) => {
                let _ = result.hist.add(&hist);
                result.ok += ok;
                result.errors += errors;
                result.first_error = result.first_error.take().or(first_error);
            }
            Err(e) => {
                result.errors += 1;
                result
                    .first_error
                    .get_or_insert(format!("load task failed: {e}"));
            }
        }
    }
    let after = CpuSnapshot::take(procs);
    result.elapsed = counted_from.elapsed();
    result.cpu_us = match before.await {
        Ok(before) => before.per_call_us(&after, result.ok),
        Err(_) => procs.iter().map(|(n, _)| (n.clone(), None)).collect(),
    };
    result
}
