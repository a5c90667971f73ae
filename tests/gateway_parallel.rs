//! Lists fan out in parallel and are cached: five upstreams that each take 300 ms to list their
//! tools, and one that never answers (`tests/fixtures/servers/slow_server.py`), behind the real
//! `mcp2` binary. Needs `scripts/install-test-deps`.

mod support;

use std::time::{Duration, Instant};

use futures::future::join_all;
use serde_json::json;
use support::client::*;
use support::process::{Mcp2, Routes};
use support::*;

const SLOW: [&str; 5] = ["s1", "s2", "s3", "s4", "s5"];
/// Each slow upstream's `tools/list` delay, in seconds.
const DELAY: &str = "0.3";

/// The five slow servers, then the one that never answers, in one Python process.
async fn slow_servers() -> ServerGroup {
    let mut servers: Vec<String> = SLOW.iter().map(|s| format!("{s}={DELAY}")).collect();
    servers.push("dead=3600".into());
    spawn_python_servers(
        "slow_server.py",
        &[("SERVERS", &servers.join(" "))],
        SLOW.len() + 1,
    )
    .await
}

fn routes(servers: &ServerGroup) -> Routes {
    let mut text = String::new();
    for (i, name) in SLOW.iter().enumerate() {
        text += &format!(
            "upstream {name} {{\n  http \"{}\"\n}}\n",
            servers.url(i, "/mcp")
        );
    }
    text += &format!(
        "upstream dead {{\n  http \"{}\"\n  timeout 2s\n}}\n",
        servers.url(SLOW.len(), "/mcp")
    );
    let all = SLOW.join(", ");
    text += &format!(
        r#"
profile default {{
  use {all}
  prefix "{{upstream}}__"
}}
profile withdead {{
  use {all}, dead
  prefix "{{upstream}}__"
}}
endpoint "/mcp" -> default
endpoint "/mcp/withdead" -> withdead
"#
    );
    Routes::new(&text)
}

fn expected_tools() -> Vec<String> {
    let mut names: Vec<String> = SLOW
        .iter()
        .flat_map(|s| {
            [
                format!("{s}__call_count"),
                format!("{s}__list_calls"),
                format!("{s}__whoami"),
            ]
        })
        .collect();
    names.sort();
    names
}

async fn timed_tool_names(client: &Client) -> (Vec<String>, Duration) {
    let started = Instant::now();
    let mut names = tool_names(client).await;
    let took = started.elapsed();
    names.sort();
    (names, took)
}

/// How many `tools/list` requests each slow upstream has received, asked through the hub.
async fn list_calls(client: &Client) -> Vec<String> {
    join_all(
        SLOW.iter().map(|s| async move {
            call_text(client, &format!("{s}__list_calls"), json!({})).await
        }),
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lists_fan_out_in_parallel_are_cached_and_skip_a_dead_upstream() {
    init_tracing();
    let servers = slow_servers().await;
    let routes = routes(&servers);
    let mcp2 = Mcp2::serve(&routes, &[], &[]).await;
    let hub = connect(&mcp2.url("/mcp")).await;

    // First list: five 300 ms upstreams answer together, well under the 1.5 s they sum to.
    let (tools, first) = timed_tool_names(&hub).await;
    assert_eq!(tools, expected_tools());
    assert!(
        first < Duration::from_secs(1),
        "the first tools/list took {first:?}: not in parallel"
    );

    eprintln!("first tools/list over five 300 ms upstreams: {first:?}");

    // Second list: from the cache, faster than any one upstream, and no upstream asked again.
    let (again, second) = timed_tool_names(&hub).await;
    assert_eq!(again, tools);
    assert!(
        second < Duration::from_millis(250),
        "the second tools/list took {second:?}: not from the cache"
    );
    eprintln!("second tools/list: {second:?}");
    let once = vec!["tools/list requests=1".to_string(); SLOW.len()];
    assert_eq!(list_calls(&hub).await, once);

    // An upstream that never answers is left out after its own 2 s timeout; the others' tools
    // (still cached) are returned, and the failure is logged with the upstream's name.
    let withdead = connect(&mcp2.url("/mcp/withdead")).await;
    let (tools, took) = timed_tool_names(&withdead).await;
    assert_eq!(tools, expected_tools());
    assert!(
        took >= Duration::from_millis(1900) && took < Duration::from_secs(5),
        "the list with a dead upstream took {took:?}, expected its 2 s timeout"
    );
    eprintln!("tools/list with a dead upstream (timeout 2s): {took:?}");
    let warned = mcp2
        .wait_for_line(Duration::from_secs(5), |l| {
            l.contains("upstream left out of the list")
                && l.contains("upstream=dead")
                && l.contains("timed out after 2s")
        })
        .await;
    assert!(
        warned,
        "no warning about the dead upstream:\n{}",
        mcp2.stderr_tail(30)
    );

    // The failure is remembered for a while: the next list does not wait for the dead one again.
    let (tools, took) = timed_tool_names(&withdead).await;
    assert_eq!(tools, expected_tools());
    assert!(
        took < Duration::from_millis(500),
        "the next list waited {took:?} on the dead upstream again"
    );
    assert_eq!(list_calls(&withdead).await, once);
    assert!(
        !mcp2.stderr().contains("panicked"),
        "{}",
        mcp2.stderr_tail(30)
    );
}
