//! Calls that carry a progress token on the fast path: rmcp clients (which put a token on every
//! request) are served there with the full stack's results; progress comes back on the call's
//! own response, under the client's own token, streamed before the answer; clients sharing a
//! token value see only their own progress; cancelling such a call still cancels it upstream.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::StreamExt;
use rmcp::model::{
    CallToolRequest, CallToolRequestParams, ClientConfig, ClientRequest, Implementation,
    ProgressNotificationParam, ProtocolVersion, ServerResult,
};
use rmcp::service::{NotificationContext, PeerRequestOptions, RoleClient, RunningService};
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::{ClientHandler, ServiceExt};
use serde_json::{Value, json};

use super::support::process::{Mcp2, Routes};
use super::support::*;
use super::{Raw, count, fast_counts};

const LIMIT: Duration = Duration::from_secs(30);

/// An rmcp client that answers no server requests (so the fast path may serve it) and records
/// every progress notification it is handed.
#[derive(Clone, Default)]
struct Progressed {
    seen: Arc<Mutex<Vec<ProgressNotificationParam>>>,
}

impl ClientHandler for Progressed {
    fn get_info(&self) -> ClientConfig {
        let mut info =
            ClientConfig::new(Default::default(), Implementation::new("progressed", "1"));
        info.protocol_version = ProtocolVersion::V_2025_11_25;
        info
    }

    async fn on_progress(
        &self,
        params: ProgressNotificationParam,
        _context: NotificationContext<RoleClient>,
    ) {
        self.seen.lock().unwrap().push(params);
    }
}

type Client = RunningService<RoleClient, Progressed>;

async fn connect(url: &str) -> (Client, Progressed) {
    let handler = Progressed::default();
    let transport = StreamableHttpClientTransport::from_uri(url.to_string());
    let client = tokio::time::timeout(LIMIT, handler.clone().serve(transport))
        .await
        .expect("initialize hung")
        .expect("initialize");
    (client, handler)
}

/// Calls `tool`; returns the result and the progress token rmcp put on the request.
async fn call(client: &Client, tool: &str, args: Value) -> (Value, Value) {
    let params = CallToolRequestParams::new(tool.to_string())
        .with_arguments(args.as_object().cloned().unwrap_or_default());
    let request = ClientRequest::CallToolRequest(CallToolRequest::new(params));
    let handle = client
        .send_request_with_option(request, PeerRequestOptions::no_options())
        .await
        .expect("sent");
    let token = serde_json::to_value(&handle.progress_token).unwrap();
    let answer = tokio::time::timeout(LIMIT, handle.await_response())
        .await
        .expect("call hung")
        .expect("call");
    let ServerResult::CallToolResult(result) = answer else {
        panic!("not a tool result: {answer:?}");
    };
    (serde_json::to_value(result).unwrap(), token)
}

fn everything_routes(url: impl std::fmt::Display) -> Routes {
    Routes::new(&format!(
        "upstream web {{\n  http \"{url}\"\n  timeout 20s\n}}\nprofile default {{\n  use web\n}}\nendpoint \"/mcp\" -> default\n"
    ))
}

