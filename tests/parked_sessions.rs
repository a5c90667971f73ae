//! Parked sessions through the real `mcp2` binary: a session that needs no rmcp worker holds
//! none (`serve::parked`), and the client cannot tell. A client that declares no capabilities
//! is parked once `initialize` is answered; calls and lists on the fast path, list changes on
//! its event stream and cancellations of its calls all work parked; a request only the full
//! stack serves restores it (and it is parked again once quiet); `DELETE` ends it. A client
//! that answers server→client requests is never parked. The metrics `mcp2_parked_sessions` and
//! `mcp2_session_restores_total` show which is which. Needs `scripts/install-test-deps`.

mod support;

use std::time::Duration;

use rmcp::model::{CallToolRequest, CallToolRequestParams, ClientRequest};
use rmcp::service::PeerRequestOptions;
use serde_json::{Value, json};
use support::cluster::{open_session, post, status_with_session};
use support::hub::TestClient;
use support::process::{Mcp2, Routes, quoted};
use support::prometheus::{metrics, sum};
use support::*;

const LIMIT: Duration = Duration::from_secs(20);

async fn parked(mcp2: &Mcp2) -> f64 {
    sum(
        &metrics(mcp2).await,
        "mcp2_parked_sessions",
        &[("endpoint", "/mcp")],
    )
}

async fn restores(mcp2: &Mcp2) -> f64 {
    sum(&metrics(mcp2).await, "mcp2_session_restores_total", &[])
}

