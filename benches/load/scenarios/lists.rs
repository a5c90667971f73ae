//! `tools/list`: a long paginated list from one upstream, and a hub over many slow upstreams.
//!
//! "Cold" is the first list a freshly started mcp2 serves (every upstream connected, nothing
//! listed yet), measured over `samples` restarts; "cached" is every list after it.

use std::time::{Duration, Instant};

use futures::future::join_all;
use rmcp::model::PaginatedRequestParams;
use rmcp::service::{Peer, RoleClient};

use super::{Settings, compare_load, load_rows, procs};
use crate::BenchError;
use crate::client::{self, Session, Work, new_histogram, record};
use crate::fixture::{FixtureOpts, FixtureProcess};
use crate::gateway::GatewayProcess;
use crate::procinfo::rss_bytes;
use crate::report::{Row, Table, Target, quantile_ms};

/// Tools every fixture offers besides its `--tools` (`echo` and `big`).
const BUILT_IN_TOOLS: usize = 2;

fn mb(bytes: Option<u64>) -> Option<f64> {
    bytes.map(|b| b as f64 / (1024.0 * 1024.0))
}

/// Lists every page and checks the count; the number of pages.
async fn count_pages(peer: &Peer<RoleClient>, expect: usize) -> Result<usize, BenchError> {
    let (mut pages, mut tools, mut cursor) = (0usize, 0usize, None);
    loop {
        let page = peer
            .list_tools(Some(PaginatedRequestParams::default().with_cursor(cursor)))
            .await
            .map_err(|e| BenchError::Client(format!("tools/list: {e}")))?;
        pages += 1;
        tools += page.tools.len();
        cursor = page.next_cursor;
        if cursor.is_none() || pages > 10_000 {
            break;
        }
    }
    if tools != expect {
        return Err(BenchError::Client(format!(
            "tools/list: {tools} tools, expected {expect}"
        )));
    }
    Ok(pages)
}

/// Starts mcp2 on `upstreams`, waits until all are connected, opens one session and times its
/// first `tools/list`. Returns the gateway, the session and that time.
async fn cold_list(
    s: &Settings,
    upstreams: &[(String, String)],
    expect: usize,
) -> Result<(GatewayProcess, Session, Duration), BenchError> {
    let gateway = GatewayProcess::spawn(&s.mcp2, upstreams).await?;
    gateway.wait_ready().await?;
    let session = Session::connect(&gateway.url()).await?;
    let t = Instant::now();
    let tools = session
        .peer()
        .list_all_tools()
        .await
        .map_err(|e| BenchError::Client(format!("cold tools/list: {e}")))?;
    let took = t.elapsed();
    if tools.len() != expect {
        return Err(BenchError::Client(format!(
            "cold tools/list through mcp2: {} tools, expected {expect}",
            tools.len()
        )));
    }
    Ok((gateway, session, took))
}

pub async fn many_tools(s: &Settings) -> Result<Table, BenchError> {
    let opts = FixtureOpts {
        tools: s.list_tools,
        ..FixtureOpts::default()
    };
    let expect = s.list_tools + BUILT_IN_TOOLS;
    let fixture = FixtureProcess::spawn(&opts).await?;
    let upstreams = [("up".to_string(), fixture.url())];
    let mut cold = new_histogram();
    let mut kept = None;
    for _ in 0..s.samples.max(1) {
        let (gateway, session, took) = cold_list(s, &upstreams, expect).await?;
        record(&mut cold, took);
        if let Some((g, sess)) = kept.replace((gateway, session)) {
            Session::close(sess).await;
            GatewayProcess::stop(g).await;
        }
    }
    let Some((gateway, via)) = kept else {
        return Err(BenchError::Process("no mcp2 was started".into()));
    };
    let direct = Session::connect(&fixture.url()).await?;
    let pages_direct = count_pages(&direct.peer(), expect).await?;
    let pages_mcp2 = count_pages(&via.peer(), expect).await?;
    let procs = procs(fixture.pid, gateway.pid);
    let work = Work::ListAll { expect };
    let (d, m) = compare_load(s, &[direct.peer()], &[via.peer()], &work, &procs).await;
    direct.close().await;
    via.close().await;
    gateway.stop().await;
    fixture.stop().await;

    let mut t = Table::new(
        "list-1000",
        format!(
            "tools/list of a {expect}-tool upstream (pages of {}), 1 session; mcp2 cached after its first list",
            crate::fixture::PAGE_SIZE
        ),
    );
    load_rows(&mut t, &d, &m, "list");
    t.row(Row::new(
        "first list after start, p50 (ms)",
        quantile_ms(&d.hist, 0.5),
        quantile_ms(&cold, 0.5),
    ));
    t.row(Row::new(
        "pages per full list",
        Some(pages_direct as f64),
        Some(pages_mcp2 as f64),
    ));
    t.note(format!(
        "direct lists are never cached (each is {pages_direct} requests); the first-list row \
         compares a direct list with mcp2's cold one ({} restarts)",
        s.samples.max(1)
    ));
    Ok(t)
}

