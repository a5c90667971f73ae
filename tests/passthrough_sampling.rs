//! Server→client requests through the real `mcp2` binary: sampling from the reference server
//! reaches the client whose call caused it, with several clients connected at once, for both
//! session mappings (`session per-client` over stdio, `shared` over Streamable HTTP where the
//! upstream says which request it belongs to), and is refused, never misrouted, when a shared
//! connection cannot tell. Needs `scripts/install-test-deps`.

mod support;

use std::sync::Arc;
use std::time::Duration;

use rmcp::model::{CallToolRequestParams, CallToolResult};
use rmcp::service::{RoleClient, RunningService};
use serde_json::json;
use support::hub::{Hub, TestClient};
use support::*;
use tokio::sync::Notify;

const LIMIT: Duration = Duration::from_secs(30);

type Client = RunningService<RoleClient, TestClient>;

async fn sample(client: &Client, prompt: &str) -> Result<CallToolResult, String> {
    let args = json!({ "prompt": prompt, "maxTokens": 10 });
    let params = CallToolRequestParams::new("trigger-sampling-request")
        .with_arguments(args.as_object().cloned().unwrap_or_default());
    let result = tokio::time::timeout(LIMIT, client.call_tool(params))
        .await
        .map_err(|_| "timed out".to_string())?;
    result.map_err(|e| e.to_string())
}

fn text(result: &CallToolResult) -> String {
    serde_json::to_string(&result.content).unwrap()
}

