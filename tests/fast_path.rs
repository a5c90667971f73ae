//! The fast path through the real `mcp2` binary, spoken to in raw JSON-RPC over HTTP: calls it
//! takes give the same results as the full protocol stack (text, structured content, `_meta`,
//! `isError`, images, JSON-RPC errors), lists are the same, and every case it must leave to the
//! full stack is left there — as `/_mcp2/metrics` (`mcp2_fast_path_total`) shows. Calls with a
//! progress token: `fast_path/progress.rs`. Needs `scripts/install-test-deps`.

mod support;

#[path = "fast_path/progress.rs"]
mod progress;

use std::collections::BTreeMap;

use serde_json::{Value, json};
use support::process::{Mcp2, Routes, quoted};
use support::*;

/// A raw MCP client session on one endpoint.
struct Raw {
    http: reqwest::Client,
    url: String,
    session: String,
    next: u64,
}

/// The JSON-RPC answer in a body that is either one JSON message or an SSE stream.
fn answer_of(content_type: &str, body: &str) -> Value {
    if content_type.starts_with("application/json") {
        return serde_json::from_str(body).expect("a JSON answer");
    }
    body.lines()
        .filter_map(|l| l.strip_prefix("data:"))
        .filter_map(|d| serde_json::from_str::<Value>(d.trim()).ok())
        .find(|m| m.get("result").is_some() || m.get("error").is_some())
        .unwrap_or_else(|| panic!("no answer in the stream: {body}"))
}

impl Raw {
    async fn open(url: String, capabilities: Value) -> Raw {
        let http = reqwest::Client::new();
        let init = json!({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
            "protocolVersion": "2025-06-18", "capabilities": capabilities,
            "clientInfo": {"name": "raw", "version": "1"}}});
        let response = http
            .post(&url)
            .header("accept", "application/json, text/event-stream")
            .json(&init)
            .send()
            .await
            .expect("initialize");
        assert_eq!(response.status(), 200);
        let session = response.headers()["mcp-session-id"]
            .to_str()
            .expect("session id")
            .to_string();
        let mut raw = Raw {
            http,
            url,
            session,
            next: 1,
        };
        let (status, _) = raw
            .post_raw(json!({"jsonrpc": "2.0", "method": "notifications/initialized"}))
            .await;
        assert_eq!(status, 202);
        raw
    }

    /// POSTs one message; the response as it starts.
    async fn send(&self, body: Value) -> reqwest::Response {
        self.http
            .post(&self.url)
            .header("accept", "application/json, text/event-stream")
            .header("mcp-session-id", &self.session)
            .header("mcp-protocol-version", "2025-06-18")
            .json(&body)
            .send()
            .await
            .expect("POST")
    }

    async fn post_raw(&mut self, body: Value) -> (u16, String) {
        let response = self.send(body).await;
        let status = response.status().as_u16();
        let content_type = response
            .headers()
            .get("content-type")
            .map(|v| v.to_str().unwrap_or("").to_string())
            .unwrap_or_default();
        let text = response.text().await.expect("body");
        if status == 200 {
            let answer = answer_of(&content_type, &text);
            return (status, answer.to_string());
        }
        (status, text)
    }

    /// Sends a request; returns the whole answer message.
    async fn request(&mut self, method: &str, params: Value) -> Value {
        let id = self.next;
        self.next += 1;
        let (status, text) = self
            .post_raw(json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}))
            .await;
        assert_eq!(status, 200, "{method}: {text}");
        let answer: Value = serde_json::from_str(&text).expect("answer JSON");
        assert_eq!(answer["id"], json!(id), "{answer}");
        answer
    }

    /// One echo call, answered: the first call may find the upstream sessions still settling.
    async fn warm(&mut self) {
        self.request(
            "tools/call",
            json!({"name": "echo", "arguments": {"message": "warm"}}),
        )
        .await;
    }
}

async fn fast_counts(mcp2: &Mcp2) -> BTreeMap<(String, String, String), f64> {
    let text = reqwest::get(mcp2.url("/_mcp2/metrics"))
        .await
        .expect("metrics")
        .text()
        .await
        .expect("metrics body");
    let mut counts = BTreeMap::new();
    for line in text
        .lines()
        .filter(|l| l.starts_with("mcp2_fast_path_total{"))
    {
        let (key, value) = line.rsplit_once(' ').expect("sample");
        let label = |name: &str| {
            let start = key.find(&format!("{name}=\"")).map(|i| i + name.len() + 2);
            start
                .and_then(|s| key[s..].find('"').map(|e| key[s..s + e].to_string()))
                .unwrap_or_default()
        };
        counts.insert(
            (label("method"), label("path"), label("reason")),
            value.parse::<f64>().expect("value"),
        );
    }
    counts
}

