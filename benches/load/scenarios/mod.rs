//! The scenarios, each measuring direct-to-upstream and through-mcp2 in the same run.
//!
//! A scenario starts its own fixture upstream(s) and its own mcp2, runs the same client work
//! against both, and returns one [`Table`]. Timed loads alternate between the two sides in
//! `rounds` slices (direct, mcp2, direct, mcp2, …) after one warm-up each, so a machine that gets
//! busier halfway through burdens both columns alike.

mod calls;
mod floor;
mod footprint;
mod lists;
mod scale;

use std::path::PathBuf;
use std::time::Duration;

use rmcp::service::{Peer, RoleClient};

use crate::BenchError;
use crate::client::{self, LoadResult, Work};
use crate::report::{Row, Table, Target, quantile_us};

/// Every scenario, in the order a full run takes them.
pub const ALL: &[&str] = &[
    "echo",
    "big",
    "list-1000",
    "hub-list",
    "sessions",
    "startup",
];

/// Scenarios run only when named: they need system tools (`scale`: haproxy, redis-server).
pub const BY_NAME: &[&str] = &["scale", "floor"];

/// What the issue asks for; `--quick` shrinks it (the smoke run under `cargo test`).
#[derive(Debug, Clone)]
pub struct Settings {
    pub mcp2: PathBuf,
    /// Measured time per side and load (split over `rounds`).
    pub duration: Duration,
    pub warmup: Duration,
    pub rounds: u32,
    /// Concurrent sessions for the echo scenario.
    pub sessions: Vec<usize>,
    /// Restarts for cold-start and start-up figures.
    pub samples: usize,
    /// Sessions opened at once in the `sessions` scenario.
    pub many_sessions: usize,
    pub hub_upstreams: usize,
    pub hub_delay: Duration,
    pub list_tools: usize,
    pub big_bytes: usize,
}

impl Settings {
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "mcp2": self.mcp2.display().to_string(),
            "duration_s": self.duration.as_secs_f64(),
            "warmup_s": self.warmup.as_secs_f64(),
            "rounds": self.rounds,
            "sessions": self.sessions,
            "samples": self.samples,
            "many_sessions": self.many_sessions,
            "hub_upstreams": self.hub_upstreams,
            "hub_delay_ms": self.hub_delay.as_millis() as u64,
            "list_tools": self.list_tools,
            "big_bytes": self.big_bytes,
        })
    }
}

pub async fn run(name: &str, s: &Settings) -> Result<Vec<Table>, BenchError> {
    match name {
        "echo" => calls::echo(s).await,
        "big" => calls::big(s).await.map(|t| vec![t]),
        "list-1000" => lists::many_tools(s).await.map(|t| vec![t]),
        "hub-list" => lists::hub(s).await.map(|t| vec![t]),
        "sessions" => footprint::sessions(s).await.map(|t| vec![t]),
        "startup" => footprint::startup(s).await.map(|t| vec![t]),
        // Not in ALL: it needs haproxy and redis-server (scripts/install-test-deps).
        "scale" => scale::replicas(s).await.map(|t| vec![t]),
        "floor" => floor::proxies(s).await,
        other => Err(BenchError::Usage(format!(
            "unknown scenario `{other}` (known: {})",
            ALL.join(", ")
        ))),
    }
}

/// The processes whose CPU a load is charged to: (name, pid).
pub type Procs = Vec<(String, u32)>;

pub fn procs(upstream: u32, mcp2: u32) -> Procs {
    vec![
        ("upstream".into(), upstream),
        ("mcp2".into(), mcp2),
        ("load generator".into(), std::process::id()),
    ]
}

/// The same work, direct and through mcp2, alternating; each side warmed up first.
pub async fn compare_load(
    s: &Settings,
    direct: &[Peer<RoleClient>],
    via_mcp2: &[Peer<RoleClient>],
    work: &Work,
    procs: &Procs,
) -> (LoadResult, LoadResult) {
    let rounds = s.rounds.max(1);
    let slice = s.duration / rounds;
    client::run_load(direct, work, Duration::ZERO, s.warmup, procs).await;
    client::run_load(via_mcp2, work, Duration::ZERO, s.warmup, procs).await;
    let mut d = client::run_load(direct, work, Duration::ZERO, slice, procs).await;
    let mut m = client::run_load(via_mcp2, work, Duration::ZERO, slice, procs).await;
    for _ in 1..rounds {
        d.merge(client::run_load(direct, work, Duration::ZERO, slice, procs).await);
        m.merge(client::run_load(via_mcp2, work, Duration::ZERO, slice, procs).await);
    }
    (d, m)
}

/// Latency, throughput and CPU rows for a pair of loads; `unit` is what one request is.
pub fn load_rows(table: &mut Table, d: &LoadResult, m: &LoadResult, unit: &str) {
    let q = |r: &LoadResult, p| quantile_us(&r.hist, p);
    table.row(Row::new("p50 latency (µs)", q(d, 0.5), q(m, 0.5)));
    table.row(Row::new("p99 latency (µs)", q(d, 0.99), q(m, 0.99)));
    table.row(Row::new(
        format!("{unit}/s"),
        Some(d.per_second()),
        Some(m.per_second()),
    ));
    for ((name, dc), (_, mc)) in d.cpu_us.iter().zip(&m.cpu_us) {
        // mcp2 idles during the direct load: its column there is not a cost of the request.
        let dc = if name == "mcp2" { None } else { *dc };
        table.row(Row::new(format!("CPU µs per {unit}: {name}"), dc, *mc));
    }
    table.row(Row::new(
        format!("{unit} answered correctly"),
        Some(d.ok as f64),
        Some(m.ok as f64),
    ));
    table.errors += d.errors + m.errors;
    for (side, r) in [("direct", d), ("mcp2", m)] {
        if let Some(e) = &r.first_error {
            table.note(format!("{side}: {} failed; first: {e}", r.errors));
        }
    }
}

/// Puts `target` on the first row whose metric starts with `prefix`.
pub fn set_target(table: &mut Table, prefix: &str, target: Target) {
    if let Some(i) = table.rows.iter().position(|r| r.metric.starts_with(prefix)) {
        let row = table.rows[i].clone().target(target);
        table.rows[i] = row;
    }
}
