//! A reload that changes what a profile shows tells exactly the clients whose view changed:
//! the gateway in process, one client per profile on an in-memory transport, and
//! `Gateway::swap_plan` (what the reload code calls). Needs `scripts/install-test-deps`.

mod support;

use std::time::Duration;

use mcp2::check::{self, ProcessEnv};
use mcp2::gateway::handler::HubSession;
use mcp2::gateway::{Binding, CachePolicy, Gateway};
use mcp2::plan::{Plan, ProfileName};
use mcp2::source::SourceSet;
use rmcp::ServiceExt;
use support::hub::TestClient;
use support::*;

fn plan(text: &str) -> Plan {
    let mut sources = SourceSet::new();
    sources.add("routes.mcproute", text);
    let compiled = check::compile(&sources, &ProcessEnv);
    compiled
        .plan
        .unwrap_or_else(|| panic!("routes do not check: {:?}", compiled.diagnostics))
}

fn routes(hide_echo: bool) -> String {
    format!(
        "upstream everything {{ stdio {:?} }}\n\
         profile default {{\n  use everything\n{}}}\n\
         profile steady {{\n  use everything\n  allow tool everything/get-sum\n  deny tool everything/*\n}}\n",
        everything_bin().display().to_string(),
        if hide_echo {
            "  deny tool everything/echo\n"
        } else {
            ""
        }
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reload_tells_the_clients_whose_view_changed() {
    init_tracing();
    let gateway = Gateway::start(plan(&routes(false)), CachePolicy::default()).await;
    let mut clients = Vec::new();
    for profile in ["default", "steady"] {
        let (client_io, server_io) = tokio::io::duplex(1 << 20);
        let binding = Binding {
            profile: ProfileName::new(profile),
            only_upstream: None,
        };
        let session = HubSession::new(gateway.clone(), binding, "in-memory");
        tokio::spawn(async move {
            if let Ok(running) = session.serve(server_io).await {
                let _ = running.waiting().await;
            }
        });
        let test_client = TestClient::new(profile);
        let running = test_client
            .clone()
            .serve(client_io)
            .await
            .expect("client connects");
        let tools = running.list_all_tools().await.expect("tools/list");
        clients.push((test_client, running, tools.len()));
    }
    // Let the gateway record what each profile shows before anything changes.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let changed = |c: &TestClient| {
        c.seen
            .lock()
            .unwrap()
            .of("notifications/tools/list_changed")
            .len()
    };
    let before: Vec<usize> = clients.iter().map(|(c, _, _)| changed(c)).collect();

    gateway.swap_plan(plan(&routes(true))).await;
    let (default, running, count) = &clients[0];
    assert!(
        eventually(Duration::from_secs(10), || changed(default) > before[0]).await,
        "the default profile's client was not told"
    );
    let names: Vec<String> = running
        .list_all_tools()
        .await
        .unwrap()
        .iter()
        .map(|t| t.name.to_string())
        .collect();
    assert_eq!(names.len(), count - 1, "{names:?}");
    assert!(!names.contains(&"echo".to_string()));
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        changed(&clients[1].0),
        before[1],
        "steady's view did not change"
    );
    gateway.shutdown().await;
}
