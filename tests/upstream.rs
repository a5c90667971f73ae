//! The upstream registry against real MCP servers on 127.0.0.1: the reference server over stdio
//! and Streamable HTTP, the Python SDK over legacy SSE and behind credentials. Needs
//! `scripts/install-test-deps`.

mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use indexmap::IndexMap;
use mcp2::plan::{TransportSpec, UpstreamId, UpstreamSpec};
use mcp2::upstream::{
    ReconcileReport, Registry, RegistryOptions, UpstreamEvent, UpstreamHandle, UpstreamState,
};
use rmcp::model::{CallToolRequestParams, ReadResourceRequestParams, ServerNotification};
use rmcp::service::{Peer, RoleClient};
use serde_json::json;
use support::*;
use tokio::sync::broadcast;

const READY: Duration = Duration::from_secs(20);

fn registry() -> (Registry, broadcast::Receiver<UpstreamEvent>) {
    init_tracing();
    let (tx, rx) = broadcast::channel(256);
    (Registry::new(tx), rx)
}

fn map(specs: &[Arc<UpstreamSpec>]) -> IndexMap<UpstreamId, Arc<UpstreamSpec>> {
    specs.iter().map(|s| (s.id.clone(), s.clone())).collect()
}

async fn call(peer: &Peer<RoleClient>, tool: &str, args: serde_json::Value) -> String {
    let args = args.as_object().cloned().unwrap_or_default();
    let result = peer
        .call_tool(CallToolRequestParams::new(tool.to_string()).with_arguments(args))
        .await
        .unwrap_or_else(|e| panic!("calling {tool}: {e}"));
    serde_json::to_string(&result).unwrap()
}

async fn tool_names(peer: &Peer<RoleClient>) -> Vec<String> {
    let tools = peer.list_all_tools().await.expect("tools/list");
    tools.iter().map(|t| t.name.to_string()).collect()
}

async fn connected(registry: &Registry, id: &str) -> (UpstreamHandle, Peer<RoleClient>) {
    let handle = registry.get(id).expect("registered");
    let peer = match handle.ready(READY).await {
        Ok(peer) => peer,
        Err(e) => panic!("{id} did not connect: {e}"),
    };
    (handle, peer)
}

