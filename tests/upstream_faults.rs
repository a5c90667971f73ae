//! Upstreams that misbehave under the real `mcp2` binary (`gateway_faults.rs` has the ones that
//! are killed): a call that never gets an answer, garbage and oversized answers, a notification
//! flood, a crash mid-call, and a server that exits at once forever. Each call gets a clear
//! error in bounded time; the other upstream and every client session keep working; memory
//! stays bounded; the restart loop backs off. Needs `scripts/install-test-deps`.

mod support;

use std::time::{Duration, Instant};

use rmcp::service::{Peer, RoleClient};
use serde_json::{Value, json};
use support::client::*;
use support::process::{Mcp2, Routes, quoted};
use support::*;

/// The faulty upstream's request timeout.
const TIMEOUT_S: u64 = 3;

fn routes() -> Routes {
    Routes::new(&format!(
        r#"
upstream everything {{
  stdio {everything}
  timeout 20s
}}
upstream faulty {{
  stdio {python} {faulty}
  timeout {TIMEOUT_S}s
}}
upstream looping {{
  stdio {python} "-c" "import sys; sys.exit(1)"
}}
profile default {{
  prefix "{{upstream}}__"
  use everything, faulty, looping
}}
endpoint "/mcp" -> default
"#,
        everything = quoted(&everything_bin()),
        python = quoted(&python()),
        faulty = quoted(&fixture_server("faulty_server.py")),
    ))
}

/// mcp2's resident memory, in KiB.
fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// The other upstream answers, on another client session.
async fn others_work(hub: &Client) {
    assert_eq!(
        call_text(hub, "everything__get-sum", json!({"a": 1, "b": 2})).await,
        "The sum of 1 and 2 is 3."
    );
}

/// A call that must fail: its error text, and how long it took.
async fn failing(hub: &Peer<RoleClient>, tool: &str, args: Value) -> (String, Duration) {
    let started = Instant::now();
    let outcome = try_call(hub, tool, args).await;
    let text = match outcome {
        Err(e) => e.to_string(),
        Ok(result) if result["isError"] == json!(true) => texts(&result["content"]),
        Ok(result) => panic!("{tool} succeeded: {result}"),
    };
    (text, started.elapsed())
}

