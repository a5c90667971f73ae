//! `/_mcp2/*`: endpoints for operators, not for MCP clients.

use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::response::IntoResponse;
use axum::routing::get;
use http::StatusCode;
use serde_json::json;

use crate::gateway::Gateway;
use crate::upstream::UpstreamState;

pub fn routes(gateway: Arc<Gateway>) -> Router {
    Router::new()
        .route("/_mcp2/health", get(health))
        .route("/_mcp2/ready", get(ready))
        .with_state(gateway)
}

/// The process is alive and serving HTTP.
async fn health() -> impl IntoResponse {
    Json(json!({ "status": "ok" }))
}

/// The plan is loaded; each upstream's state. 200 when every upstream is connected, 503 otherwise
/// (the body says which are not).
async fn ready(State(gateway): State<Arc<Gateway>>) -> impl IntoResponse {
    let plan = gateway.plan();
    let mut all_up = true;
    let upstreams: serde_json::Map<String, serde_json::Value> = plan
        .upstreams
        .keys()
        .map(|id| {
            let state = gateway.registry().get(id.as_str()).map(|h| h.state());
            let value = match state {
                Some(UpstreamState::Connected { .. }) => json!({ "state": "connected" }),
                Some(UpstreamState::Connecting) => {
                    all_up = false;
                    json!({ "state": "connecting" })
                }
                Some(UpstreamState::Down { error, .. }) => {
                    all_up = false;
                    json!({ "state": "down", "error": error })
                }
                Some(UpstreamState::Stopped) | None => {
                    all_up = false;
                    json!({ "state": "stopped" })
                }
            };
            (id.to_string(), value)
        })
        .collect();
    let status = if all_up {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (
        status,
        Json(json!({ "plan": "loaded", "upstreams": upstreams })),
    )
}
