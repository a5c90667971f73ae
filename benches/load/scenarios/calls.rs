//! `tools/call` round trips: `echo` at several session counts, and a large result.

use std::sync::Arc;

use super::{Settings, compare_load, load_rows, procs, set_target};
use crate::BenchError;
use crate::client::{self, Session, Work};
use crate::fixture::{FixtureOpts, FixtureProcess, big_text};
use crate::gateway::GatewayProcess;
use crate::report::{Row, Table, Target};

/// mcp2's CPU budget per proxied call (design notes: "≤ 80 µs per call").
const CPU_PER_CALL_US: f64 = 80.0;

/// One upstream and one mcp2 in front of it.
async fn pair(
    opts: &FixtureOpts,
    s: &Settings,
) -> Result<(FixtureProcess, GatewayProcess), BenchError> {
    let fixture = FixtureProcess::spawn(opts).await?;
    let gateway = GatewayProcess::spawn(&s.mcp2, &[("up".into(), fixture.url())]).await?;
    gateway.wait_ready().await?;
    Ok((fixture, gateway))
}

pub async fn echo(s: &Settings) -> Result<Vec<Table>, BenchError> {
    let (fixture, gateway) = pair(&FixtureOpts::default(), s).await?;
    let procs = procs(fixture.pid, gateway.pid);
    let mut tables = Vec::new();
    for &n in &s.sessions {
        let parallel = 16;
        let (direct, _) = client::connect_many(&fixture.url(), n, parallel).await?;
        let (via, _) = client::connect_many(&gateway.url(), n, parallel).await?;
        let dp: Vec<_> = direct.iter().map(Session::peer).collect();
        let mp: Vec<_> = via.iter().map(Session::peer).collect();
        let (d, m) = compare_load(s, &dp, &mp, &Work::Echo, &procs).await;
        client::close_all(direct).await;
        client::close_all(via).await;

        let mut t = Table::new(
            "echo",
            format!(
                "tools/call echo, {n} session{} ({:.1} s per side in {} rounds)",
                if n == 1 { "" } else { "s" },
                s.duration.as_secs_f64(),
                s.rounds
            ),
        );
        load_rows(&mut t, &d, &m, "call");
        if n == 1 {
            set_target(&mut t, "p50", Target::RatioAtMost(1.3));
            set_target(&mut t, "p99", Target::RatioAtMost(1.5));
        }
        if n >= 64 {
            set_target(&mut t, "call/s", Target::RatioAtLeast(0.6));
        }
        set_target(
            &mut t,
            "CPU µs per call: mcp2",
            Target::AtMost(CPU_PER_CALL_US),
        );
        tables.push(t);
    }
    gateway.stop().await;
    fixture.stop().await;
    Ok(tables)
}

pub async fn big(s: &Settings) -> Result<Table, BenchError> {
    let opts = FixtureOpts {
        result_bytes: s.big_bytes,
        ..FixtureOpts::default()
    };
    let (fixture, gateway) = pair(&opts, s).await?;
    let procs = procs(fixture.pid, gateway.pid);
    let direct = Session::connect(&fixture.url()).await?;
    let via = Session::connect(&gateway.url()).await?;
    let work = Work::Big {
        expect: Arc::from(big_text(s.big_bytes)),
    };
    let (d, m) = compare_load(s, &[direct.peer()], &[via.peer()], &work, &procs).await;
    direct.close().await;
    via.close().await;
    gateway.stop().await;
    fixture.stop().await;

    let mib = s.big_bytes as f64 / (1024.0 * 1024.0);
    let mut t = Table::new(
        "big",
        format!(
            "tools/call with a {mib:.2} MiB result, 1 session ({:.1} s per side)",
            s.duration.as_secs_f64()
        ),
    );
    load_rows(&mut t, &d, &m, "call");
    t.row(Row::new(
        "result MiB/s",
        Some(d.per_second() * mib),
        Some(m.per_second() * mib),
    ));
    Ok(t)
}
