//! `subscriptions/listen` (2026-07-28) through the real `mcp2` binary, fed by upstreams of the
//! `initialize` era: a resource update the upstream sends for mcp2's `resources/subscribe`,
//! and a tool-list change, arrive on the client's listen stream. Needs
//! `scripts/install-test-deps`.

mod support;

use std::process::Stdio;
use std::time::Duration;

use serde_json::Value;
use support::hub::Hub;
use support::*;
use tokio::process::Command;

async fn listen(url: &str, uri: &str, tool: &str, args: &str) -> Value {
    let script = repo_root().join("tests/fixtures/clients/listen_client.py");
    let out = tokio::time::timeout(
        Duration::from_secs(60),
        Command::new(python())
            .arg(script)
            .args([url, uri, tool, args])
            .stdin(Stdio::null())
            .kill_on_drop(true)
            .output(),
    )
    .await
    .expect("listen client timed out")
    .expect("run the listen client");
    let stdout = String::from_utf8_lossy(&out.stdout);
    serde_json::from_str(stdout.trim()).unwrap_or_else(|e| {
        panic!(
            "no report ({e}):\n{stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_listen_stream_carries_resource_updates_and_list_changes() {
    init_tracing();
    let routes = format!(
        "upstream everything {{ stdio {:?} }}\n\
         upstream fx {{ stdio {:?} {:?} }}\n\
         profile default {{ use everything, fx }}\n",
        everything_bin().display().to_string(),
        python().display().to_string(),
        fixture_server("passthrough_server.py")
            .display()
            .to_string(),
    );
    let hub = Hub::start("listen", &routes).await;
    let url = hub.url("/mcp");
    let uri = "demo://resource/static/document/architecture.md";
    let updates = listen(&url, uri, "toggle-subscriber-updates", "{}").await;
    assert_eq!(updates["protocol"], "2026-07-28", "{updates}");
    assert_eq!(updates["honored"]["resources"][0], uri, "{updates}");
    assert_eq!(
        updates["events"][0],
        format!("updated {uri}"),
        "{updates}\n{}",
        hub.log()
    );
    let changes = listen(&url, "-", "grow", r#"{"name": "fresh"}"#).await;
    assert_eq!(
        changes["events"][0],
        "tools changed",
        "{changes}\n{}",
        hub.log()
    );
}