/// Both clients sample at the same time; each gets its own answer and sees only its prompt.
async fn two_clients_sample_concurrently(hub: &Hub) {
    let url = hub.url("/mcp");
    let mut a = TestClient::new("alice");
    let mut b = TestClient::new("bob");
    // Each answer waits for the other client's request to arrive too, so both calls are
    // certainly in flight at once.
    let (hold_a, hold_b) = (Arc::new(Notify::new()), Arc::new(Notify::new()));
    a.hold = Some(hold_a.clone());
    b.hold = Some(hold_b.clone());
    let (ca, cb) = (a.connect(&url).await, b.connect(&url).await);
    let (asked_a, asked_b) = (a.asked.clone(), b.asked.clone());
    let release = tokio::spawn(async move {
        let both = async {
            asked_a.notified().await;
            asked_b.notified().await;
        };
        let _ = tokio::time::timeout(LIMIT, both).await;
        hold_a.notify_one();
        hold_b.notify_one();
    });
    let (ra, rb) = tokio::join!(sample(&ca, "prompt-of-alice"), sample(&cb, "prompt-of-bob"));
    release.await.unwrap();
    let (ra, rb) = (ra.expect("alice's call"), rb.expect("bob's call"));
    let (ta, tb) = (text(&ra), text(&rb));
    assert!(ta.contains("answer from alice"), "{ta}\n{}", hub.log());
    assert!(!ta.contains("bob"), "{ta}");
    assert!(tb.contains("answer from bob"), "{tb}");
    assert!(!tb.contains("alice"), "{tb}");
    let (sa, sb) = (a.seen.lock().unwrap(), b.seen.lock().unwrap());
    assert_eq!(sa.sampling.len(), 1, "{:?}", sa.sampling);
    assert!(
        sa.sampling[0].contains("prompt-of-alice"),
        "{:?}",
        sa.sampling
    );
    assert_eq!(sb.sampling.len(), 1, "{:?}", sb.sampling);
    assert!(
        sb.sampling[0].contains("prompt-of-bob"),
        "{:?}",
        sb.sampling
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn per_client_stdio_sampling_reaches_each_client_and_children_follow_sessions() {
    init_tracing();
    let routes = format!(
        "upstream everything {{\n  stdio {:?}\n  session per-client\n}}\nprofile default {{ use everything }}\n",
        everything_bin().display().to_string()
    );
    let hub = Hub::start("per_client_stdio", &routes).await;
    // The registry's own connection (lists, capabilities) is the one child before any client.
    let shared_only = hub.children().len();
    assert_eq!(shared_only, 1, "{:?}", hub.children());
    two_clients_sample_concurrently(&hub).await;
    // Alice and Bob have left: their children go with them.
    let back = eventually(LIMIT, || hub.children().len() == shared_only).await;
    assert!(
        back,
        "children left behind: {:?}\n{}",
        hub.children(),
        hub.log()
    );

    // A client gets its child on first use and takes it along when it leaves.
    let url = hub.url("/mcp");
    let c = TestClient::new("carol");
    let client = c.connect(&url).await;
    assert_eq!(hub.children().len(), shared_only, "opened lazily");
    sample(&client, "hello").await.expect("carol's call");
    assert_eq!(hub.children().len(), shared_only + 1, "{}", hub.log());
    client.cancel().await.expect("carol leaves");
    let gone = eventually(LIMIT, || hub.children().len() == shared_only).await;
    assert!(
        gone,
        "carol's child still runs: {:?}\n{}",
        hub.children(),
        hub.log()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shared_http_upstream_attributes_sampling_by_its_stream() {
    init_tracing();
    let server = spawn_everything("streamableHttp").await;
    let routes = format!(
        "upstream everything {{ http \"{}\" }}\nprofile default {{ use everything }}\n",
        server.url("/mcp")
    );
    let hub = Hub::start("shared_http", &routes).await;
    two_clients_sample_concurrently(&hub).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shared_stdio_refuses_what_it_cannot_attribute_and_never_misroutes() {
    init_tracing();
    let routes = format!(
        "upstream everything {{ stdio {:?} }}\nprofile default {{ use everything }}\n",
        everything_bin().display().to_string()
    );
    let hub = Hub::start("shared_stdio", &routes).await;
    let url = hub.url("/mcp");
    let mut a = TestClient::new("alice");
    let hold = Arc::new(Notify::new());
    a.hold = Some(hold.clone());
    let b = TestClient::new("bob");
    let (ca, cb) = (a.connect(&url).await, b.connect(&url).await);

    // Alice alone in flight: her sampling request is hers without doubt.
    let asked = a.asked.clone();
    let alice = tokio::spawn(async move { sample(&ca, "prompt-of-alice").await });
    tokio::time::timeout(LIMIT, asked.notified())
        .await
        .expect("alice is asked");
    // Bob's request now shares the connection with alice's: stdio says nothing about which
    // request a sampling request belongs to, so it is refused with the way out named.
    let bob = sample(&cb, "prompt-of-bob").await;
    let bob_text = match &bob {
        Ok(r) => text(r),
        Err(e) => e.clone(),
    };
    assert!(
        bob_text.contains("session per-client"),
        "bob: {bob_text}\n{}",
        hub.log()
    );
    assert!(b.seen.lock().unwrap().sampling.is_empty());
    hold.notify_one();
    let alice = alice.await.unwrap().expect("alice's call");
    assert!(text(&alice).contains("answer from alice"));
    assert_eq!(a.seen.lock().unwrap().sampling.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rmcps_default_client_is_negotiated_down_and_samples() {
    init_tracing();
    let routes = format!(
        "upstream everything {{ stdio {:?} }}\nprofile default {{ use everything }}\n",
        everything_bin().display().to_string()
    );
    let hub = Hub::start("default_rmcp", &routes).await;
    // rmcp's client asks for 2026-07-28 in `initialize`; that revision has no `initialize`, so
    // the session settles on the newest one that does, where requests to the client are allowed.
    let mut a = TestClient::new("nova");
    a.protocol = rmcp::model::ProtocolVersion::default();
    assert_eq!(a.protocol.as_str(), "2026-07-28");
    let client = a.connect(&hub.url("/mcp")).await;
    let info = client.peer_info().expect("server info");
    assert_eq!(info.protocol_version.as_str(), "2025-11-25");
    let result = sample(&client, "prompt-of-nova")
        .await
        .expect("nova's call");
    let t = text(&result);
    assert!(t.contains("answer from nova"), "{t}\n{}", hub.log());
    assert_eq!(a.seen.lock().unwrap().sampling.len(), 1);
}

async fn call_text(client: &Client, tool: &str, args: serde_json::Value) -> String {
    let params = CallToolRequestParams::new(tool.to_string())
        .with_arguments(args.as_object().cloned().unwrap_or_default());
    let result = tokio::time::timeout(LIMIT, client.call_tool(params))
        .await
        .unwrap_or_else(|_| panic!("{tool} timed out"))
        .unwrap_or_else(|e| panic!("{tool}: {e}"));
    text(&result)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn roots_and_elicitation_reach_each_client_of_a_per_client_upstream() {
    init_tracing();
    let routes = format!(
        "upstream everything {{\n  stdio {:?}\n  session per-client\n}}\nprofile default {{ use everything }}\n",
        everything_bin().display().to_string()
    );
    let hub = Hub::start("roots", &routes).await;
    let url = hub.url("/mcp");
    let (a, b) = (TestClient::new("alice"), TestClient::new("bob"));
    let (ca, cb) = (a.connect(&url).await, b.connect(&url).await);
    let (ra, rb) = tokio::join!(
        call_text(&ca, "get-roots-list", json!({})),
        call_text(&cb, "get-roots-list", json!({}))
    );
    assert!(
        ra.contains("file:///roots/alice") && !ra.contains("bob"),
        "{ra}\n{}",
        hub.log()
    );
    assert!(
        rb.contains("file:///roots/bob") && !rb.contains("alice"),
        "{rb}"
    );
    assert!(a.seen.lock().unwrap().roots >= 1 && b.seen.lock().unwrap().roots >= 1);

    let ea = call_text(&ca, "trigger-elicitation-request", json!({})).await;
    assert!(ea.to_lowercase().contains("decline"), "{ea}");
    assert_eq!(a.seen.lock().unwrap().elicitations.len(), 1);
    assert!(b.seen.lock().unwrap().elicitations.is_empty());
}
