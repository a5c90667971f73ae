//! Memory and start-up: many idle sessions, idle RSS, and time from process start to serving.
//!
//! The direct column is the fixture itself (an rmcp server), the cost of the same thing without
//! a gateway.

use std::time::{Duration, Instant};

use futures::future::join_all;
use hdrhistogram::Histogram;

use super::Settings;
use crate::BenchError;
use crate::client::{self, Session, Work, new_histogram, record};
use crate::fixture::{FixtureOpts, FixtureProcess};
use crate::gateway::GatewayProcess;
use crate::procinfo::rss_bytes;
use crate::report::{Row, Table, Target, quantile_ms};

/// Lets allocators and background tasks settle before RSS is read.
const SETTLE: Duration = Duration::from_millis(300);

const KIB: f64 = 1024.0;
const MIB: f64 = 1024.0 * 1024.0;

/// What opening `n` sessions on one server cost it.
struct SessionCost {
    connect: Histogram<u64>,
    connect_all: Duration,
    rss_before: u64,
    rss_idle: u64,
    rss_used: u64,
    errors: u64,
    first_error: Option<String>,
}

async fn open_sessions(url: &str, pid: u32, n: usize) -> Result<SessionCost, BenchError> {
    let rss = || rss_bytes(pid).unwrap_or(0);
    tokio::time::sleep(SETTLE).await;
    let rss_before = rss();
    let t = Instant::now();
    let (sessions, connect) = client::connect_many(url, n, 32).await?;
    let connect_all = t.elapsed();
    tokio::time::sleep(SETTLE).await;
    let rss_idle = rss();
    // Every session must work: one echo each (which also makes each one do real work once).
    let peers: Vec<_> = sessions.iter().map(Session::peer).collect();
    let mut errors = 0;
    let mut first_error = None;
    for chunk in peers.chunks(64) {
        let answers = join_all(chunk.iter().enumerate().map(|(i, p)| echo_once(p, i))).await;
        for a in answers {
            if let Err(e) = a {
                errors += 1;
                first_error.get_or_insert(e);
            }
        }
    }
    tokio::time::sleep(SETTLE).await;
    let rss_used = rss();
    client::close_all(sessions).await;
    Ok(SessionCost {
        connect,
        connect_all,
        rss_before,
        rss_idle,
        rss_used,
        errors,
        first_error,
    })
}

async fn echo_once(
    peer: &rmcp::service::Peer<rmcp::service::RoleClient>,
    i: usize,
) -> Result<(), String> {
    Work::Echo.once(peer, i, 0).await
}

pub async fn sessions(s: &Settings) -> Result<Table, BenchError> {
    let n = s.many_sessions.max(1);
    let fixture = FixtureProcess::spawn(&FixtureOpts::default()).await?;
    let gateway = GatewayProcess::spawn(&s.mcp2, &[("up".into(), fixture.url())]).await?;
    gateway.wait_ready().await?;
    let d = open_sessions(&fixture.url(), fixture.pid, n).await?;
    let upstream_before = rss_bytes(fixture.pid);
    let m = open_sessions(&gateway.url(), gateway.pid, n).await?;
    let upstream_after = rss_bytes(fixture.pid);
    gateway.stop().await;
    fixture.stop().await;

    let per =
        |c: &SessionCost, after: u64| after.saturating_sub(c.rss_before) as f64 / n as f64 / KIB;
    let mut t = Table::new(
        "sessions",
        format!("{n} concurrent sessions (32 handshakes at a time)"),
    );
    t.row(Row::new(
        "handshake p50 (ms)",
        quantile_ms(&d.connect, 0.5),
        quantile_ms(&m.connect, 0.5),
    ));
    t.row(Row::new(
        "handshake p99 (ms)",
        quantile_ms(&d.connect, 0.99),
        quantile_ms(&m.connect, 0.99),
    ));
    let rate = |c: &SessionCost| n as f64 / c.connect_all.as_secs_f64().max(1e-9);
    t.row(Row::new(
        "sessions opened/s",
        Some(rate(&d)),
        Some(rate(&m)),
    ));
    t.row(
        Row::new(
            "RSS per idle session (KiB)",
            Some(per(&d, d.rss_idle)),
            Some(per(&m, m.rss_idle)),
        )
        .target(Target::AtMost(50.0)),
    );
    t.row(Row::new(
        "RSS per session after one call (KiB)",
        Some(per(&d, d.rss_used)),
        Some(per(&m, m.rss_used)),
    ));
    t.row(Row::new(
        format!("server RSS with {n} sessions (MiB)"),
        Some(d.rss_used as f64 / MIB),
        Some(m.rss_used as f64 / MIB),
    ));
    t.errors = d.errors + m.errors;
    for (side, c) in [("direct", &d), ("mcp2", &m)] {
        if let Some(e) = &c.first_error {
            t.note(format!(
                "{side}: {} sessions failed their call; first: {e}",
                c.errors
            ));
        }
    }
    if let (Some(b), Some(a)) = (upstream_before, upstream_after) {
        t.note(format!(
            "the upstream's RSS changed by {:.0} KiB while mcp2 held {n} sessions (they share its \
             upstream session)",
            (a as f64 - b as f64) / KIB
        ));
    }
    Ok(t)
}