async fn echo_works(hub: &Client, limit: Duration) {
    let deadline = Instant::now() + limit;
    loop {
        match try_call(hub, "faulty__echo", json!({"text": "still here"})).await {
            Ok(r) if texts(&r["content"]) == "still here" => return,
            other => assert!(Instant::now() < deadline, "faulty__echo: {other:?}"),
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn misbehaving_upstreams_fail_their_calls_and_nothing_else() {
    init_tracing();
    let routes = routes();
    let mcp2 = Mcp2::serve(&routes, &[], &[]).await;
    let url = mcp2.url("/mcp");
    let (hub, other) = (connect(&url).await, connect(&url).await);
    echo_works(&hub, Duration::from_secs(20)).await;
    others_work(&other).await;
    let rss_start = rss_kib(mcp2.pid());

    // Never answers: a timeout error that says so, after the configured timeout; the other
    // session is served while the call waits.
    let peer = hub.peer().clone();
    let hang = tokio::spawn(async move { failing(&peer, "faulty__hang", json!({})).await });
    others_work(&other).await;
    let (error, took) = hang.await.expect("join");
    assert!(
        error.contains("did not answer") && error.contains(&format!("{TIMEOUT_S}s")),
        "{error}"
    );
    assert!(took < Duration::from_secs(TIMEOUT_S + 10), "{took:?}");
    echo_works(&hub, Duration::from_secs(5)).await;

    // Garbage, then an answer far over the 16 MiB message limit: the calls time out, the
    // connection survives, and the huge line was never held in memory whole... twice over.
    for (tool, args) in [
        ("faulty__garbage", json!({})),
        ("faulty__oversized", json!({"mb": 40})),
    ] {
        let (error, took) = failing(&hub, tool, args).await;
        assert!(error.contains("did not answer"), "{tool}: {error}");
        assert!(
            took < Duration::from_secs(TIMEOUT_S + 10),
            "{tool}: {took:?}"
        );
        echo_works(&hub, Duration::from_secs(5)).await;
        others_work(&other).await;
    }

    // A flood of notifications: the other session is served meanwhile, and the call ends. (Its
    // answer, or its timeout error, queues behind the flood: rmcp handles one upstream
    // connection's messages in order, a few thousand a second in a debug build.)
    let peer = hub.peer().clone();
    let flood = tokio::spawn(async move {
        let started = Instant::now();
        let outcome = try_call(&peer, "faulty__flood", json!({"count": 20000})).await;
        (outcome, started.elapsed())
    });
    others_work(&other).await;
    let (flooded, took) = flood.await.expect("join");
    match flooded {
        Ok(result) => assert_eq!(texts(&result["content"]), "flooded"),
        Err(e) => assert!(e.to_string().contains("did not answer"), "{e}"),
    }
    assert!(took < Duration::from_secs(60), "{took:?}");
    echo_works(&hub, Duration::from_secs(30)).await;
    others_work(&other).await;
    let rss_end = rss_kib(mcp2.pid());
    assert!(
        rss_end < rss_start + 64 * 1024,
        "mcp2 grew from {rss_start} KiB to {rss_end} KiB"
    );

    // Crash mid-call: an error soon (not the timeout of a hang), then the upstream comes back.
    let (error, took) = failing(&hub, "faulty__crash", json!({})).await;
    assert!(
        took < Duration::from_secs(TIMEOUT_S),
        "{error} after {took:?}"
    );
    echo_works(&hub, Duration::from_secs(20)).await;
    others_work(&other).await;

    // The upstream that exits at once is restarted with backoff, visible in /_mcp2/ready and
    // the log, and it does not spin: a handful of tries in 8 s, not thousands.
    let down_lines = |log: &str| {
        log.lines()
            .filter(|l| l.contains("upstream down") && l.contains("looping"))
            .count()
    };
    let before = down_lines(&mcp2.stderr());
    tokio::time::sleep(Duration::from_secs(8)).await;
    let during = down_lines(&mcp2.stderr()) - before;
    assert!(during <= 8, "{during} restarts of `looping` in 8 s");
    let (status, ready) = mcp2.admin(reqwest::Method::GET, "/_mcp2/ready").await;
    assert_eq!(status, 503, "{ready}");
    let looping = &ready["upstreams"]["looping"];
    assert!(
        looping["state"] == "restarting"
            || (looping["state"] == "down" && looping["attempts"].as_u64() >= Some(3)),
        "{ready}"
    );
    assert!(
        mcp2.stderr().contains("retry_in_ms"),
        "{}",
        mcp2.stderr_tail(20)
    );

    others_work(&other).await;
    echo_works(&hub, Duration::from_secs(5)).await;
    assert!(
        !mcp2.stderr().contains("panicked"),
        "{}",
        mcp2.stderr_tail(40)
    );
}

/// An upstream whose every connection attempt takes 3 s and then fails, beside one that works:
/// while it is mid-attempt, a new client's `initialize`, `tools/list` and a call to the working
/// upstream each wait for that attempt at most, never for the failing upstream's (long)
/// timeouts, and `/_mcp2/ready` shows the failure while the upstream tries again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upstream_failing_slowly_holds_up_no_one() {
    init_tracing();
    let routes = Routes::new(&format!(
        r#"
upstream everything {{
  stdio {everything}
}}
upstream slowfail {{
  stdio {python} "-c" "import time; time.sleep(3)"
  connect-timeout 60s
  timeout 60s
}}
profile default {{
  prefix "{{upstream}}__"
  use everything, slowfail
}}
endpoint "/mcp" -> default
"#,
        everything = quoted(&everything_bin()),
        python = quoted(&python()),
    ));
    let mcp2 = Mcp2::serve(&routes, &["--no-watch"], &[]).await;

    // Wait for a retry in progress: `restarting`, with the last failure beside it.
    let mut restarting = Value::Null;
    for _ in 0..400 {
        let (_, ready) = mcp2.admin(reqwest::Method::GET, "/_mcp2/ready").await;
        if ready["upstreams"]["slowfail"]["state"] == "restarting"
            && ready["upstreams"]["everything"]["state"] == "connected"
        {
            restarting = ready["upstreams"]["slowfail"].clone();
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        restarting["error"]
            .as_str()
            .is_some_and(|e| e.contains("before answering `initialize`")),
        "no retry in progress with its last error: {restarting}\n{}",
        mcp2.stderr_tail(20)
    );

    // Mid-attempt: each step waits at most for the attempt in progress (3 s), so the three
    // together stay far below the 10 s `initialize` waits for upstreams and the 60 s timeout.
    let started = Instant::now();
    let hub = connect(&mcp2.url("/mcp")).await;
    let names = tool_names(hub.peer()).await;
    assert!(names.contains(&"everything__echo".to_string()), "{names:?}");
    assert_eq!(
        call_text(&hub, "everything__echo", json!({"message": "hi"})).await,
        "Echo: hi"
    );
    let took = started.elapsed();
    assert!(
        took < Duration::from_secs(9),
        "a failing upstream held up the hub for {took:?}"
    );
}