fn count(counts: &BTreeMap<(String, String, String), f64>, method: &str, reason: &str) -> f64 {
    let path = if reason.is_empty() { "fast" } else { "slow" };
    counts
        .get(&(method.into(), path.into(), reason.into()))
        .copied()
        .unwrap_or(0.0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fast_calls_and_lists_match_the_full_stack_and_every_fallback_is_taken() {
    let everything = spawn_everything("streamableHttp").await;
    let url = everything.url("/mcp");
    let routes = Routes::new(&format!(
        r#"
upstream web {{
  http "{url}"
  timeout 20s
}}
upstream solo {{
  http "{url}"
  session per-client
  timeout 20s
}}
upstream local {{
  stdio {bin}
  timeout 20s
}}
profile default {{
  use web, solo, local
}}
endpoint "/mcp" -> default
"#,
        bin = quoted(&everything_bin()),
    ));
    let mcp2 = Mcp2::serve(&routes, &[], &[]).await;
    let full = Mcp2::serve(&routes, &[], &[("MCP2_FAST_PATH", "off")]).await;
    let mut raw = Raw::open(mcp2.url("/mcp"), json!({})).await;
    let mut full_raw = Raw::open(full.url("/mcp"), json!({})).await;

    // The same calls on the fast path (with and without a progress token) and on the full
    // stack.
    let calls = [
        ("echo", json!({"message": "héllo \"world\""})),
        ("get-structured-content", json!({"location": "Chicago"})),
        (
            "get-annotated-message",
            json!({"messageType": "success", "includeImage": true}),
        ),
        ("get-tiny-image", json!({})),
        ("get-sum", json!({"a": "not a number"})),
    ];
    raw.warm().await;
    let before = fast_counts(&mcp2).await;
    for (tool, arguments) in &calls {
        let fast = raw
            .request("tools/call", json!({"name": tool, "arguments": arguments}))
            .await;
        let with_token =
            json!({"name": tool, "arguments": arguments, "_meta": {"progressToken": "p"}});
        let tokened = raw.request("tools/call", with_token.clone()).await;
        let slow = full_raw.request("tools/call", with_token).await;
        let key = if fast.get("error").is_some() {
            "error"
        } else {
            "result"
        };
        assert_eq!(fast[key], slow[key], "{tool}: fast {fast} vs full {slow}");
        assert_eq!(
            tokened[key], slow[key],
            "{tool}: fast {tokened} vs full {slow}"
        );
        assert!(!fast[key].is_null(), "{tool}: {fast}");
    }
    let images = raw
        .request(
            "tools/call",
            json!({"name": "get-tiny-image", "arguments": {}}),
        )
        .await;
    assert!(
        images["result"]["content"]
            .as_array()
            .is_some_and(|c| c.iter().any(|b| b["type"] == "image")),
        "{images}"
    );
    let structured = raw
        .request(
            "tools/call",
            json!({"name": "get-structured-content", "arguments": {"location": "Chicago"}}),
        )
        .await;
    assert!(
        structured["result"]["structuredContent"]["temperature"].is_number(),
        "{structured}"
    );
    let after = fast_counts(&mcp2).await;
    let delta =
        |reason: &str| count(&after, "tools/call", reason) - count(&before, "tools/call", reason);
    assert_eq!(delta(""), 2.0 * calls.len() as f64 + 2.0, "{after:?}");
    assert_eq!(delta("progress token"), 0.0, "{after:?}");

    // Lists: served pre-serialised, equal to the full stack's answer (unknown list parameters
    // send a list there).
    let fast_list = raw.request("tools/list", json!({})).await;
    let slow_list = raw.request("tools/list", json!({"x": 1})).await;
    assert_eq!(fast_list["result"], slow_list["result"]);
    let names: Vec<&str> = fast_list["result"]["tools"]
        .as_array()
        .expect("tools")
        .iter()
        .filter_map(|t| t["name"].as_str())
        .collect();
    assert!(
        names.contains(&"echo") && names.contains(&"solo__echo") && names.contains(&"local__echo"),
        "{names:?}"
    );
    let listed = fast_counts(&mcp2).await;
    assert!(count(&listed, "tools/list", "") >= 1.0, "{listed:?}");
    assert!(
        count(&listed, "tools/list", "unknown list parameter") >= 1.0,
        "{listed:?}"
    );

    // Each fallback: the call still works (or fails exactly as on the full stack) and is
    // counted with its reason.
    let before = fast_counts(&mcp2).await;
    let per_client = raw
        .request(
            "tools/call",
            json!({"name": "solo__echo", "arguments": {"message": "a"}}),
        )
        .await;
    assert_eq!(
        per_client["result"]["content"][0]["text"], "Echo: a",
        "{per_client}"
    );
    let stdio = raw
        .request(
            "tools/call",
            json!({"name": "local__echo", "arguments": {"message": "b"}}),
        )
        .await;
    assert_eq!(stdio["result"]["content"][0]["text"], "Echo: b", "{stdio}");
    let unknown = raw
        .request("tools/call", json!({"name": "ecoh", "arguments": {}}))
        .await;
    let message = unknown["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains("did you mean `echo`"), "{unknown}");
    let after = fast_counts(&mcp2).await;
    for reason in [
        "session per-client",
        "not a connected HTTP upstream",
        "unknown tool",
    ] {
        assert_eq!(
            count(&after, "tools/call", reason) - count(&before, "tools/call", reason),
            1.0,
            "{reason}: {after:?}"
        );
    }

    // A batch, an unknown session, and a client that can be asked for sampling never reach
    // the fast path; the first two are rmcp's to answer.
    let before = fast_counts(&mcp2).await;
    let call = json!({"jsonrpc": "2.0", "id": 99, "method": "tools/call",
        "params": {"name": "echo", "arguments": {"message": "c"}}});
    let _ = raw.post_raw(json!([call.clone()])).await;
    let mut stranger = Raw {
        http: reqwest::Client::new(),
        url: mcp2.url("/mcp"),
        session: "no-such-session".into(),
        next: 1,
    };
    let (status, _) = stranger.post_raw(call.clone()).await;
    assert_eq!(status, 404);
    let mut sampler = Raw::open(mcp2.url("/mcp"), json!({"sampling": {}})).await;
    let sampled = sampler
        .request(
            "tools/call",
            json!({"name": "echo", "arguments": {"message": "d"}}),
        )
        .await;
    assert_eq!(sampled["result"]["content"][0]["text"], "Echo: d");
    let after = fast_counts(&mcp2).await;
    assert_eq!(
        count(&after, "tools/call", "") - count(&before, "tools/call", ""),
        0.0,
        "{after:?}"
    );
    assert_eq!(
        count(&after, "tools/call", "client answers server requests")
            - count(&before, "tools/call", "client answers server requests"),
        1.0
    );
    everything.stop().await;
}

/// With a proxy variable in mcp2's environment the fast path leaves through the upstream's
/// reqwest client (which applies the proxy rules; hyper's client would bypass them): here
/// `NO_PROXY` exempts the loopback upstream, so the calls arrive, still on the fast path and
/// with the same answers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_a_proxy_in_the_environment_fast_calls_keep_the_proxy_rules() {
    let everything = spawn_everything("streamableHttp").await;
    let routes = Routes::new(&format!(
        "upstream web {{\n  http \"{}\"\n  timeout 20s\n}}\nprofile default {{ use web }}\nendpoint \"/mcp\" -> default\n",
        everything.url("/mcp")
    ));
    let proxy_env = [
        ("HTTP_PROXY", "http://127.0.0.1:9"),
        ("NO_PROXY", "127.0.0.1,localhost"),
    ];
    let mcp2 = Mcp2::serve(&routes, &[], &proxy_env).await;
    let mut raw = Raw::open(mcp2.url("/mcp"), json!({})).await;
    raw.warm().await;
    let before = fast_counts(&mcp2).await;
    for meta in [json!({}), json!({"progressToken": 7})] {
        let answer = raw
            .request(
                "tools/call",
                json!({"name": "echo", "arguments": {"message": "via reqwest"}, "_meta": meta}),
            )
            .await;
        assert_eq!(
            answer["result"]["content"][0]["text"], "Echo: via reqwest",
            "{answer}"
        );
    }
    let after = fast_counts(&mcp2).await;
    assert_eq!(
        count(&after, "tools/call", "") - count(&before, "tools/call", ""),
        2.0,
        "{after:?}"
    );
    everything.stop().await;
}
