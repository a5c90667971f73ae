//! Runtime errors of the gateway and their one JSON-RPC mapping each.
//!
//! Every error says where it came from: the downstream request (an unknown or hidden name), an
//! upstream (down, timed out, or its own JSON-RPC error, which passes through unchanged), or the
//! gateway itself. Messages never contain configured secrets, and a hidden name is reported
//! exactly like an unknown one so that filters do not leak what exists.

use std::time::Duration;

use rmcp::ErrorData as McpError;
use rmcp::model::ErrorCode;
use rmcp::service::ServiceError;
use serde_json::json;

use crate::plan::UpstreamId;
use crate::plan::rules::ItemKind;

/// MCP's code for an unknown resource.
pub const RESOURCE_NOT_FOUND: ErrorCode = ErrorCode(-32002);
/// mcp2's code for a request refused by a rate limit (in JSON-RPC's server-error range). The
/// error's `data` carries `retryAfterMs` and the `limit` as written in the routes.
pub const RATE_LIMITED: ErrorCode = ErrorCode(-32029);

#[derive(Debug, thiserror::Error)]
pub enum GatewayError {
    #[error("unknown {kind} `{name}`{}", suggestion.as_ref().map(|s| format!("; did you mean `{s}`?")).unwrap_or_default())]
    Unknown {
        kind: ItemKind,
        name: String,
        suggestion: Option<String>,
    },
    #[error("upstream `{upstream}` is unavailable: {reason}")]
    Unavailable {
        upstream: UpstreamId,
        reason: String,
    },
    #[error("upstream `{upstream}` did not answer {method} within {}", super::fmt_duration(*after))]
    Timeout {
        upstream: UpstreamId,
        method: &'static str,
        after: Duration,
    },
    #[error("upstream `{upstream}` failed: {message}")]
    Transport {
        upstream: UpstreamId,
        message: String,
    },
    /// The upstream's own JSON-RPC error, passed through unchanged.
    #[error("{0}")]
    Upstream(McpError),
    /// An upstream of 2026-07-28 asked for input the client could not give (`rounds.rs`).
    #[error("{0}")]
    Input(McpError),
    /// The client cancelled the request while it was forwarded.
    #[error("{method} cancelled by the client")]
    Cancelled { method: &'static str },
    /// Refused by a rate limit before reaching the upstream.
    #[error("rate limit `{limit}` exceeded; retry in {}s", retry_after.as_secs_f64().ceil())]
    RateLimited {
        limit: String,
        retry_after: Duration,
    },
}

impl GatewayError {
    /// Classifies an rmcp client error from one upstream.
    pub fn from_service(upstream: &UpstreamId, method: &'static str, e: ServiceError) -> Self {
        match e {
            ServiceError::McpError(e) => GatewayError::Upstream(e),
            ServiceError::Timeout { timeout } => GatewayError::Timeout {
                upstream: upstream.clone(),
                method,
                after: timeout,
            },
            ServiceError::TransportClosed => GatewayError::Unavailable {
                upstream: upstream.clone(),
                reason: "the connection closed".into(),
            },
            other => GatewayError::Transport {
                upstream: upstream.clone(),
                message: other.to_string(),
            },
        }
    }

    /// The error a downstream client sees.
    pub fn to_mcp(&self) -> McpError {
        match self {
            GatewayError::Upstream(e) | GatewayError::Input(e) => e.clone(),
            GatewayError::Unknown { kind, .. } => {
                let code = match kind {
                    ItemKind::Resource => RESOURCE_NOT_FOUND,
                    _ => ErrorCode::INVALID_PARAMS,
                };
                McpError::new(code, self.to_string(), None)
            }
            GatewayError::RateLimited { limit, retry_after } => McpError::new(
                RATE_LIMITED,
                self.to_string(),
                Some(json!({
                    "retryAfterMs": u64::try_from(retry_after.as_millis()).unwrap_or(u64::MAX),
                    "limit": limit,
                    "source": "gateway",
                })),
            ),
            GatewayError::Cancelled { .. } => {
                McpError::new(ErrorCode::INTERNAL_ERROR, self.to_string(), None)
            }
            GatewayError::Unavailable { upstream, .. }
            | GatewayError::Timeout { upstream, .. }
            | GatewayError::Transport { upstream, .. } => McpError::new(
                ErrorCode::INTERNAL_ERROR,
                self.to_string(),
                Some(json!({ "upstream": upstream.as_str(), "source": "upstream" })),
            ),
        }
    }
}

impl From<GatewayError> for McpError {
    fn from(e: GatewayError) -> Self {
        e.to_mcp()
    }
}
