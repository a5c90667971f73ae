//! Notifications and cancellation through the real `mcp2` binary, with several clients at
//! once: progress under each client's own token, `resources/updated` only to subscribers,
//! logging filtered by each client's own level, `list_changed` only to the clients whose view
//! changed, and a client's cancellation reaching the upstream. Needs
//! `scripts/install-test-deps`.
#![allow(deprecated)] // logging and resources/subscribe are deprecated by SEP-2577; still in use.

mod support;

use std::time::Duration;

use rmcp::model::{
    CallToolRequest, CallToolRequestParams, ClientRequest, LoggingLevel, SetLevelRequestParams,
    SubscribeRequestParams,
};
use rmcp::service::{PeerRequestOptions, RoleClient, RunningService};
use serde_json::{Value, json};
use support::hub::{Hub, TestClient};
use support::*;

const LIMIT: Duration = Duration::from_secs(20);

type Client = RunningService<RoleClient, TestClient>;

async fn call(client: &Client, tool: &str, args: Value) -> String {
    let params = CallToolRequestParams::new(tool.to_string())
        .with_arguments(args.as_object().cloned().unwrap_or_default());
    let result = tokio::time::timeout(LIMIT, client.call_tool(params))
        .await
        .unwrap_or_else(|_| panic!("{tool} timed out"))
        .unwrap_or_else(|e| panic!("{tool}: {e}"));
    serde_json::to_string(&result.content).unwrap()
}

