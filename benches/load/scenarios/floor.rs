//! `floor` (run by name only: it needs Debian's `haproxy`): what any HTTP proxy adds on this
//! machine. `tools/call echo` at 1 session straight to the upstream fixture, and through a proxy
//! in front of it that does no MCP work: one more process and two more loopback hops. Two
//! proxies: HAProxy (HTTP mode, keep-alive on both sides) and a bare proxy on mcp2's own stack
//! (`bare_proxy.rs`: tokio, hyper server, hyper_util's pooled client). In these tables the
//! "mcp2" column is that proxy; their ratios are the floor under the 1-session ratios of `echo`.

use super::{Settings, compare_load, load_rows, procs, scale};
use crate::BenchError;
use crate::client::{Session, Work};
use crate::fixture::{FixtureOpts, FixtureProcess};
use crate::report::Table;

pub async fn proxies(s: &Settings) -> Result<Vec<Table>, BenchError> {
    let fixture = FixtureProcess::spawn(&FixtureOpts::default()).await?;
    let dir = std::env::temp_dir().join(format!("mcp2-bench-floor-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| BenchError::Io("temp dir".into(), e))?;
    let backend = format!("127.0.0.1:{}", fixture.port);
    let (mut lb, port) = scale::haproxy(&[backend], &dir).await?;
    let haproxy = one_session(
        s,
        &fixture,
        lb.id().unwrap_or_default(),
        &format!("http://127.0.0.1:{port}/mcp"),
        "HAProxy",
    )
    .await;
    let _ = lb.kill().await;
    let _ = std::fs::remove_dir_all(&dir);
    let bare =
        FixtureProcess::spawn_args(vec!["--bare-proxy".into(), fixture.port.to_string()]).await?;
    let hyper = one_session(s, &fixture, bare.pid, &bare.url(), "a bare hyper proxy").await;
    bare.stop().await;
    fixture.stop().await;
    Ok(vec![haproxy?, hyper?])
}

async fn one_session(
    s: &Settings,
    fixture: &FixtureProcess,
    proxy_pid: u32,
    proxy_url: &str,
    proxy: &str,
) -> Result<Table, BenchError> {
    let procs = procs(fixture.pid, proxy_pid);
    let direct = Session::connect(&fixture.url()).await?;
    let via = Session::connect(proxy_url).await?;
    let (d, m) = compare_load(s, &[direct.peer()], &[via.peer()], &Work::Echo, &procs).await;
    direct.close().await;
    via.close().await;
    let mut t = Table::new(
        "floor",
        format!(
            "tools/call echo, 1 session; the \"mcp2\" column is {proxy} in front of the upstream \
             ({:.1} s per side)",
            s.duration.as_secs_f64()
        ),
    );
    load_rows(&mut t, &d, &m, "call");
    Ok(t)
}
