//! `/_mcp2/*`: endpoints for operators, not for MCP clients.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::extract::{ConnectInfo, State};
use axum::middleware;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use http::StatusCode;
use serde_json::json;

use super::status;
use crate::gateway::Gateway;
use crate::plan::Secret;
use crate::reload::{Reloader, Trigger};
use crate::telemetry::{self, events};
use crate::upstream::UpstreamState;

/// Where the admin endpoints are served, and who may call them.
#[derive(Debug, Default)]
pub struct AdminOptions {
    /// Serve `/_mcp2/*` on this listener only (instead of beside the MCP endpoints).
    pub listener: Option<tokio::net::TcpListener>,
    /// When set, every admin endpoint but `health` needs `Authorization: Bearer <token>`.
    pub token: Option<Secret>,
}

/// The admin routes; with a token, all but `/_mcp2/health` require it.
pub fn routes(
    gateway: Arc<Gateway>,
    reloader: Option<Arc<Reloader>>,
    token: Option<Secret>,
) -> Router {
    let guarded = guarded_routes(gateway, reloader);
    let guarded = match token {
        Some(token) => guarded.layer(middleware::from_fn_with_state(
            Arc::new(token),
            require_token,
        )),
        None => guarded,
    };
    Router::new()
        .route("/_mcp2/health", get(health))
        .merge(guarded)
}

/// Answers 401 unless the request carries the admin token. The comparison does not stop at the
/// first differing byte, so timing does not reveal a prefix of the token.
async fn require_token(
    State(token): State<Arc<Secret>>,
    request: axum::extract::Request,
    next: middleware::Next,
) -> axum::response::Response {
    let presented = request
        .headers()
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    let expected = token.expose().as_bytes();
    let same = presented.len() == expected.len()
        && presented
            .bytes()
            .zip(expected)
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0;
    if same {
        next.run(request).await
    } else {
        (
            StatusCode::UNAUTHORIZED,
            [(http::header::WWW_AUTHENTICATE, "Bearer")],
            Json(json!({ "error": "the admin endpoints need `Authorization: Bearer <admin token>`" })),
        )
            .into_response()
    }
}

fn guarded_routes(gateway: Arc<Gateway>, reloader: Option<Arc<Reloader>>) -> Router {
    let metrics_state = (gateway.clone(), reloader.clone());
    let status_state = (gateway.clone(), reloader.clone());
    let router = Router::new()
        .route("/_mcp2/ready", get(ready))
        .route("/_mcp2/config", get(config))
        .route("/_mcp2/explain", post(explain))
        .with_state(gateway)
        .merge(
            Router::new()
                .route("/_mcp2/metrics", get(metrics))
                .with_state(metrics_state),
        )
        .merge(
            Router::new()
                .route("/_mcp2/", get(status::handler))
                .with_state(status_state),
        );
    match reloader {
        Some(reloader) => router.merge(
            Router::new()
                .route("/_mcp2/reload", post(reload))
                .with_state(reloader),
        ),
        None => router,
    }
}

/// Recompiles the routes and swaps them in if they are clean. Answers 200 with what changed, or
/// 422 with every diagnostic (the previous routes keep serving). Only loopback callers may
/// trigger it.
async fn reload(
    State(reloader): State<Arc<Reloader>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
) -> impl IntoResponse {
    if !peer.ip().is_loopback() {
        return (
            StatusCode::FORBIDDEN,
            Json(json!({ "error": "reload is only accepted from loopback" })),
        );
    }
    let outcome = reloader.reload(Trigger::Http).await;
    let status = if outcome.applied() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    (status, Json(json!(outcome)))
}

/// The Prometheus text exposition. Gauges mirroring state owned elsewhere (upstream up/down,
/// reload totals) are refreshed from their source first.
async fn metrics(
    State((gateway, reloader)): State<(Arc<Gateway>, Option<Arc<Reloader>>)>,
) -> impl IntoResponse {
    for id in gateway.plan().upstreams.keys() {
        let up = gateway
            .registry()
            .get(id.as_str())
            .is_some_and(|h| matches!(h.state(), UpstreamState::Connected { .. }));
        events::mirror_upstream_up(id.as_str(), up);
    }
    if let Some(reloader) = reloader {
        let (applied, rejected) = reloader.counts();
        events::mirror_reloads(applied, rejected);
    }
    match telemetry::metrics::render() {
        Some(text) => (
            StatusCode::OK,
            [(http::header::CONTENT_TYPE, "text/plain; version=0.0.4")],
            text,
        ),
        None => (
            StatusCode::SERVICE_UNAVAILABLE,
            [(http::header::CONTENT_TYPE, "text/plain")],
            "metrics are not enabled in this process\n".to_string(),
        ),
    }
}