/// Waits until `mcp2_parked_sessions` reads `want`; false if it never does within [`LIMIT`].
async fn parked_becomes(mcp2: &Mcp2, want: f64) -> bool {
    let deadline = tokio::time::Instant::now() + LIMIT;
    while tokio::time::Instant::now() < deadline {
        if parked(mcp2).await == want {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    false
}

fn args(value: Value) -> serde_json::Map<String, Value> {
    value.as_object().cloned().unwrap_or_default()
}

async fn call(
    peer: &rmcp::service::Peer<rmcp::service::RoleClient>,
    tool: &str,
    a: Value,
) -> String {
    let params = CallToolRequestParams::new(tool.to_string()).with_arguments(args(a));
    let result = tokio::time::timeout(LIMIT, peer.call_tool(params))
        .await
        .unwrap_or_else(|_| panic!("{tool} timed out"))
        .unwrap_or_else(|e| panic!("{tool}: {e}"));
    serde_json::to_string(&result.content).expect("content")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parked_sessions_work_like_live_ones_and_hold_no_worker() {
    init_tracing();
    let fx = spawn_python_server("passthrough_server.py", &[("TRANSPORT", "http")]).await;
    let routes = Routes::new(&format!(
        "upstream fx {{\n  http \"{fx}\"\n  timeout 20s\n}}\n\
         upstream local {{ stdio {bin} }}\n\
         profile default {{ use fx, local }}\n\
         endpoint \"/mcp\" -> default\n",
        fx = fx.url("/mcp"),
        bin = quoted(&everything_bin()),
    ));
    // A quiet session is parked again after a quarter of the idle timeout (1 s here).
    let mcp2 = Mcp2::serve(&routes, &["--idle-timeout", "4s"], &[]).await;
    let url = mcp2.url("/mcp");

    let plain = TestClient::plain("plain");
    let client = plain.connect(&url).await;
    assert!(
        parked_becomes(&mcp2, 1.0).await,
        "not parked after initialize\n{}",
        mcp2.stderr_tail(30)
    );
    let restored_before = restores(&mcp2).await;

    // Lists and calls to a Streamable HTTP upstream: the fast path, still parked.
    let tools = client.list_all_tools().await.expect("tools/list");
    assert!(tools.iter().any(|t| t.name == "grow"), "{tools:?}");
    assert_eq!(
        call(&client, "cancellations", json!({})).await,
        r#"[{"type":"text","text":"0"}]"#
    );
    assert_eq!(parked(&mcp2).await, 1.0);
    assert_eq!(
        restores(&mcp2).await,
        restored_before,
        "a fast call restored the session"
    );

    // A change upstream reaches the parked session on its own event stream.
    let told = || {
        plain
            .seen
            .lock()
            .unwrap()
            .of("notifications/tools/list_changed")
            .len()
    };
    let before = told();
    assert_eq!(
        call(&client, "grow", json!({"name": "fresh"})).await,
        r#"[{"type":"text","text":"added fresh"}]"#
    );
    assert!(
        eventually(LIMIT, || told() > before).await,
        "the parked client was not told about the new tool\n{}",
        mcp2.stderr_tail(30)
    );
    assert_eq!(
        restores(&mcp2).await,
        restored_before,
        "telling it restored the session"
    );

    // Cancelling a call of a parked session reaches the upstream.
    let slow = CallToolRequestParams::new("slow").with_arguments(args(json!({"seconds": 30})));
    let handle = client
        .send_cancellable_request(
            ClientRequest::CallToolRequest(CallToolRequest::new(slow)),
            PeerRequestOptions::no_options(),
        )
        .await
        .expect("slow sent");
    tokio::time::sleep(Duration::from_millis(500)).await;
    handle.cancel(None).await.expect("cancel sent");
    let mut cancelled = String::new();
    for _ in 0..50 {
        cancelled = call(&client, "cancellations", json!({})).await;
        if cancelled.contains("\"1\"") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        cancelled, r#"[{"type":"text","text":"1"}]"#,
        "the upstream did not see the cancellation"
    );
    assert_eq!(
        restores(&mcp2).await,
        restored_before,
        "the cancellation restored the session"
    );

    // A call to a stdio upstream is the full stack's: the session is restored for it, answers
    // as before, and is parked again once quiet.
    assert_eq!(
        call(&client, "echo", json!({"message": "still me"})).await,
        r#"[{"type":"text","text":"Echo: still me"}]"#
    );
    assert_eq!(restores(&mcp2).await, restored_before + 1.0);
    // While rmcp runs it again, what rmcp sends on the session's stream reaches the same `GET`.
    assert_eq!(parked(&mcp2).await, 0.0, "restored for the full-stack call");
    let before = told();
    call(&client, "grow", json!({"name": "fresher"})).await;
    assert!(
        eventually(LIMIT, || told() > before).await,
        "the restored client was not told about the new tool\n{}",
        mcp2.stderr_tail(30)
    );
    assert!(
        parked_becomes(&mcp2, 1.0).await,
        "not parked again once quiet"
    );
    let names: Vec<String> = client
        .list_all_tools()
        .await
        .expect("tools/list after the restore")
        .iter()
        .map(|t| t.name.to_string())
        .collect();
    assert!(
        names.contains(&"fresh".to_string()) && names.contains(&"fresher".to_string()),
        "{names:?}"
    );

    // A client that answers sampling, elicitation and roots keeps its worker.
    let asking = TestClient::new("asking").connect(&url).await;
    asking.list_all_tools().await.expect("tools/list");
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(parked(&mcp2).await, 1.0, "only the plain session is parked");

    // Ending a parked session (DELETE) takes it off the books at once (well before the idle
    // timeout would), and its id is unknown from then on.
    let raw = open_session(&url).await;
    assert!(
        parked_becomes(&mcp2, 2.0).await,
        "a raw session was not parked"
    );
    assert_eq!(
        post(
            &url,
            &raw,
            json!({"jsonrpc": "2.0", "id": 2, "method": "ping"})
        )
        .await
        .0,
        200
    );
    let deleted = reqwest::Client::new()
        .delete(&url)
        .header("mcp-session-id", &raw)
        .header("mcp-protocol-version", "2025-06-18")
        .send()
        .await
        .expect("DELETE");
    assert_eq!(deleted.status(), 204);
    assert_eq!(
        parked(&mcp2).await,
        1.0,
        "the deleted session is still parked"
    );
    assert_eq!(status_with_session(&url, &raw).await, 404);

    // Many parked sessions restored at once, while fast calls of the same sessions run: every
    // answer is right, and all of them are parked again once quiet.
    drop(client);
    assert!(
        parked_becomes(&mcp2, 0.0).await,
        "the first session never ended"
    );
    let crowd = futures::future::join_all((0..8).map(|i| {
        let url = url.clone();
        async move { TestClient::plain(&format!("crowd-{i}")).connect(&url).await }
    }))
    .await;
    assert!(
        parked_becomes(&mcp2, 8.0).await,
        "the new sessions were not parked"
    );
    let rounds = crowd.iter().enumerate().map(|(i, c)| async move {
        for round in 0..3 {
            let message = format!("{i}/{round}");
            let (slow, fast) = tokio::join!(
                call(c, "echo", json!({ "message": message })),
                call(c, "cancellations", json!({}))
            );
            assert_eq!(
                slow,
                format!(r#"[{{"type":"text","text":"Echo: {message}"}}]"#)
            );
            assert_eq!(fast, r#"[{"type":"text","text":"1"}]"#);
        }
    });
    futures::future::join_all(rounds).await;
    assert!(
        parked_becomes(&mcp2, 8.0).await,
        "not every session was parked again"
    );
    drop(crowd);
    drop(asking);
    fx.stop().await;
}