pub async fn hub(s: &Settings) -> Result<Table, BenchError> {
    let n = s.hub_upstreams.max(1);
    let per_upstream = 5;
    let opts = FixtureOpts {
        tools: per_upstream,
        list_delay: s.hub_delay,
        ..FixtureOpts::default()
    };
    let fixtures: Vec<FixtureProcess> = join_all((0..n).map(|_| FixtureProcess::spawn(&opts)))
        .await
        .into_iter()
        .collect::<Result<_, _>>()?;
    let each = per_upstream + BUILT_IN_TOOLS;
    let expect = n * each;
    let upstreams: Vec<(String, String)> = fixtures
        .iter()
        .enumerate()
        .map(|(i, f)| (format!("u{i:02}"), f.url()))
        .collect();

    // Direct: what a client without a hub does, one session per upstream listed in parallel.
    let direct: Vec<Session> = join_all(fixtures.iter().map(|f| Session::connect_owned(f.url())))
        .await
        .into_iter()
        .collect::<Result<_, _>>()?;
    let mut direct_hist = new_histogram();
    let mut errors = 0u64;
    for _ in 0..s.samples.max(5) {
        let t = Instant::now();
        let lists = join_all(
            direct
                .iter()
                .map(|d| async move { d.peer().list_all_tools().await }),
        )
        .await;
        record(&mut direct_hist, t.elapsed());
        errors += lists
            .iter()
            .filter(|l| !l.as_ref().is_ok_and(|tools| tools.len() == each))
            .count() as u64;
    }
    client::close_all(direct).await;

    let mut cold = new_histogram();
    let mut kept = None;
    for _ in 0..s.samples.max(1) {
        let (gateway, session, took) = cold_list(s, &upstreams, expect).await?;
        record(&mut cold, took);
        if let Some((g, sess)) = kept.replace((gateway, session)) {
            Session::close(sess).await;
            GatewayProcess::stop(g).await;
        }
    }
    let Some((gateway, via)) = kept else {
        return Err(BenchError::Process("no mcp2 was started".into()));
    };
    let procs = vec![("mcp2".to_string(), gateway.pid)];
    let cached = client::run_load(
        &[via.peer()],
        &Work::ListAll { expect },
        s.warmup.min(Duration::from_millis(500)),
        s.duration.min(Duration::from_secs(2)),
        &procs,
    )
    .await;
    let rss = mb(rss_bytes(gateway.pid));
    via.close().await;
    gateway.stop().await;
    for f in fixtures {
        f.stop().await;
    }

    let mut t = Table::new(
        "hub-list",
        format!(
            "tools/list through a hub over {n} upstreams, each answering after {} ms",
            s.hub_delay.as_millis()
        ),
    );
    let direct_p50 = quantile_ms(&direct_hist, 0.5);
    t.row(
        Row::new("cold list p50 (ms)", direct_p50, quantile_ms(&cold, 0.5))
            .target(Target::AtMost(150.0)),
    );
    t.row(Row::new(
        "cold list max (ms)",
        quantile_ms(&direct_hist, 1.0),
        quantile_ms(&cold, 1.0),
    ));
    t.row(Row::new(
        "cached list p50 (ms)",
        direct_p50,
        quantile_ms(&cached.hist, 0.5),
    ));
    t.row(
        Row::new(
            "cached list p99 (ms)",
            quantile_ms(&direct_hist, 0.99),
            quantile_ms(&cached.hist, 0.99),
        )
        .target(Target::AtMost(1.0)),
    );
    t.row(Row::new(
        "cached lists/s (1 session)",
        None,
        Some(cached.per_second()),
    ));
    let cpu = cached.cpu_us.first().and_then(|(_, c)| *c);
    t.row(Row::new("CPU µs per cached list: mcp2", None, cpu));
    t.row(Row::new(
        format!("mcp2 RSS with {n} upstreams (MiB)"),
        None,
        rss,
    ));
    t.errors = errors + cached.errors;
    if let Some(e) = cached.first_error {
        t.note(format!("mcp2 cached: {} failed; first: {e}", cached.errors));
    }
    t.note(format!(
        "direct = one client session per upstream, all {n} listed in parallel ({} samples, never \
         cached); mcp2 cold = first list after a fresh start, {} restarts",
        s.samples.max(5),
        s.samples.max(1)
    ));
    Ok(t)
}
