//! Tasks (SEP-2663) followed through the real `mcp2` binary: two upstreams (`task_server.py`,
//! which answers tool calls with tasks and mints the same ids `task-1`, `task-2`, … in each)
//! behind one hub. A client that declared the tasks extension creates a task with a tool call,
//! polls `tasks/get` until it completes with the upstream's result, cancels another task on
//! the other upstream and sees it cancelled; the ids it sees never collide, another client
//! cannot follow them, and the tasks capability is advertised only when an upstream has it.
//! Needs `scripts/install-test-deps` (only for the Python interpreter).

mod support;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CancelTaskParams, ClientCapabilities, ClientConfig,
    GetTaskParams, GetTaskResult, Implementation, TaskPayload, TaskStatus,
    TaskStatusNotificationParams,
};
use rmcp::service::{NotificationContext, Peer, RoleClient, RunningService};
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::{ClientHandler, ServiceExt};
use serde_json::json;
use support::client::texts;
use support::process::{Mcp2, Routes, quoted};
use support::*;

const LIMIT: Duration = Duration::from_secs(30);

fn routes(with_tasks: bool) -> Routes {
    let server = repo_root().join("tests/fixtures/servers/task_server.py");
    let python = python();
    let upstream = |name: &str| {
        format!(
            "upstream {name} {{\n  stdio {} {} \"{name}\"\n}}\n",
            quoted(&python),
            quoted(&server)
        )
    };
    let text = if with_tasks {
        format!(
            "{}{}profile default {{ use alpha, beta }}\nendpoint \"/mcp\" -> default\n",
            upstream("alpha"),
            upstream("beta")
        )
    } else {
        let everything = repo_root().join("tests/fixtures/servers/passthrough_server.py");
        format!(
            "upstream plain {{\n  stdio {} {}\n}}\n\
             profile default {{ use plain }}\nendpoint \"/mcp\" -> default\n",
            quoted(&python),
            quoted(&everything)
        )
    };
    Routes::new(&text)
}

/// A client that records the task ids of the `notifications/tasks` it gets.
#[derive(Clone)]
struct Watcher {
    info: ClientConfig,
    heard: Arc<Mutex<Vec<(String, TaskStatus)>>>,
}

impl ClientHandler for Watcher {
    fn get_info(&self) -> ClientConfig {
        self.info.clone()
    }

    async fn on_task_status(
        &self,
        params: TaskStatusNotificationParams,
        _context: NotificationContext<RoleClient>,
    ) {
        let task = &params.task.task;
        self.heard
            .lock()
            .expect("lock")
            .push((task.task_id.clone(), task.status));
    }
}

async fn connect(url: &str, tasks: bool) -> RunningService<RoleClient, Watcher> {
    let mut caps = ClientCapabilities::default();
    if tasks {
        caps = ClientCapabilities::builder().enable_tasks().build();
    }
    let watcher = Watcher {
        info: ClientConfig::new(caps, Implementation::new("tasks-test", "1.0.0")),
        heard: Arc::default(),
    };
    let transport = StreamableHttpClientTransport::from_uri(url.to_string());
    tokio::time::timeout(LIMIT, watcher.serve(transport))
        .await
        .expect("initialize hung")
        .expect("initialize")
}

/// Starts a task with `tool`; its public id.
async fn start(peer: &Peer<RoleClient>, tool: &str, ms: u64) -> String {
    let params = CallToolRequestParams::new(tool.to_string())
        .with_arguments(json!({ "ms": ms }).as_object().cloned().unwrap_or_default());
    let answer = tokio::time::timeout(LIMIT, peer.call_tool_once(params))
        .await
        .expect("tools/call hung")
        .expect("tools/call");
    match answer {
        CallToolResponse::Task(task) => task.task.task_id,
        other => panic!("{tool} did not answer with a task: {other:?}"),
    }
}

async fn get(peer: &Peer<RoleClient>, id: &str) -> GetTaskResult {
    tokio::time::timeout(LIMIT, peer.get_task(GetTaskParams::new(id)))
        .await
        .expect("tasks/get hung")
        .unwrap_or_else(|e| panic!("tasks/get {id}: {e}"))
}

/// Polls until the task leaves `working` (bounded).
async fn settle(peer: &Peer<RoleClient>, id: &str) -> GetTaskResult {
    for _ in 0..300 {
        let task = get(peer, id).await;
        if task.task.status() != TaskStatus::Working {
            return task;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("task {id} still working after 300 polls");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_follows_tasks_of_two_upstreams_through_the_hub() {
    init_tracing();
    let routes = routes(true);
    let hub = Mcp2::serve(&routes, &[], &[]).await;
    let url = hub.url("/mcp");
    let client = connect(&url, true).await;
    let info = client.peer().peer_info().expect("server info");
    assert!(
        info.capabilities.supports_tasks(),
        "the hub hides the upstreams' tasks extension: {:?}",
        info.capabilities
    );
    let peer = client.peer().clone();

    // Both upstreams mint `task-1`: the client must see two different ids.
    let quick = start(&peer, "alpha_sleep", 150).await;
    let long = start(&peer, "beta_sleep", 60_000).await;
    assert_ne!(quick, long, "two upstreams' task-1 collided");

    let first = get(&peer, &quick).await;
    assert_eq!(first.task.task.task_id, quick, "tasks/get changed the id");
    let done = settle(&peer, &quick).await;
    match &done.task.payload {
        TaskPayload::Completed { result } => {
            assert_eq!(
                texts(&result["content"]),
                "alpha slept 150",
                "the result is not the upstream's: {result:?}"
            );
        }
        other => panic!(
            "the quick task did not complete: {other:?}\n{}",
            hub.stderr()
        ),
    }

    tokio::time::timeout(LIMIT, peer.cancel_task(CancelTaskParams::new(long.clone())))
        .await
        .expect("tasks/cancel hung")
        .expect("tasks/cancel");
    let cancelled = get(&peer, &long).await;
    assert_eq!(
        cancelled.task.status(),
        TaskStatus::Cancelled,
        "beta's task was not cancelled upstream"
    );
    // The upstream's push about the cancellation reaches this client, under the id it knows.
    let heard = client.service().heard.clone();
    let pushed = eventually(LIMIT, || {
        heard
            .lock()
            .expect("lock")
            .contains(&(long.clone(), TaskStatus::Cancelled))
    })
    .await;
    assert!(
        pushed,
        "notifications/tasks did not arrive namespaced: {:?}",
        heard.lock().expect("lock")
    );
    // The quick task on alpha, also `task-1` there, is untouched by beta's cancellation.
    assert_eq!(
        get(&peer, &quick).await.task.status(),
        TaskStatus::Completed
    );

    // Another client cannot follow this client's task.
    let other = connect(&url, true).await;
    let refused = tokio::time::timeout(LIMIT, other.peer().get_task(GetTaskParams::new(&quick)))
        .await
        .expect("tasks/get hung");
    assert!(
        refused.is_err(),
        "another session followed someone else's task"
    );
    let unknown = peer
        .get_task(GetTaskParams::new("mcp2~alpha~task-99"))
        .await;
    assert!(unknown.is_err(), "an unknown task id was answered");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_tasks_capability_is_absent_without_an_upstream_that_has_it() {
    init_tracing();
    let routes = routes(false);
    let hub = Mcp2::serve(&routes, &[], &[]).await;
    let client = connect(&hub.url("/mcp"), true).await;
    let info = client.peer().peer_info().expect("server info");
    assert!(
        !info.capabilities.supports_tasks(),
        "tasks advertised with no upstream that has them: {:?}",
        info.capabilities
    );
}
