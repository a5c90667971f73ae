//! Each side negotiates its own protocol version: rmcp clients asking for every revision with
//! an `initialize` handshake get that revision from mcp2 and can use the hub (calls, progress,
//! sampling), while mcp2's connection to the reference server settles on the server's own.
//! (Clients of 2026-07-28, which has no `initialize`, are covered by the Python client tests.)
//! Needs `scripts/install-test-deps`.

mod support;

use std::time::Duration;

use rmcp::model::{CallToolRequestParams, ProtocolVersion};
use serde_json::json;
use support::hub::{Hub, TestClient};
use support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_initialize_era_version_is_served_as_asked() {
    init_tracing();
    let routes = format!(
        "upstream everything {{ stdio {:?} }}\nprofile default {{ use everything }}\n",
        everything_bin().display().to_string()
    );
    let hub = Hub::start("versions", &routes).await;
    let url = hub.url("/mcp");
    for version in [
        ProtocolVersion::V_2024_11_05,
        ProtocolVersion::V_2025_03_26,
        ProtocolVersion::V_2025_06_18,
        ProtocolVersion::V_2025_11_25,
    ] {
        let mut c = TestClient::new(&format!("client-{version}"));
        c.protocol = version.clone();
        let client = c.connect(&url).await;
        let info = client.peer_info().expect("server info");
        assert_eq!(info.protocol_version, version, "negotiated for {version}");
        let args = json!({ "prompt": "hello", "maxTokens": 5 });
        let params = CallToolRequestParams::new("trigger-sampling-request")
            .with_arguments(args.as_object().cloned().unwrap());
        let result = tokio::time::timeout(Duration::from_secs(20), client.call_tool(params))
            .await
            .expect("in time")
            .unwrap_or_else(|e| panic!("{version}: {e}\n{}", hub.log()));
        let text = serde_json::to_string(&result.content).unwrap();
        assert!(
            text.contains(&format!("answer from client-{version}")),
            "{version}: {text}"
        );
        client.cancel().await.expect("leave");
    }
    // The upstream side negotiated on its own: the reference server speaks 2025-11-25.
    assert!(
        hub.log().contains("protocol=2025-11-25"),
        "the upstream's version is logged\n{}",
        hub.log()
    );
}
