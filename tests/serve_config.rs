//! The routes' `limits { … }` and `cluster { … }` through the real `mcp2` binary: a body over
//! the routes' `max-body` gets 413 (and a `--max-body` flag overrides it), the routes' session
//! key seals session ids, the routes' Redis is the one used, and `--worker-threads` sets the
//! serving threads. Needs `scripts/install-test-deps` (server-everything).

mod support;

use reqwest::StatusCode;
use serde_json::json;
use support::process::{Mcp2, Routes, quoted};
use support::*;

const ACCEPT: &str = "application/json, text/event-stream";
/// 32 bytes, base64: a session key as `openssl rand -base64 32` writes one.
const KEY: &str = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";

fn routes(extra: &str) -> Routes {
    Routes::new(&format!(
        "upstream everything {{ stdio {} }}\n\
         profile default {{ use everything }}\n\
         endpoint \"/mcp\" -> default\n\
         {extra}\n",
        quoted(&everything_bin())
    ))
}

/// `initialize` with `padding` bytes of client info: (status, session id, body).
async fn initialize(url: &str, padding: usize) -> (StatusCode, Option<String>, String) {
    let body = json!({
        "jsonrpc": "2.0", "id": 1, "method": "initialize",
        "params": {
            "protocolVersion": "2025-06-18", "capabilities": {},
            "clientInfo": { "name": "x".repeat(padding), "version": "1" }
        }
    });
    let response = reqwest::Client::new()
        .post(url)
        .header("accept", ACCEPT)
        .json(&body)
        .send()
        .await
        .expect("initialize");
    let status = response.status();
    let id = response
        .headers()
        .get("mcp-session-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    (status, id, response.text().await.unwrap_or_default())
}

/// The routes file with `max-body` back at 2KiB.
fn text_with_2kib(routes: &Routes) -> String {
    std::fs::read_to_string(routes.path().join("routes.mcproute"))
        .expect("routes")
        .replace("max-body 64KiB", "max-body 2KiB")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_routes_max_body_refuses_larger_bodies_and_the_flag_overrides_it() {
    init_tracing();
    let routes = routes("limits {\n  max-body 2KiB\n  header-timeout 5s\n  idle-timeout 10m\n}");
    let mcp2 = Mcp2::serve(&routes, &[], &[]).await;
    let url = mcp2.url("/mcp");
    let (status, _, text) = initialize(&url, 4096).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{text}");
    assert!(text.contains("2048"), "{text}");
    let (status, id, text) = initialize(&url, 100).await;
    assert_eq!(status, StatusCode::OK, "{text}");
    assert!(id.is_some());

    // A reload that raises the limit says a restart is needed; the running limit stays.
    let text = std::fs::read_to_string(routes.path().join("routes.mcproute")).expect("routes");
    std::fs::write(
        routes.path().join("routes.mcproute"),
        text.replace("max-body 2KiB", "max-body 64KiB"),
    )
    .expect("rewrite routes");
    let (status, outcome) = mcp2.admin(reqwest::Method::POST, "/_mcp2/reload").await;
    assert_eq!(status, 200, "{outcome}");
    assert!(
        outcome.to_string().contains("limits block changed"),
        "{outcome}"
    );
    let (status, _, text) = initialize(&url, 4096).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{text}");
    std::fs::write(
        routes.path().join("routes.mcproute"),
        text_with_2kib(&routes),
    )
    .expect("restore routes");

    // Started again with `--max-body`: the flag wins over the routes' 2KiB.
    let mcp2 = Mcp2::serve(&routes, &["--max-body", "64KiB"], &[]).await;
    let (status, _, text) = initialize(&mcp2.url("/mcp"), 4096).await;
    assert_eq!(status, StatusCode::OK, "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_routes_cluster_block_seals_sessions_and_names_redis() {
    init_tracing();
    // Nothing listens there: the limiter and the list-change bus start anyway and retry.
    let redis = format!("redis://127.0.0.1:{}", free_port());
    let clustered = routes(&format!(
        "cluster {{\n  session-key \"${{MCP2_TEST_SESSION_KEY}}\"\n  redis \"{redis}\"\n  on-redis-unavailable deny\n}}"
    ));
    let mcp2 = Mcp2::serve(&clustered, &[], &[("MCP2_TEST_SESSION_KEY", KEY)]).await;
    let (status, id, text) = initialize(&mcp2.url("/mcp"), 10).await;
    assert_eq!(status, StatusCode::OK, "{text}");
    let id = id.expect("a session id");
    assert!(id.starts_with("m2s1."), "not sealed: {id}");
    assert!(
        mcp2.wait_for_stderr("shared through Redis", std::time::Duration::from_secs(10))
            .await,
        "{}",
        mcp2.stderr_tail(20)
    );
    assert!(mcp2.stderr().contains("Deny"), "{}", mcp2.stderr_tail(20));
    assert!(!mcp2.stderr().contains(KEY), "the key was printed");

    // Without the block: plain ids, no Redis.
    let plain = routes("");
    let mcp2 = Mcp2::serve(&plain, &[], &[("MCP2_TEST_SESSION_KEY", KEY)]).await;
    let (_, id, _) = initialize(&mcp2.url("/mcp"), 10).await;
    assert!(!id.expect("a session id").starts_with("m2s1."));
    assert!(!mcp2.stderr().contains("shared through Redis"));
}

/// The threads named `tokio-rt-worker` of a process.
fn worker_threads(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/task"))
        .map(|tasks| {
            tasks
                .flatten()
                .filter(|t| {
                    std::fs::read_to_string(t.path().join("comm"))
                        .is_ok_and(|c| c.trim() == "tokio-rt-worker")
                })
                .count()
        })
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread")]
async fn worker_threads_are_set_by_flag_or_variable_and_zero_is_refused() {
    init_tracing();
    let routes = routes("");
    let one = Mcp2::serve(&routes, &["--worker-threads", "1"], &[]).await;
    let hub = support::client::connect(&one.url("/mcp")).await;
    assert_eq!(
        support::client::call_text(&hub, "echo", json!({ "message": "one" })).await,
        "Echo: one"
    );
    assert_eq!(worker_threads(one.pid()), 1);
    let three = Mcp2::serve(&routes, &[], &[("MCP2_WORKER_THREADS", "3")]).await;
    assert_eq!(worker_threads(three.pid()), 3);

    let refused = Mcp2::command(
        &[
            "serve",
            routes.path().to_str().expect("utf-8 path"),
            "--worker-threads",
            "0",
        ],
        &[],
    )
    .output()
    .expect("run mcp2");
    assert!(!refused.status.success());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(stderr.contains("--worker-threads"), "{stderr}");
}