/// The running plan as JSON. Secrets serialize redacted, so nothing configured as a secret
/// (header values, env values) can leave through here.
async fn config(State(gateway): State<Arc<Gateway>>) -> impl IntoResponse {
    Json(json!(*gateway.plan()))
}

/// `POST /_mcp2/explain`: what `mcp2 explain --server` sends.
#[derive(Debug, serde::Deserialize)]
struct ExplainRequest {
    question: crate::explain::Question,
    /// `json` (default) or `human`.
    #[serde(default)]
    format: Option<String>,
    #[serde(default)]
    color: bool,
    #[serde(default)]
    unicode: bool,
}

/// Explains a request against the running plan, its views and its list cache, with the same
/// code as `mcp2 explain`. Behind the admin token like `config`; secrets are never in it.
async fn explain(
    State(gateway): State<Arc<Gateway>>,
    Json(request): Json<ExplainRequest>,
) -> axum::response::Response {
    use crate::explain::{self, Source, Style};
    let explanation = explain::explain_on(&gateway, &request.question, Source::Server).await;
    match request.format.as_deref() {
        Some("human") => (
            StatusCode::OK,
            [(http::header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            explain::render(
                &explanation,
                Style {
                    color: request.color,
                    unicode: request.unicode,
                },
            ),
        )
            .into_response(),
        _ => Json(json!(explanation)).into_response(),
    }
}

/// The process is alive and serving HTTP.
async fn health() -> impl IntoResponse {
    Json(json!({ "status": "ok" }))
}

/// The plan is loaded; each upstream's state (`connected` with its PID, `connecting`, `down`
/// with its last error, failed `attempts` in a row and `retry_in_ms`, `restarting` after a
/// failure (with that failure's `error`), `stopped`; `per-client` for one that propagates the caller's identity, which only
/// clients' own connections reach). 200 when every upstream is connected, 503 otherwise
/// (the body says which are not).
async fn ready(State(gateway): State<Arc<Gateway>>) -> impl IntoResponse {
    let plan = gateway.plan();
    let mut all_up = true;
    let upstreams: serde_json::Map<String, serde_json::Value> = plan
        .upstreams
        .iter()
        .map(|(id, spec)| {
            // Connected per client, with each caller's token: nothing to wait for.
            if spec.auth.as_ref().is_some_and(|a| a.propagates()) {
                return (id.to_string(), json!({ "state": "per-client" }));
            }
            let state = gateway.registry().get(id.as_str()).map(|h| h.state());
            let value = match state {
                Some(UpstreamState::Connected { .. }) => {
                    let pid = gateway.registry().get(id.as_str()).and_then(|h| h.pid());
                    json!({ "state": "connected", "pid": pid })
                }
                Some(UpstreamState::Connecting) => {
                    all_up = false;
                    // After a failure, connecting again is a restart.
                    let handle = gateway.registry().get(id.as_str());
                    let restarting = handle.as_ref().is_some_and(|h| h.stats().failures > 0);
                    match handle.and_then(|h| h.last_error()) {
                        Some(error) if restarting => {
                            json!({ "state": "restarting", "error": error })
                        }
                        _ if restarting => json!({ "state": "restarting" }),
                        _ => json!({ "state": "connecting" }),
                    }
                }
                Some(UpstreamState::Down {
                    error,
                    attempts,
                    retry_at,
                    ..
                }) => {
                    all_up = false;
                    // The backoff, visible: how many tries failed in a row, and when the next is.
                    let retry_in_ms = retry_at
                        .duration_since(std::time::SystemTime::now())
                        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
                    json!({
                        "state": "down",
                        "error": error,
                        "attempts": attempts,
                        "retry_in_ms": retry_in_ms,
                    })
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
