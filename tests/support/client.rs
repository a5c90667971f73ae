//! A real rmcp client for driving mcp2, with small helpers so tests read as stories.
//!
//! The client's own list cache is off: a test that times or counts lists must see mcp2's
//! behaviour, not rmcp's.

use std::time::Duration;

use rmcp::ServiceExt;
use rmcp::model::{CallToolRequestParams, GetPromptRequestParams, ReadResourceRequestParams};
use rmcp::service::{ClientCacheConfig, Peer, RoleClient, RunningService, ServiceError};
use rmcp::transport::StreamableHttpClientTransport;
use serde_json::Value;

pub type Client = RunningService<RoleClient, ()>;

/// How long one request may take before the test calls it a hang.
pub const REQUEST_LIMIT: Duration = Duration::from_secs(30);

/// Connects (Streamable HTTP) and completes the MCP handshake.
pub async fn connect(url: &str) -> Client {
    let transport = StreamableHttpClientTransport::from_uri(url.to_string());
    let Ok(served) = tokio::time::timeout(REQUEST_LIMIT, ().serve(transport)).await else {
        panic!("initialize at {url} hung for {REQUEST_LIMIT:?}");
    };
    let client = served.unwrap_or_else(|e| panic!("initialize at {url} failed: {e}"));
    client
        .peer()
        .set_response_cache_config(ClientCacheConfig::disabled())
        .await;
    client
}

async fn bounded<T>(what: &str, f: impl Future<Output = T>) -> T {
    tokio::time::timeout(REQUEST_LIMIT, f)
        .await
        .unwrap_or_else(|_| panic!("{what} hung for {REQUEST_LIMIT:?}"))
}

/// Every public tool name, in the order mcp2 lists them.
pub async fn tool_names(peer: &Peer<RoleClient>) -> Vec<String> {
    let tools = bounded("tools/list", peer.list_all_tools())
        .await
        .expect("tools/list");
    tools.iter().map(|t| t.name.to_string()).collect()
}

/// `tools/call`, as the JSON the client received (or the error).
pub async fn try_call(
    peer: &Peer<RoleClient>,
    tool: &str,
    args: Value,
) -> Result<Value, ServiceError> {
    let mut params = CallToolRequestParams::new(tool.to_string());
    if let Some(args) = args.as_object() {
        params = params.with_arguments(args.clone());
    }
    let result = bounded(&format!("tools/call {tool}"), peer.call_tool(params)).await?;
    Ok(serde_json::to_value(result).expect("serialise a result"))
}

/// The text of a successful tool call.
pub async fn call_text(peer: &Peer<RoleClient>, tool: &str, args: Value) -> String {
    let result = try_call(peer, tool, args)
        .await
        .unwrap_or_else(|e| panic!("calling {tool}: {e}"));
    assert_ne!(
        result["isError"],
        Value::Bool(true),
        "{tool} returned a tool error: {result}"
    );
    texts(&result["content"])
}

/// The text of `resources/read`.
pub async fn read_text(peer: &Peer<RoleClient>, uri: &str) -> String {
    let result = bounded(
        &format!("resources/read {uri}"),
        peer.read_resource(ReadResourceRequestParams::new(uri)),
    )
    .await
    .unwrap_or_else(|e| panic!("reading {uri}: {e}"));
    texts(&serde_json::to_value(result).expect("serialise")["contents"])
}

/// The messages' text of `prompts/get`.
pub async fn prompt_text(peer: &Peer<RoleClient>, name: &str, args: Value) -> String {
    let mut params = GetPromptRequestParams::new(name);
    if let Some(args) = args.as_object() {
        params = params.with_arguments(args.clone());
    }
    let result = bounded(&format!("prompts/get {name}"), peer.get_prompt(params))
        .await
        .unwrap_or_else(|e| panic!("getting prompt {name}: {e}"));
    let json = serde_json::to_value(result).expect("serialise");
    let contents: Vec<Value> = json["messages"]
        .as_array()
        .map(|m| m.iter().map(|m| m["content"].clone()).collect())
        .unwrap_or_default();
    texts(&Value::Array(contents))
}

/// The `text` of every item of a JSON array of content blocks, one per line.
pub fn texts(blocks: &Value) -> String {
    blocks
        .as_array()
        .map(|items| {
            items
                .iter()
                .filter_map(|b| b["text"].as_str())
                .collect::<Vec<_>>()
                .join("\n")
        })
        .unwrap_or_default()
}

/// The JSON-RPC error a request ended with (panics if it succeeded or failed otherwise).
pub fn mcp_error(result: Result<Value, ServiceError>) -> rmcp::ErrorData {
    match result {
        Err(ServiceError::McpError(e)) => e,
        Err(other) => panic!("expected a JSON-RPC error, got {other}"),
        Ok(v) => panic!("expected a JSON-RPC error, got a result: {v}"),
    }
}

/// The server's name and version from its `initialize` (or `server/discover`) answer.
pub fn server_info(client: &Client) -> rmcp::model::Implementation {
    client
        .peer_info()
        .and_then(|info| info.server_info.clone())
        .expect("the server said who it is")
}
