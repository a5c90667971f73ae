//! Serving: puts gateway sessions on transports.
//!
//! [`serve_http`] runs the plan's endpoints and the admin routes on one bound listener until the
//! shutdown token fires, then lets in-flight requests finish (bounded): Streamable HTTP
//! (`http`), legacy HTTP+SSE on the paths endpoints name with `sse` (`sse`), every request
//! through the `guard` first (browser `Origin`, endpoint credentials). [`serve_stdio`] serves one
//! binding to one client over stdin/stdout. None of them knows how lists or calls are routed:
//! that is the gateway's job.

pub mod admin;
pub mod guard;
pub mod http;
pub mod sse;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use rmcp::ServiceExt;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::gateway::handler::HubSession;
use crate::gateway::{Binding, Gateway};

/// How long in-flight HTTP requests may run after shutdown starts.
pub const DRAIN_TIME: Duration = Duration::from_secs(10);

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("HTTP server failed: {0}")]
    Http(#[source] std::io::Error),
    #[error("stdio session failed: {0}")]
    Stdio(String),
}

/// Serves until `shutdown` is cancelled.
pub async fn serve_http(
    listener: TcpListener,
    gateway: Arc<Gateway>,
    shutdown: CancellationToken,
) -> Result<(), ServeError> {
    let listen = listener.local_addr().map_err(ServeError::Http)?;
    let mcp = http::McpRoutes::new(gateway.clone(), listen, shutdown.clone());
    let mcp: Router = Router::new().fallback(http::dispatch).with_state(mcp);
    let app = admin::routes(gateway).merge(mcp);
    let drain = shutdown.clone();
    let server =
        axum::serve(listener, app).with_graceful_shutdown(async move { drain.cancelled().await });
    let server = tokio::spawn(async move { server.await });
    shutdown.cancelled().await;
    match tokio::time::timeout(DRAIN_TIME, server).await {
        Ok(Ok(result)) => result.map_err(ServeError::Http),
        Ok(Err(join)) => Err(ServeError::Http(std::io::Error::other(join))),
        Err(_) => {
            tracing::warn!(
                "in-flight requests did not finish within {DRAIN_TIME:?}; stopping anyway"
            );
            Ok(())
        }
    }
}

/// Serves one binding to one client over stdin/stdout until the client leaves or `shutdown`.
pub async fn serve_stdio(
    gateway: Arc<Gateway>,
    binding: Binding,
    shutdown: CancellationToken,
) -> Result<(), ServeError> {
    let session = HubSession::new(gateway, binding, "stdio");
    let running = session
        .serve_with_ct(rmcp::transport::stdio(), shutdown.child_token())
        .await
        .map_err(|e| ServeError::Stdio(e.to_string()))?;
    running
        .waiting()
        .await
        .map_err(|e| ServeError::Stdio(e.to_string()))?;
    Ok(())
}