/// One start of a server: spawn → listening → ready → first `tools/list` answered.
struct Start {
    listening: Duration,
    ready: Duration,
    first_list: Duration,
}

async fn start_gateway(
    s: &Settings,
    upstream: &str,
) -> Result<(Start, GatewayProcess), BenchError> {
    let gateway = GatewayProcess::spawn(&s.mcp2, &[("up".into(), upstream.to_string())]).await?;
    let ready = gateway.wait_ready().await?;
    let session = Session::connect(&gateway.url()).await?;
    session
        .peer()
        .list_all_tools()
        .await
        .map_err(|e| BenchError::Client(format!("first tools/list: {e}")))?;
    let first_list = gateway.since_spawn();
    session.close().await;
    let start = Start {
        listening: gateway.listening_in,
        ready,
        first_list,
    };
    Ok((start, gateway))
}

async fn start_fixture() -> Result<(Start, FixtureProcess), BenchError> {
    let spawned = Instant::now();
    let fixture = FixtureProcess::spawn(&FixtureOpts::default()).await?;
    let session = Session::connect(&fixture.url()).await?;
    session
        .peer()
        .list_all_tools()
        .await
        .map_err(|e| BenchError::Client(format!("first tools/list: {e}")))?;
    let first_list = spawned.elapsed();
    session.close().await;
    let start = Start {
        listening: fixture.started_in,
        ready: fixture.started_in,
        first_list,
    };
    Ok((start, fixture))
}

pub async fn startup(s: &Settings) -> Result<Table, BenchError> {
    let samples = s.samples.max(1);
    let upstream = FixtureProcess::spawn(&FixtureOpts::default()).await?;
    let (mut d, mut m) = (Vec::new(), Vec::new());
    for _ in 0..samples {
        let (start, fixture) = start_fixture().await?;
        d.push(start);
        fixture.stop().await;
        let (start, gateway) = start_gateway(s, &upstream.url()).await?;
        m.push(start);
        gateway.stop().await;
    }
    // Idle: started, every upstream connected, no client yet.
    let idle_fixture = FixtureProcess::spawn(&FixtureOpts::default()).await?;
    let gateway = GatewayProcess::spawn(&s.mcp2, &[("up".into(), upstream.url())]).await?;
    gateway.wait_ready().await?;
    tokio::time::sleep(SETTLE).await;
    let idle = (rss_bytes(idle_fixture.pid), rss_bytes(gateway.pid));
    idle_fixture.stop().await;
    gateway.stop().await;
    upstream.stop().await;

    let median = |v: &[Start], f: fn(&Start) -> Duration| {
        let mut h = new_histogram();
        v.iter().for_each(|x| record(&mut h, f(x)));
        quantile_ms(&h, 0.5)
    };
    let mut t = Table::new(
        "startup",
        format!("start-up and idle memory (median of {samples} starts)"),
    );
    t.row(Row::new(
        "start → listening (ms)",
        median(&d, |x| x.listening),
        median(&m, |x| x.listening),
    ));
    t.row(Row::new(
        "start → ready, upstream connected (ms)",
        median(&d, |x| x.ready),
        median(&m, |x| x.ready),
    ));
    t.row(Row::new(
        "start → first tools/list answered (ms)",
        median(&d, |x| x.first_list),
        median(&m, |x| x.first_list),
    ));
    t.row(
        Row::new(
            "idle RSS (MiB)",
            idle.0.map(|b| b as f64 / MIB),
            idle.1.map(|b| b as f64 / MIB),
        )
        .target(Target::AtMost(30.0)),
    );
    t.note("direct = the fixture upstream itself (it has no upstream, so ready = listening)");
    Ok(t)
}
