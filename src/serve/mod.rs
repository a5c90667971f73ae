//! Serving: puts gateway sessions on transports.
//!
//! [`serve_http`] runs the plan's endpoints and the admin routes on one bound listener until the
//! shutdown token fires; then it stops accepting, lets in-flight requests finish (bounded), and
//! closes the sessions: Streamable HTTP
//! (`http`), legacy HTTP+SSE on the paths endpoints name with `sse` (`sse`), every request
//! through the `guard` first (browser `Origin`, endpoint credentials). [`serve_stdio`] serves one
//! binding to one client over stdin/stdout. None of them knows how lists or calls are routed:
//! that is the gateway's job.

pub mod admin;
pub mod guard;
pub mod http;
pub mod oauth;
pub mod sse;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use rmcp::ServiceExt;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::gateway::handler::HubSession;
use crate::gateway::{Binding, Gateway};
use crate::reload::Reloader;

/// How long in-flight HTTP requests may run after shutdown starts.
pub const DRAIN_TIME: Duration = Duration::from_secs(10);
/// How long connections may take to close once the sessions are closed.
pub const CLOSE_TIME: Duration = Duration::from_secs(2);

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("HTTP server failed: {0}")]
    Http(#[source] std::io::Error),
    #[error("stdio session failed: {0}")]
    Stdio(String),
}

/// Serves until `shutdown` is cancelled. The admin routes go beside the MCP endpoints, or on
/// their own listener when `admin` has one.
pub async fn serve_http(
    listener: TcpListener,
    gateway: Arc<Gateway>,
    reloader: Option<Arc<Reloader>>,
    admin: admin::AdminOptions,
    shutdown: CancellationToken,
) -> Result<(), ServeError> {
    let listen = listener.local_addr().map_err(ServeError::Http)?;
    let mcp = http::McpRoutes::new(gateway.clone(), listen);
    let router: Router = Router::new()
        .fallback(http::dispatch)
        .with_state(mcp.clone());
    let admin_routes = admin::routes(gateway, reloader, admin.token);
    let app = match admin.listener {
        Some(admin_listener) => {
            let admin_app = admin_routes.into_make_service_with_connect_info::<SocketAddr>();
            let stop = shutdown.clone();
            tokio::spawn(async move {
                let served = axum::serve(admin_listener, admin_app)
                    .with_graceful_shutdown(async move { stop.cancelled().await })
                    .await;
                if let Err(e) = served {
                    tracing::error!(error = %e, "the admin listener failed");
                }
            });
            router
        }
        None => admin_routes.merge(router),
    };
    let stop_accepting = shutdown.clone();
    // MCP messages are small: without TCP_NODELAY every response waits ~40 ms for the client's
    // delayed ACK (Nagle), which measured as a 128x p50 penalty against direct calls.
    let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::debug!(error = %e, "cannot set TCP_NODELAY");
        }
    });
    let server = axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(async move { stop_accepting.cancelled().await });
    let server = tokio::spawn(async move { server.await });
    shutdown.cancelled().await;
    if !mcp.drain(DRAIN_TIME).await {
        tracing::warn!("in-flight requests did not finish within {DRAIN_TIME:?}; stopping anyway");
    }
    match tokio::time::timeout(CLOSE_TIME, server).await {
        Ok(Ok(result)) => result.map_err(ServeError::Http),
        Ok(Err(join)) => Err(ServeError::Http(std::io::Error::other(join))),
        Err(_) => {
            tracing::warn!("connections still open {CLOSE_TIME:?} after the sessions closed");
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
