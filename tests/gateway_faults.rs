//! Faults and shutdown of the real `mcp2` binary: upstream processes killed under it, and
//! SIGTERM/SIGINT with requests in flight. Needs `scripts/install-test-deps`.

mod support;

use std::time::{Duration, Instant};

use serde_json::json;
use support::client::*;
use support::process::{Mcp2, Routes, quoted, signal};
use support::*;

/// How long an upstream may take to come back after its process died.
const COME_BACK: Duration = Duration::from_secs(20);
/// How long mcp2 may take to exit after SIGTERM/SIGINT (its drain bound is 10 s).
const EXIT_LIMIT: Duration = Duration::from_secs(15);

fn routes(legacy: &ServerChild) -> Routes {
    Routes::new(&format!(
        r#"
upstream everything {{
  stdio {everything}
  timeout 20s
}}
upstream legacy {{
  sse "{legacy}"
  timeout 5s
}}
profile default {{
  use everything, legacy
}}
endpoint "/mcp" -> default
"#,
        everything = quoted(&everything_bin()),
        legacy = legacy.url("/sse"),
    ))
}

/// The stdio upstream's process, a child of mcp2.
fn everything_pid(mcp2: &Mcp2) -> u32 {
    mcp2.child_running("mcp-server-everything")
        .unwrap_or_else(|| panic!("no server-everything child of mcp2: {:?}", mcp2.children()))
}

/// Calls `tool` until it succeeds (or `limit` passes); the successful text.
async fn until_ok(hub: &Client, tool: &str, args: serde_json::Value, limit: Duration) -> String {
    let deadline = Instant::now() + limit;
    loop {
        match try_call(hub, tool, args.clone()).await {
            Ok(result) if result["isError"] != json!(true) => return texts(&result["content"]),
            other => assert!(
                Instant::now() < deadline,
                "{tool} did not work again within {limit:?}: {other:?}"
            ),
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_upstreams_leave_the_others_serving_and_come_back() {
    init_tracing();
    let legacy = spawn_python_server("legacy_sse_server.py", &[]).await;
    let legacy_port = legacy.port;
    let routes = routes(&legacy);
    let mut mcp2 = Mcp2::serve(&routes, &[], &[]).await;
    let hub = connect(&mcp2.url("/mcp")).await;
    let sum = json!({"a": 1, "b": 2});
    assert_eq!(
        call_text(&hub, "get-sum", sum.clone()).await,
        "The sum of 1 and 2 is 3."
    );

    // The stdio upstream dies: the other upstream keeps serving, lists still answer, and a call
    // to the dead one answers (an error or, once restarted, the result) instead of hanging.
    let first = everything_pid(&mcp2);
    signal(first, "KILL");
    assert_eq!(
        call_text(&hub, "add", json!({"a": 2, "b": 2})).await,
        "4",
        "the SSE upstream stopped serving when the stdio one died"
    );
    let tools = tool_names(&hub).await;
    assert!(tools.iter().any(|t| t == "add"), "{tools:?}");
    let _ = try_call(&hub, "get-sum", sum.clone()).await;

    // mcp2 restarts it: a new process, and its tools work again.
    assert_eq!(
        until_ok(&hub, "get-sum", sum.clone(), COME_BACK).await,
        "The sum of 1 and 2 is 3."
    );
    let second = everything_pid(&mcp2);
    assert_ne!(first, second, "the stdio upstream was not restarted");
    assert!(!process_exists(first), "the killed child was not reaped");

    // The SSE upstream's server dies: the stdio upstream keeps serving; the SSE one comes back
    // once its server is started again on the same address.
    legacy.stop().await;
    let err = try_call(&hub, "add", json!({"a": 1, "b": 1})).await;
    assert!(
        err.is_err(),
        "a call to a stopped server succeeded: {err:?}"
    );
    assert_eq!(
        call_text(&hub, "get-sum", sum.clone()).await,
        "The sum of 1 and 2 is 3."
    );
    let _legacy = spawn_python_server_on("legacy_sse_server.py", legacy_port, &[]).await;
    assert_eq!(
        until_ok(&hub, "add", json!({"a": 20, "b": 22}), COME_BACK).await,
        "42"
    );
    let tools = tool_names(&hub).await;
    assert!(
        tools.iter().any(|t| t == "add") && tools.iter().any(|t| t == "get-sum"),
        "{tools:?}"
    );

    // Still one healthy process; SIGINT stops it cleanly, children included.
    assert!(mcp2.wait_exit(Duration::ZERO).await.is_none(), "mcp2 died");
    signal(mcp2.pid(), "INT");
    let status = mcp2.wait_exit(EXIT_LIMIT).await;
    assert!(
        status.is_some_and(|s| s.success()),
        "mcp2 did not exit cleanly on SIGINT: {status:?}\n{}",
        mcp2.stderr_tail(30)
    );
    assert!(!process_exists(second), "the stdio upstream outlived mcp2");
    let stderr = mcp2.stderr();
    assert!(!stderr.contains("panicked"), "{}", mcp2.stderr_tail(40));
    assert!(stderr.contains("SIGINT: shutting down"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_finishes_in_flight_requests_then_stops_children() {
    init_tracing();
    let legacy = spawn_python_server("legacy_sse_server.py", &[]).await;
    let routes = routes(&legacy);
    let mut mcp2 = Mcp2::serve(&routes, &[], &[]).await;
    let hub = connect(&mcp2.url("/mcp")).await;
    let tools = tool_names(&hub).await;
    assert!(
        tools.iter().any(|t| t == "trigger-long-running-operation"),
        "{tools:?}"
    );
    let child = everything_pid(&mcp2);

    // A 2 s operation is in flight when SIGTERM arrives.
    let peer = hub.peer().clone();
    let in_flight = tokio::spawn(async move {
        try_call(
            &peer,
            "trigger-long-running-operation",
            json!({"duration": 2, "steps": 2}),
        )
        .await
    });
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(!in_flight.is_finished(), "the operation ended early");
    mcp2.terminate();

    // New connections are refused at once...
    let addr = mcp2.addr();
    let refused = eventually(Duration::from_secs(5), || {
        std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err()
    })
    .await;
    assert!(refused, "mcp2 still accepts connections after SIGTERM");

    // ...the request in flight still gets its answer...
    let Ok(result) = tokio::time::timeout(EXIT_LIMIT, in_flight).await else {
        panic!(
            "the in-flight request hung after SIGTERM\n{}",
            mcp2.stderr_tail(30)
        );
    };
    let result = result.expect("join");
    let result = result.unwrap_or_else(|e| {
        panic!(
            "the in-flight request failed after SIGTERM: {e}\n{}",
            mcp2.stderr_tail(30)
        )
    });
    let text = texts(&result["content"]);
    assert!(
        text.starts_with("Long running operation completed"),
        "{result}"
    );

    // ...then mcp2 exits, and its stdio upstream is gone with it.
    let status = mcp2.wait_exit(EXIT_LIMIT).await;
    assert!(
        status.is_some_and(|s| s.success()),
        "mcp2 did not exit cleanly on SIGTERM: {status:?}\n{}",
        mcp2.stderr_tail(30)
    );
    assert!(
        eventually(Duration::from_secs(2), || !process_exists(child)).await,
        "the stdio upstream (pid {child}) outlived mcp2"
    );
    assert!(mcp2.stderr().contains("SIGTERM: shutting down"));
    assert!(
        !mcp2.stderr().contains("panicked"),
        "{}",
        mcp2.stderr_tail(40)
    );
}