fn everything_routes() -> String {
    format!(
        "upstream everything {{ stdio {:?} }}\nprofile default {{ use everything }}\n",
        everything_bin().display().to_string()
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn progress_goes_to_each_client_under_its_own_token() {
    init_tracing();
    let hub = Hub::start("progress", &everything_routes()).await;
    let url = hub.url("/mcp");
    let (a, b) = (TestClient::new("alice"), TestClient::new("bob"));
    let (ca, cb) = (a.connect(&url).await, b.connect(&url).await);
    let args = json!({ "duration": 0.6, "steps": 3 });
    let (ra, rb) = tokio::join!(
        call(&ca, "trigger-long-running-operation", args.clone()),
        call(&cb, "trigger-long-running-operation", args)
    );
    assert!(
        ra.contains("completed") && rb.contains("completed"),
        "{ra} {rb}"
    );
    for client in [&a, &b] {
        let arrived = eventually(LIMIT, || {
            client
                .seen
                .lock()
                .unwrap()
                .of("notifications/progress")
                .len()
                >= 3
        })
        .await;
        let progress = client.seen.lock().unwrap().of("notifications/progress");
        assert!(arrived, "{}: {progress:?}\n{}", client.name, hub.log());
        assert_eq!(
            progress.len(),
            3,
            "{}: only its own: {progress:?}",
            client.name
        );
        let steps: Vec<f64> = progress
            .iter()
            .map(|p| p["progress"].as_f64().unwrap())
            .collect();
        assert_eq!(steps, [1.0, 2.0, 3.0], "{}", client.name);
        let token = &progress[0]["progressToken"];
        assert!(progress.iter().all(|p| &p["progressToken"] == token));
    }
    // rmcp numbers both clients' tokens alike; each still got exactly its own three.
    let ta = a.seen.lock().unwrap().of("notifications/progress")[0]["progressToken"].clone();
    let tb = b.seen.lock().unwrap().of("notifications/progress")[0]["progressToken"].clone();
    assert_eq!(ta, tb, "the same token value on both clients");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn updates_reach_subscribers_only_and_logs_follow_each_clients_level() {
    init_tracing();
    let hub = Hub::start("subscriptions", &everything_routes()).await;
    let url = hub.url("/mcp");
    let (a, b) = (TestClient::new("alice"), TestClient::new("bob"));
    let (ca, cb) = (a.connect(&url).await, b.connect(&url).await);
    let resources = ca.list_all_resources().await.expect("resources/list");
    let (ua, ub) = (resources[0].uri.clone(), resources[1].uri.clone());

    // Alice wants everything, Bob only emergencies. mcp2 asks the shared upstream for the most
    // verbose level any client wants and filters per client itself.
    ca.set_level(SetLevelRequestParams::new(LoggingLevel::Debug))
        .await
        .expect("alice setLevel");
    cb.set_level(SetLevelRequestParams::new(LoggingLevel::Emergency))
        .await
        .expect("bob setLevel");
    ca.subscribe(SubscribeRequestParams::new(ua.clone()))
        .await
        .expect("alice subscribes");
    cb.subscribe(SubscribeRequestParams::new(ub.clone()))
        .await
        .expect("bob subscribes");
    // server-everything sends an update for every subscribed URI at once.
    call(&ca, "toggle-subscriber-updates", json!({})).await;
    let updated = |c: &TestClient| {
        c.seen
            .lock()
            .unwrap()
            .of("notifications/resources/updated")
            .iter()
            .map(|p| p["uri"].as_str().unwrap().to_string())
            .collect::<Vec<_>>()
    };
    assert!(eventually(LIMIT, || !updated(&a).is_empty() && !updated(&b).is_empty()).await);
    assert!(updated(&a).iter().all(|u| *u == ua), "{:?}", updated(&a));
    assert!(updated(&b).iter().all(|u| *u == ub), "{:?}", updated(&b));

    // Each subscribe made the upstream log at `info`: Alice sees both, Bob neither.
    let logs = |c: &TestClient| c.seen.lock().unwrap().of("notifications/message");
    assert!(
        eventually(LIMIT, || logs(&a)
            .iter()
            .filter(|l| l["data"].to_string().contains("Subscribe"))
            .count()
            >= 2)
        .await,
        "alice: {:?}\n{}",
        logs(&a),
        hub.log()
    );
    assert!(
        logs(&b).iter().all(|l| l["level"] == "emergency"),
        "bob: {:?}",
        logs(&b)
    );
    call(&ca, "toggle-subscriber-updates", json!({})).await;
}

fn fixture_routes() -> String {
    format!(
        "upstream fx {{ stdio {:?} {:?} }}\n\
         upstream everything {{ stdio {:?} }}\n\
         profile default {{ use fx }}\n\
         profile narrow {{\n  use fx\n  deny tool fx/fresh\n}}\n\
         profile other {{ use everything }}\n\
         endpoint \"/mcp\" -> default\n\
         endpoint \"/narrow\" -> narrow\n\
         endpoint \"/other\" -> other\n",
        python().display().to_string(),
        fixture_server("passthrough_server.py")
            .display()
            .to_string(),
        everything_bin().display().to_string(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_changed_reaches_only_clients_whose_view_changed() {
    init_tracing();
    let hub = Hub::start("list_changed", &fixture_routes()).await;
    let (a, n, o) = (
        TestClient::new("alice"),
        TestClient::new("nora"),
        TestClient::new("otto"),
    );
    let ca = a.connect(&hub.url("/mcp")).await;
    let cn = n.connect(&hub.url("/narrow")).await;
    let co = o.connect(&hub.url("/other")).await;
    for c in [&ca, &cn, &co] {
        c.list_all_tools().await.expect("tools/list");
    }
    let changed = |c: &TestClient| {
        c.seen
            .lock()
            .unwrap()
            .of("notifications/tools/list_changed")
            .len()
    };
    let before = (changed(&a), changed(&n), changed(&o));
    call(&ca, "grow", json!({ "name": "fresh" })).await;
    assert!(
        eventually(LIMIT, || changed(&a) > before.0).await,
        "alice was not told\n{}",
        hub.log()
    );
    let names: Vec<String> = ca
        .list_all_tools()
        .await
        .unwrap()
        .iter()
        .map(|t| t.name.to_string())
        .collect();
    assert!(names.contains(&"fresh".to_string()), "{names:?}");
    // Nora's rules hide the new tool and Otto's profile does not use the upstream.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(changed(&n), before.1, "nora's view did not change");
    assert_eq!(changed(&o), before.2, "otto's view did not change");
    drop((cn, co));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancelled_call_is_cancelled_upstream() {
    init_tracing();
    let hub = Hub::start("cancel", &fixture_routes()).await;
    let a = TestClient::new("alice");
    let ca = a.connect(&hub.url("/mcp")).await;
    assert_eq!(
        call(&ca, "cancellations", json!({})).await,
        r#"[{"type":"text","text":"0"}]"#
    );
    let params = CallToolRequestParams::new("slow")
        .with_arguments(json!({ "seconds": 30 }).as_object().cloned().unwrap());
    let request = ClientRequest::CallToolRequest(CallToolRequest::new(params));
    let handle = ca
        .send_cancellable_request(request, PeerRequestOptions::no_options())
        .await
        .expect("slow sent");
    tokio::time::sleep(Duration::from_millis(500)).await;
    handle
        .cancel(Some("changed my mind".into()))
        .await
        .expect("cancel sent");
    let mut seen = String::new();
    let reached = tokio::time::timeout(LIMIT, async {
        loop {
            seen = call(&ca, "cancellations", json!({})).await;
            if seen.contains("\"1\"") {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await;
    assert!(
        reached.is_ok(),
        "upstream saw no cancellation: {seen}\n{}",
        hub.log()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_and_result_meta_pass_through() {
    init_tracing();
    let hub = Hub::start("meta", &fixture_routes()).await;
    let a = TestClient::new("alice");
    let ca = a.connect(&hub.url("/mcp")).await;
    let mut meta = rmcp::model::RequestMetaObject::new();
    meta.insert("trace".into(), json!("abc-123"));
    meta.insert(
        "traceparent".into(),
        json!("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"),
    );
    let mut params = CallToolRequestParams::new("echo_meta");
    params.meta = Some(meta);
    let result = tokio::time::timeout(LIMIT, ca.call_tool(params))
        .await
        .expect("in time")
        .expect("echo_meta");
    let seen: Value = serde_json::from_str(
        result.content[0]
            .as_text()
            .map(|t| t.text.as_str())
            .unwrap_or("{}"),
    )
    .unwrap();
    assert_eq!(seen["trace"], "abc-123", "the upstream saw {seen}");
    assert!(
        seen["traceparent"]
            .as_str()
            .is_some_and(|t| t.starts_with("00-0af7")),
        "{seen}"
    );
    let echoed = result.meta.as_ref().and_then(|m| m.get("echo")).cloned();
    assert_eq!(echoed, Some(seen), "the result's _meta came back");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_departed_subscriber_is_unsubscribed_upstream_when_it_was_the_last() {
    init_tracing();
    let hub = Hub::start("departed", &everything_routes()).await;
    let url = hub.url("/mcp");
    let (a, watcher) = (TestClient::new("alice"), TestClient::new("watcher"));
    let (ca, cw) = (a.connect(&url).await, watcher.connect(&url).await);
    cw.set_level(SetLevelRequestParams::new(LoggingLevel::Debug))
        .await
        .expect("watcher setLevel");
    let uri = ca.list_all_resources().await.expect("resources")[0]
        .uri
        .clone();
    ca.subscribe(SubscribeRequestParams::new(uri.clone()))
        .await
        .expect("alice subscribes");
    // server-everything logs each (un)subscribe it receives; the watcher sees those logs.
    let logged = |what: &str| {
        watcher
            .seen
            .lock()
            .unwrap()
            .of("notifications/message")
            .iter()
            .any(|l| l["data"].to_string().contains(what))
    };
    assert!(eventually(LIMIT, || logged("Subscribe Resource request")).await);
    assert!(!logged("Unsubscribe"));
    ca.cancel().await.expect("alice leaves");
    assert!(
        eventually(LIMIT, || logged("Unsubscribe")).await,
        "no upstream unsubscribe after the last subscriber left\n{}",
        hub.log()
    );
    drop(cw);
}
