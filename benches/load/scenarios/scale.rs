//! `scale` (run by name only: it needs Debian's `haproxy` and `redis-server`): `tools/call echo`
//! at 64 sessions through HAProxy (round-robin, no stickiness) in front of 1, 2 and 3 mcp2
//! replicas sharing a session key and a Redis, beside one mcp2 reached directly.
//!
//! The "direct" column is the single process without a load balancer; the "mcp2" column is
//! the load-balanced cluster. On a machine with fewer cores than processes the replicas compete
//! for the same CPU, so the figure to read is the per-replica one and the HAProxy cost.

use std::process::Stdio;
use std::time::Duration;

use tokio::process::{Child, Command};

use super::{Settings, procs};
use crate::BenchError;
use crate::client::{self, Session, Work};
use crate::fixture::{FixtureOpts, FixtureProcess};
use crate::gateway::GatewayProcess;
use crate::report::{Row, Table};

const SESSIONS: usize = 64;
const KEY: &str = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";

fn free_port() -> Result<u16, BenchError> {
    let l = std::net::TcpListener::bind("127.0.0.1:0")
        .map_err(|e| BenchError::Io("bind a free port".into(), e))?;
    l.local_addr()
        .map(|a| a.port())
        .map_err(|e| BenchError::Io("local addr".into(), e))
}

async fn wait_port(port: u16, what: &str) -> Result<(), BenchError> {
    for _ in 0..200 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Err(BenchError::Process(format!("{what} did not listen")))
}

fn spawn(program: &str, args: &[String]) -> Result<Child, BenchError> {
    Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| BenchError::Io(format!("start {program} (scripts/install-test-deps)"), e))
}

/// HAProxy round-robin over `backends` (`host:port`), on a free port.
pub(super) async fn haproxy(
    backends: &[String],
    dir: &std::path::Path,
) -> Result<(Child, u16), BenchError> {
    let port = free_port()?;
    let servers: String = backends
        .iter()
        .enumerate()
        .map(|(i, b)| format!("    server r{i} {b}\n"))
        .collect();
    let cfg = dir.join(format!("haproxy-{}.cfg", backends.len()));
    let text = format!(
        "global\n    maxconn 4096\ndefaults\n    mode http\n    timeout connect 2s\n    timeout client 60s\n    timeout server 60s\n\
         frontend mcp\n    bind 127.0.0.1:{port}\n    default_backend replicas\n\
         backend replicas\n    balance roundrobin\n{servers}"
    );
    std::fs::write(&cfg, text).map_err(|e| BenchError::Io("write haproxy.cfg".into(), e))?;
    let child = spawn(
        "haproxy",
        &["-db".into(), "-f".into(), cfg.display().to_string()],
    )?;
    wait_port(port, "haproxy").await?;
    Ok((child, port))
}

async fn calls_per_second(
    url: &str,
    s: &Settings,
    procs: &super::Procs,
) -> Result<(f64, String), BenchError> {
    let (sessions, _) = client::connect_many(url, SESSIONS, 16).await?;
    let peers: Vec<_> = sessions.iter().map(Session::peer).collect();
    client::run_load(&peers, &Work::Echo, Duration::ZERO, s.warmup, procs).await;
    let r = client::run_load(&peers, &Work::Echo, Duration::ZERO, s.duration, procs).await;
    client::close_all(sessions).await;
    let note = match &r.first_error {
        Some(e) => format!("{url}: {} failed; first: {e}", r.errors),
        None => String::new(),
    };
    Ok((r.per_second(), note))
}

pub async fn replicas(s: &Settings) -> Result<Table, BenchError> {
    let fixture = FixtureProcess::spawn(&FixtureOpts::default()).await?;
    let redis_port = free_port()?;
    let _redis = spawn(
        "redis-server",
        &[
            "--port",
            &redis_port.to_string(),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
        ]
        .map(String::from),
    )?;
    wait_port(redis_port, "redis-server").await?;
    let extra = [
        "--session-key".to_string(),
        KEY.to_string(),
        "--redis".to_string(),
        format!("redis://127.0.0.1:{redis_port}"),
    ];
    let upstreams = [("up".to_string(), fixture.url())];
    let mut gateways = Vec::new();
    for _ in 0..3 {
        let g = GatewayProcess::spawn_with(&s.mcp2, &upstreams, &extra).await?;
        g.wait_ready().await?;
        gateways.push(g);
    }
    let dir = std::env::temp_dir().join(format!("mcp2-bench-scale-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| BenchError::Io("temp dir".into(), e))?;
    let procs = procs(fixture.pid, gateways[0].pid);
    let (single, note) = calls_per_second(&gateways[0].url(), s, &procs).await?;
    let mut t = Table::new(
        "scale",
        format!(
            "tools/call echo, {SESSIONS} sessions, through HAProxy to N replicas ({:.1} s each)",
            s.duration.as_secs_f64()
        ),
    );
    if !note.is_empty() {
        t.note(note);
    }
    for n in 1..=3 {
        let backends: Vec<String> = gateways[..n]
            .iter()
            .map(|g| g.base.trim_start_matches("http://").to_string())
            .collect();
        let (mut lb, port) = haproxy(&backends, &dir).await?;
        let url = format!("http://127.0.0.1:{port}/mcp");
        let (via, note) = calls_per_second(&url, s, &procs).await?;
        let _ = lb.kill().await;
        if !note.is_empty() {
            t.note(note);
        }
        t.row(Row::new(
            format!("call/s, {n} replica(s)"),
            Some(single),
            Some(via),
        ));
        t.row(Row::new(
            format!("call/s per replica, {n} replica(s)"),
            Some(single),
            Some(via / n as f64),
        ));
    }
    let _ = std::fs::remove_dir_all(&dir);
    for g in gateways {
        g.stop().await;
    }
    fixture.stop().await;
    Ok(t)
}