/// The progress an rmcp client is handed for one call, once `n` have arrived.
async fn progress_of(handler: &Progressed, n: usize) -> Vec<ProgressNotificationParam> {
    eventually(LIMIT, || handler.seen.lock().unwrap().len() >= n).await;
    std::mem::take(&mut *handler.seen.lock().unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rmcp_clients_are_served_on_the_fast_path_with_their_progress() {
    let everything = spawn_everything("streamableHttp").await;
    let routes = everything_routes(everything.url("/mcp"));
    let fast = Mcp2::serve(&routes, &[], &[]).await;
    let full = Mcp2::serve(&routes, &[], &[("MCP2_FAST_PATH", "off")]).await;
    let (fast_client, fast_seen) = connect(&fast.url("/mcp")).await;
    let (full_client, full_seen) = connect(&full.url("/mcp")).await;
    // The first call may find the upstream sessions still settling.
    call(&fast_client, "echo", json!({"message": "warm"})).await;

    let before = fast_counts(&fast).await;
    let (on_fast, _) = call(&fast_client, "echo", json!({"message": "héllo"})).await;
    let (on_full, _) = call(&full_client, "echo", json!({"message": "héllo"})).await;
    assert_eq!(on_fast, on_full);
    assert_eq!(on_fast["content"][0]["text"], "Echo: héllo", "{on_fast}");

    let args = json!({"duration": 0.6, "steps": 3});
    let (on_fast, fast_token) =
        call(&fast_client, "trigger-long-running-operation", args.clone()).await;
    let (on_full, _) = call(&full_client, "trigger-long-running-operation", args).await;
    assert_eq!(on_fast, on_full);
    let after = fast_counts(&fast).await;
    let delta =
        |reason: &str| count(&after, "tools/call", reason) - count(&before, "tools/call", reason);
    assert_eq!(delta(""), 2.0, "both calls on the fast path: {after:?}");
    assert_eq!(delta("progress token"), 0.0, "{after:?}");

    let fast_progress = progress_of(&fast_seen, 3).await;
    let full_progress = progress_of(&full_seen, 3).await;
    assert_eq!(
        fast_progress.len(),
        full_progress.len(),
        "{fast_progress:?} vs {full_progress:?}"
    );
    assert_eq!(fast_progress.len(), 3, "{fast_progress:?}");
    let steps: Vec<f64> = fast_progress.iter().map(|p| p.progress).collect();
    assert_eq!(steps, [1.0, 2.0, 3.0]);
    // Nothing more comes later (progress is not also delivered through the session).
    call(&fast_client, "echo", json!({"message": "after"})).await;
    assert!(fast_seen.seen.lock().unwrap().is_empty(), "duplicates");
    for progress in &fast_progress {
        assert_eq!(
            serde_json::to_value(&progress.progress_token).unwrap(),
            fast_token
        );
    }
    everything.stop().await;
}

/// The events of an SSE body as they arrive: each JSON message with when it arrived.
async fn events_of(response: reqwest::Response) -> Vec<(Value, Instant)> {
    let mut events = Vec::new();
    let mut pending = String::new();
    let mut body = response.bytes_stream();
    let read = tokio::time::timeout(LIMIT, async {
        while let Some(chunk) = body.next().await {
            pending.push_str(&String::from_utf8_lossy(&chunk.expect("chunk")));
            while let Some(end) = pending.find("\n\n") {
                let event: String = pending.drain(..end + 2).collect();
                let data: String = event
                    .lines()
                    .filter_map(|l| l.strip_prefix("data:"))
                    .map(str::trim)
                    .collect();
                if let Ok(message) = serde_json::from_str(&data) {
                    events.push((message, Instant::now()));
                }
            }
        }
    })
    .await;
    assert!(read.is_ok(), "the stream did not end: {events:?}");
    events
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn progress_streams_before_the_answer_and_each_client_sees_only_its_own() {
    let everything = spawn_everything("streamableHttp").await;
    let mcp2 = Mcp2::serve(&everything_routes(everything.url("/mcp")), &[], &[]).await;
    let mut a = Raw::open(mcp2.url("/mcp"), json!({})).await;
    let b = Raw::open(mcp2.url("/mcp"), json!({})).await;
    a.warm().await;

    // A number token, as written; the answer follows three progress events, each sent on as
    // it arrived (the upstream waits 0.5 s between them).
    let before = fast_counts(&mcp2).await;
    let response = a
        .send(
            json!({"jsonrpc": "2.0", "id": 5, "method": "tools/call", "params": {
            "name": "trigger-long-running-operation", "arguments": {"duration": 1.5, "steps": 3},
            "_meta": {"progressToken": 42}}}),
        )
        .await;
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/event-stream"),
        "{:?}",
        response.headers()
    );
    let events = events_of(response).await;
    let messages: Vec<&Value> = events.iter().map(|(m, _)| m).collect();
    assert_eq!(events.len(), 4, "{messages:?}");
    for (step, (progress, _)) in events[..3].iter().enumerate() {
        assert_eq!(progress["method"], "notifications/progress", "{messages:?}");
        assert_eq!(
            progress["params"]["progressToken"],
            json!(42),
            "{messages:?}"
        );
        assert_eq!(
            progress["params"]["progress"],
            json!(step + 1),
            "{messages:?}"
        );
    }
    assert_eq!(events[3].0["id"], json!(5), "{messages:?}");
    assert!(events[3].0["result"]["content"].is_array(), "{messages:?}");
    let gap = events[3].1 - events[0].1;
    assert!(
        gap >= Duration::from_millis(300),
        "progress was held back: {gap:?}"
    );
    let after = fast_counts(&mcp2).await;
    assert_eq!(
        count(&after, "tools/call", "") - count(&before, "tools/call", ""),
        1.0
    );

    // Two clients, one token value, at once: each gets exactly its own steps.
    let call = |steps: u64| {
        json!({"jsonrpc": "2.0", "id": 9, "method": "tools/call", "params": {
            "name": "trigger-long-running-operation",
            "arguments": {"duration": 0.8, "steps": steps},
            "_meta": {"progressToken": "same", "trace": "kept"}}})
    };
    let (ra, rb) = tokio::join!(a.send(call(3)), b.send(call(5)));
    let (ea, eb) = tokio::join!(events_of(ra), events_of(rb));
    for (events, steps) in [(ea, 3), (eb, 5)] {
        let progress: Vec<&Value> = events
            .iter()
            .map(|(m, _)| m)
            .filter(|m| m["method"] == "notifications/progress")
            .collect();
        assert_eq!(progress.len(), steps, "{progress:?}");
        assert!(
            progress
                .iter()
                .all(|p| p["params"]["progressToken"] == "same"),
            "{progress:?}"
        );
        assert_eq!(progress.last().unwrap()["params"]["total"], json!(steps));
        assert!(events.last().unwrap().0["result"].is_object(), "{events:?}");
    }
    everything.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fast_call_with_progress_is_still_cancelled_upstream() {
    let upstream = spawn_python_server("passthrough_server.py", &[("TRANSPORT", "http")]).await;
    let routes = Routes::new(&format!(
        "upstream pt {{\n  http \"{}\"\n  timeout 60s\n}}\nprofile default {{\n  use pt\n}}\nendpoint \"/mcp\" -> default\n",
        upstream.url("/mcp")
    ));
    let mcp2 = Mcp2::serve(&routes, &[], &[]).await;
    let mut raw = Raw::open(mcp2.url("/mcp"), json!({})).await;
    let cancellations = async |raw: &mut Raw| {
        let answer = raw
            .request(
                "tools/call",
                json!({"name": "cancellations", "arguments": {}}),
            )
            .await;
        answer["result"]["content"][0]["text"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    };
    assert_eq!(cancellations(&mut raw).await, "0");
    let before = fast_counts(&mcp2).await;
    // The other `_meta` keys reach the upstream as the client wrote them.
    let meta = raw
        .request(
            "tools/call",
            json!({"name": "echo_meta", "arguments": {},
                "_meta": {"progressToken": 3, "trace": {"a": [1, "b"]}, "k": "v"}}),
        )
        .await;
    let seen: Value = serde_json::from_str(meta["result"]["content"][0]["text"].as_str().unwrap())
        .unwrap_or_else(|_| panic!("{meta}"));
    assert_eq!(seen, json!({"trace": {"a": [1, "b"]}, "k": "v"}), "{meta}");
    let slow = |id: u64| {
        json!({"jsonrpc": "2.0", "id": id, "method": "tools/call", "params": {
            "name": "slow", "arguments": {"seconds": 30}, "_meta": {"progressToken": id}}})
    };

    // The client goes away after the first progress event.
    let response = raw.send(slow(100)).await;
    let mut body = response.bytes_stream();
    let first = tokio::time::timeout(LIMIT, body.next())
        .await
        .expect("no progress");
    let first = String::from_utf8_lossy(&first.expect("a chunk").expect("bytes")).to_string();
    assert!(
        first.contains("notifications/progress") && first.contains("100"),
        "{first}"
    );
    drop(body);
    let mut seen = String::new();
    let cancelled = tokio::time::timeout(LIMIT, async {
        while seen != "1" {
            tokio::time::sleep(Duration::from_millis(100)).await;
            seen = cancellations(&mut raw).await;
        }
    })
    .await;
    assert!(cancelled.is_ok(), "upstream saw no cancellation: {seen}");

    // The client cancels it itself: the stream ends and the upstream stops.
    let response = raw.send(slow(101)).await;
    let mut body = response.bytes_stream();
    let first = tokio::time::timeout(LIMIT, body.next())
        .await
        .expect("no progress");
    assert!(first.is_some());
    let (status, _) = raw
        .post_raw(
            json!({"jsonrpc": "2.0", "method": "notifications/cancelled",
            "params": {"requestId": 101, "reason": "changed my mind"}}),
        )
        .await;
    assert_eq!(status, 202);
    let ended = tokio::time::timeout(LIMIT, async { while body.next().await.is_some() {} }).await;
    assert!(ended.is_ok(), "the cancelled call's stream did not end");
    let mut seen = String::new();
    let cancelled = tokio::time::timeout(LIMIT, async {
        while seen != "2" {
            tokio::time::sleep(Duration::from_millis(100)).await;
            seen = cancellations(&mut raw).await;
        }
    })
    .await;
    assert!(
        cancelled.is_ok(),
        "upstream saw no second cancellation: {seen}"
    );
    let after = fast_counts(&mcp2).await;
    assert!(
        count(&after, "tools/call", "") - count(&before, "tools/call", "") >= 2.0,
        "{after:?}"
    );
    upstream.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn progress_restarts_the_upstream_timeout_as_on_the_full_stack() {
    let everything = spawn_everything("streamableHttp").await;
    let routes = Routes::new(&format!(
        "upstream web {{\n  http \"{}\"\n  timeout 1s\n}}\nprofile default {{\n  use web\n}}\nendpoint \"/mcp\" -> default\n",
        everything.url("/mcp")
    ));
    let mcp2 = Mcp2::serve(&routes, &[], &[]).await;
    let mut raw = Raw::open(mcp2.url("/mcp"), json!({})).await;
    raw.warm().await;
    let before = fast_counts(&mcp2).await;
    // 2.5 s in all, progress every 0.5 s: alive all along, longer than the timeout.
    let long = raw
        .send(
            json!({"jsonrpc": "2.0", "id": 7, "method": "tools/call", "params": {
            "name": "trigger-long-running-operation", "arguments": {"duration": 2.5, "steps": 5},
            "_meta": {"progressToken": "t"}}}),
        )
        .await;
    let events = events_of(long).await;
    let answer = &events.last().expect("an answer").0;
    assert!(answer["result"]["content"].is_array(), "{answer}");
    assert_eq!(events.len(), 6, "{events:?}");
    // Without progress the same wait times out.
    let quiet = raw
        .request(
            "tools/call",
            json!({"name": "trigger-long-running-operation", "arguments": {"duration": 2.5, "steps": 1}}),
        )
        .await;
    assert!(quiet["error"]["message"].is_string(), "{quiet}");
    let after = fast_counts(&mcp2).await;
    assert_eq!(
        count(&after, "tools/call", "") - count(&before, "tools/call", ""),
        2.0
    );
    everything.stop().await;
}