async fn wait_down(handle: &UpstreamHandle, limit: Duration) -> String {
    let mut watch = handle.watch_state();
    let state = tokio::time::timeout(
        limit,
        watch.wait_for(|s| matches!(s, UpstreamState::Down { .. })),
    )
    .await
    .unwrap_or_else(|_| panic!("not down within {limit:?}: {:?}", handle.state()));
    match state {
        UpstreamState::Down { error, .. } => error,
        other => panic!("expected down, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stdio_reference_server_lists_calls_and_notifies() {
    let (registry, mut events) = registry();
    let env = [("MCP2_FIXTURE_VAR", "configured-value")];
    let spec = spec("everything", stdio(&everything_bin(), &[], &env), &[]);
    let report = registry.reconcile(&map(&[spec])).await;
    assert_eq!(report.started, vec![UpstreamId::new("everything")]);

    let (handle, peer) = connected(&registry, "everything").await;
    assert!(handle.pid().is_some_and(process_exists));
    let info = handle.server_info().expect("server info while connected");
    assert_eq!(info.protocol_version.to_string(), "2025-11-25");
    assert!(info.capabilities.tools.is_some());

    // The gateway caches lists itself; rmcp's own (stale-serving) cache must be off.
    assert!(!peer.response_cache_config().await.enabled);
    let names = tool_names(&peer).await;
    assert!(names.iter().any(|n| n == "echo"), "{names:?}");
    assert!(
        call(&peer, "echo", json!({"message": "over stdio"}))
            .await
            .contains("Echo: over stdio")
    );

    // The child sees the configured variables and the safe set, nothing else of ours
    // (cargo gives this test process CARGO_PKG_NAME).
    let env = call(&peer, "get-env", json!({})).await;
    assert!(
        env.contains("MCP2_FIXTURE_VAR") && env.contains("configured-value"),
        "{env}"
    );
    assert!(env.contains("PATH"), "{env}");
    assert!(std::env::var_os("CARGO_PKG_NAME").is_some());
    assert!(!env.contains("CARGO_PKG_NAME"), "{env}");

    // rmcp gives every request a progress token; the server reports progress on it, and the
    // notification must come out of the registry's events channel.
    let done = call(
        &peer,
        "trigger-long-running-operation",
        json!({"duration": 0.2, "steps": 2}),
    )
    .await;
    assert!(done.contains("completed"), "{done}");
    let progress = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            match events.recv().await {
                Ok(UpstreamEvent::Notification {
                    upstream,
                    notification: ServerNotification::ProgressNotification(n),
                    ..
                }) => {
                    break (upstream, n.params.progress);
                }
                Ok(_) => continue,
                Err(e) => panic!("events: {e}"),
            }
        }
    })
    .await
    .expect("a progress notification");
    assert_eq!(progress.0.as_str(), "everything");
    assert!(progress.1 >= 1.0);

    let pid = handle.pid().unwrap();
    registry.shutdown().await;
    assert!(matches!(handle.state(), UpstreamState::Stopped));
    assert!(
        !process_exists(pid),
        "the child must be killed and reaped by shutdown"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streamable_http_reference_server_lists_and_calls() {
    let server = spawn_everything("streamableHttp").await;
    let (registry, _events) = registry();
    let url = server.url("/mcp");
    let spec = spec("http", TransportSpec::Http { url }, &[("X-Trace", "t-1")]);
    registry.reconcile(&map(&[spec])).await;

    let (handle, peer) = connected(&registry, "http").await;
    assert_eq!(handle.pid(), None);
    assert_eq!(
        handle.server_info().unwrap().protocol_version.to_string(),
        "2025-11-25"
    );
    let names = tool_names(&peer).await;
    assert!(names.iter().any(|n| n == "echo"), "{names:?}");
    for i in 0..3 {
        let text = call(&peer, "echo", json!({"message": format!("http {i}")})).await;
        assert!(text.contains(&format!("Echo: http {i}")), "{text}");
    }
    assert_eq!(handle.stats().session_reinits, 0);
    registry.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn legacy_sse_python_server_serves_tools_prompts_and_resources() {
    let server = spawn_python_server("legacy_sse_server.py", &[]).await;
    let (registry, _events) = registry();
    let spec = spec(
        "legacy",
        TransportSpec::Sse {
            url: server.url("/sse"),
        },
        &[],
    );
    registry.reconcile(&map(&[spec])).await;

    let (_handle, peer) = connected(&registry, "legacy").await;
    let names = tool_names(&peer).await;
    assert!(
        names.contains(&"echo".to_string()) && names.contains(&"add".to_string()),
        "{names:?}"
    );
    assert!(
        call(&peer, "echo", json!({"message": "over sse"}))
            .await
            .contains("Echo: over sse")
    );
    assert!(
        call(&peer, "add", json!({"a": 40, "b": 2}))
            .await
            .contains("42")
    );
    let prompts = peer.list_all_prompts().await.expect("prompts/list");
    assert!(prompts.iter().any(|p| p.name == "greet"));
    let resource = peer
        .read_resource(ReadResourceRequestParams::new("fixture://readme"))
        .await
        .expect("resources/read");
    assert!(
        serde_json::to_string(&resource)
            .unwrap()
            .contains("legacy SSE fixture readme")
    );

    // The server going away ends the stream: the upstream is down, not silently stale.
    let (handle, _) = connected(&registry, "legacy").await;
    drop(server);
    let error = wait_down(&handle, Duration::from_secs(3)).await;
    assert!(error.contains("closed"), "{error}");
    registry.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn configured_headers_reach_an_upstream_that_requires_them() {
    let token = format!("tok-{}", std::process::id());
    let key = format!("key-{}", free_port());
    let server = spawn_python_server(
        "auth_http_server.py",
        &[("EXPECTED_TOKEN", &token), ("EXPECTED_KEY", &key)],
    )
    .await;
    let url = server.url("/mcp");
    let bearer = format!("Bearer {token}");
    let good = spec(
        "good",
        TransportSpec::Http { url: url.clone() },
        &[("Authorization", &bearer), ("X-API-Key", &key)],
    );
    let missing = spec("missing", TransportSpec::Http { url: url.clone() }, &[]);
    let wrong = spec(
        "wrong",
        TransportSpec::Http { url },
        &[
            ("Authorization", "Bearer not-the-token-123"),
            ("X-API-Key", "wrong-key-456"),
        ],
    );
    let (registry, _events) = registry();
    registry.reconcile(&map(&[good, missing, wrong])).await;

    let (_handle, peer) = connected(&registry, "good").await;
    let expected = format!("authenticated key_sha256={}", sha256_hex12(key.as_bytes()));
    assert!(call(&peer, "whoami", json!({})).await.contains(&expected));

    for id in ["missing", "wrong"] {
        let handle = registry.get(id).unwrap();
        let error = wait_down(&handle, Duration::from_secs(10)).await;
        assert!(error.contains("401"), "{id}: {error}");
        for secret in [
            "not-the-token-123",
            "wrong-key-456",
            token.as_str(),
            key.as_str(),
        ] {
            assert!(
                !error.contains(secret),
                "{id}: error leaks a credential: {error}"
            );
        }
        assert!(handle.peer().is_none());
    }
    registry.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_stdio_child_is_down_within_a_second_then_back_with_a_new_pid() {
    let (registry, _events) = registry();
    let spec = spec("crashy", stdio(&everything_bin(), &[], &[]), &[]);
    registry.reconcile(&map(&[spec])).await;
    let (handle, _peer) = connected(&registry, "crashy").await;
    let first = handle.pid().expect("pid");

    let killed_at = Instant::now();
    let status = std::process::Command::new("kill")
        .args(["-9", &first.to_string()])
        .status();
    assert!(status.expect("run kill").success());
    let error = wait_down(&handle, Duration::from_secs(1)).await;
    let down_after = killed_at.elapsed();
    assert!(
        down_after < Duration::from_secs(1),
        "down after {down_after:?}"
    );
    assert!(
        error.contains("signal 9") || error.contains("closed"),
        "{error}"
    );

    let peer = handle
        .ready(Duration::from_secs(15))
        .await
        .expect("reconnected");
    let second = handle.pid().expect("new pid");
    assert_ne!(first, second);
    assert!(!process_exists(first), "the killed child must be reaped");
    assert!(
        call(&peer, "echo", json!({"message": "again"}))
            .await
            .contains("Echo: again")
    );
    let stats = handle.stats();
    assert_eq!((stats.connects, stats.failures), (2, 1));
    registry.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconcile_keeps_unchanged_restarts_changed_and_drains_removed() {
    init_tracing();
    let (tx, _events) = broadcast::channel(256);
    let options = RegistryOptions {
        drain_timeout: Duration::from_millis(1500),
        ..RegistryOptions::default()
    };
    let registry = Registry::with_options(tx, options);
    let a = spec("a", stdio(&everything_bin(), &[], &[]), &[]);
    let b = spec("b", stdio(&everything_bin(), &[], &[("MODE", "one")]), &[]);
    registry.reconcile(&map(&[a.clone(), b.clone()])).await;
    let (a1, _) = connected(&registry, "a").await;
    let (b1, _) = connected(&registry, "b").await;
    let (a_pid, b_pid) = (a1.pid().unwrap(), b1.pid().unwrap());

    // Same specs (new Arcs, as a reload compiles them): nothing moves.
    let again = registry
        .reconcile(&map(&[Arc::new((*a).clone()), Arc::new((*b).clone())]))
        .await;
    assert_eq!(
        again,
        ReconcileReport {
            kept: vec![UpstreamId::new("a"), UpstreamId::new("b")],
            ..Default::default()
        }
    );
    assert_eq!(registry.get("a").unwrap().pid(), Some(a_pid));
    assert_eq!(registry.get("a").unwrap().instance(), a1.instance());

    // `b` changes (its environment): a new process; the old one is stopped and reaped.
    let b2_spec = spec("b", stdio(&everything_bin(), &[], &[("MODE", "two")]), &[]);
    let changed = registry.reconcile(&map(&[a.clone(), b2_spec])).await;
    assert_eq!(changed.restarted, vec![UpstreamId::new("b")]);
    assert_eq!(changed.kept, vec![UpstreamId::new("a")]);
    let (b2, _) = connected(&registry, "b").await;
    assert_ne!(b2.pid(), Some(b_pid));
    assert!(
        eventually(Duration::from_secs(8), || !process_exists(b_pid)).await,
        "old b not reaped"
    );
    assert!(matches!(b1.state(), UpstreamState::Stopped));
    assert_eq!(registry.get("a").unwrap().pid(), Some(a_pid));

    // Both are removed while requests are in flight: `a`'s ends soon, `b`'s never does.
    let in_flight = a1.begin_request();
    let stuck = b2.begin_request();
    let removed = registry.reconcile(&map(&[])).await;
    assert_eq!(
        removed.stopped,
        vec![UpstreamId::new("a"), UpstreamId::new("b")]
    );
    assert!(registry.get("a").is_none());
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        a1.state().is_connected(),
        "a must drain before it stops: {:?}",
        a1.state()
    );
    let peer = a1.peer().expect("still usable while draining");
    assert!(
        call(&peer, "echo", json!({"message": "draining"}))
            .await
            .contains("Echo: draining")
    );
    drop(in_flight);
    assert!(
        eventually(Duration::from_secs(8), || matches!(
            a1.state(),
            UpstreamState::Stopped
        ))
        .await
    );
    assert!(
        eventually(Duration::from_secs(2), || !process_exists(a_pid)).await,
        "a not reaped"
    );
    // The drain time is bounded: `b` stops with its request still in flight.
    assert!(
        eventually(Duration::from_secs(8), || matches!(
            b2.state(),
            UpstreamState::Stopped
        ))
        .await
    );
    assert_eq!(b2.in_flight(), 1);
    drop(stuck);
    registry.shutdown().await;
}

/// The first 12 hex digits of SHA-256, as the auth fixture reports them (computed by Python's
/// hashlib on our side too, so the test checks what the server saw, not our own arithmetic).
fn sha256_hex12(data: &[u8]) -> String {
    let out = std::process::Command::new(python())
        .args([
            "-c",
            "import hashlib,sys; print(hashlib.sha256(sys.stdin.buffer.read()).hexdigest()[:12])",
        ])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            use std::io::Write;
            child.stdin.take().unwrap().write_all(data)?;
            child.wait_with_output()
        })
        .expect("python hashlib");
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_vanished_http_upstream_is_noticed_and_reconnected_when_back() {
    init_tracing();
    let (tx, _events) = broadcast::channel(256);
    let options = RegistryOptions {
        http_liveness_interval: Some(Duration::from_millis(300)),
        ..RegistryOptions::default()
    };
    let registry = Registry::with_options(tx, options);
    let server = spawn_everything("streamableHttp").await;
    let port = server.port;
    let spec = spec(
        "flaky",
        TransportSpec::Http {
            url: server.url("/mcp"),
        },
        &[],
    );
    registry.reconcile(&map(&[spec])).await;
    let (handle, _peer) = connected(&registry, "flaky").await;

    server.stop().await;
    let error = wait_down(&handle, Duration::from_secs(3)).await;
    assert!(error.contains("ping"), "{error}");

    // Back on the same port: a new session, without any reload.
    let _server = spawn_everything_on("streamableHttp", port).await;
    let peer = handle
        .ready(Duration::from_secs(15))
        .await
        .expect("reconnected");
    assert!(
        call(&peer, "echo", json!({"message": "back"}))
            .await
            .contains("Echo: back")
    );
    assert_eq!(handle.stats().connects, 2);
    registry.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_http_session_is_reinitialised_with_the_headers_and_counted() {
    let (token, key) = ("reinit-token-1", "reinit-key-2");
    let creds = [("EXPECTED_TOKEN", token), ("EXPECTED_KEY", key)];
    let server = spawn_python_server("auth_http_server.py", &creds).await;
    let port = server.port;
    init_tracing();
    let (tx, _events) = broadcast::channel(256);
    let options = RegistryOptions {
        http_liveness_interval: None,
        ..RegistryOptions::default()
    };
    let registry = Registry::with_options(tx, options);
    let bearer = format!("Bearer {token}");
    let spec = spec(
        "auth",
        TransportSpec::Http {
            url: server.url("/mcp"),
        },
        &[("Authorization", &bearer), ("X-API-Key", key)],
    );
    registry.reconcile(&map(&[spec])).await;
    let (handle, peer) = connected(&registry, "auth").await;
    assert!(
        call(&peer, "whoami", json!({}))
            .await
            .contains("authenticated")
    );

    // A restarted server has forgotten our session and answers 404: rmcp starts a new one.
    server.stop().await;
    let _server = spawn_python_server_on("auth_http_server.py", port, &creds).await;
    let text = call(&peer, "whoami", json!({})).await;
    assert!(text.contains("authenticated"), "{text}");
    assert_eq!(handle.stats().session_reinits, 1);
    assert!(handle.state().is_connected());
    registry.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn legacy_sse_reference_server_calls_echo() {
    let server = spawn_everything("sse").await;
    let (registry, _events) = registry();
    let spec = spec(
        "old",
        TransportSpec::Sse {
            url: server.url("/sse"),
        },
        &[],
    );
    registry.reconcile(&map(&[spec])).await;
    let (_handle, peer) = connected(&registry, "old").await;
    assert!(
        call(&peer, "echo", json!({"message": "node sse"}))
            .await
            .contains("Echo: node sse")
    );
    registry.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failing_upstreams_back_off_and_leave_the_others_alone() {
    let (registry, _events) = registry();
    let healthy = spec("healthy", stdio(&everything_bin(), &[], &[]), &[]);
    let crashing = spec(
        "crashing",
        stdio(std::path::Path::new("false"), &[], &[]),
        &[],
    );
    let missing = spec(
        "missing",
        stdio(
            std::path::Path::new("/nonexistent/mcp-server"),
            &[],
            &[("TOKEN", "s3cret-env")],
        ),
        &[],
    );
    registry
        .reconcile(&map(&[healthy, crashing, missing]))
        .await;
    let (_handle, peer) = connected(&registry, "healthy").await;

    tokio::time::sleep(Duration::from_millis(2500)).await;
    let crashing = registry.get("crashing").unwrap();
    let failures = crashing.stats().failures;
    // 250–500 ms, then 0.5–1 s, then 1–2 s…: a handful of restarts, not a spin.
    assert!((2..=5).contains(&failures), "{failures} failures in 2.5 s");
    match crashing.state() {
        UpstreamState::Down {
            error,
            since,
            retry_at,
            attempts,
        } => {
            assert!(error.contains("exit status 1"), "{error}");
            assert!(retry_at.duration_since(since).unwrap() >= Duration::from_millis(250));
            assert_eq!(u64::from(attempts), failures);
        }
        // Between two attempts it may be starting again.
        UpstreamState::Connecting => {}
        other => panic!("crashing: {other:?}"),
    }
    let error = wait_down(&registry.get("missing").unwrap(), Duration::from_secs(3)).await;
    assert!(
        error.contains("could not start `/nonexistent/mcp-server`"),
        "{error}"
    );
    assert!(!error.contains("s3cret-env"));

    assert!(registry.get("healthy").unwrap().state().is_connected());
    assert!(
        call(&peer, "echo", json!({"message": "fine"}))
            .await
            .contains("Echo: fine")
    );
    registry.shutdown().await;
}
