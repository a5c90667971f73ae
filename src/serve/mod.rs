//! Serving: puts gateway sessions on transports.
//!
//! [`serve_http`] runs the plan's endpoints and the admin routes on one bound listener until the
//! shutdown token fires; then it stops accepting, lets in-flight requests finish (bounded), and
//! closes the sessions: Streamable HTTP
//! (`http`; its sessions parked whenever they need no rmcp worker, `parked`), legacy HTTP+SSE on the paths endpoints name with `sse` (`sse`), every request
//! through the `guard` first (browser `Origin`, endpoint credentials), and every connection under
//! the `conn` limits (body size, header read timeout, idle sessions). [`serve_stdio`] serves one
//! binding to one client over stdin/stdout. None of them knows how lists or calls are routed:
//! that is the gateway's job.

pub mod admin;
pub mod conn;
pub mod entry;
pub mod fast;
pub mod guard;
pub mod http;
pub mod oauth;
pub mod parked;
pub mod sessions;
pub mod sse;
pub mod status;
pub mod stdio;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use rmcp::ServiceExt;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::gateway::handler::HubSession;
use crate::gateway::{Binding, Gateway};
use crate::reload::Reloader;
pub use conn::ServeLimits;

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
    limits: ServeLimits,
    shutdown: CancellationToken,
) -> Result<(), ServeError> {
    let sharing = sessions::Sharing::default();
    serve_http_with(
        listener, gateway, reloader, admin, limits, sharing, shutdown,
    )
    .await
}

/// [`serve_http`] with sessions shared between replicas: with a key, ids are sealed so that
/// any replica serves any session; with Redis too, a session ended on one ends on all.
pub async fn serve_http_with(
    listener: TcpListener,
    gateway: Arc<Gateway>,
    reloader: Option<Arc<Reloader>>,
    admin: admin::AdminOptions,
    limits: ServeLimits,
    sharing: sessions::Sharing,
    shutdown: CancellationToken,
) -> Result<(), ServeError> {
    let listen = listener.local_addr().map_err(ServeError::Http)?;
    let ended = sharing.ended.clone();
    let mcp = http::McpRoutes::shared(gateway.clone(), listen, sharing)
        .with_idle_session(limits.idle_session);
    if let Some(ended) = ended {
        let mut announced = ended.subscribe(shutdown.clone());
        let routes = mcp.clone();
        tokio::spawn(async move {
            while let Some(id) = announced.recv().await {
                routes.close_ended(&id).await;
            }
        });
    }
    let router: Router = Router::new()
        .fallback(http::dispatch)
        .with_state(mcp.clone())
        .layer(axum::middleware::from_fn_with_state(
            limits.max_body,
            conn::body_limit,
        ));
    let admin_loopback = match &admin.listener {
        Some(l) => l.local_addr().map_err(ServeError::Http)?.ip().is_loopback(),
        None => listen.ip().is_loopback(),
    };
    let admin_routes = admin::routes(gateway.clone(), reloader, admin.token).layer(
        axum::middleware::from_fn_with_state((gateway, admin_loopback), guard::browser_guard),
    );
    let app = match admin.listener {
        Some(admin_listener) => {
            let stop = shutdown.clone();
            tokio::spawn(async move {
                let served = conn::serve(admin_listener, admin_routes, None, limits, stop).await;
                if let Err(e) = served {
                    tracing::error!(error = %e, "the admin listener failed");
                }
            });
            router
        }
        None => admin_routes.merge(router),
    };
    let early = Some(mcp.clone());
    let server = tokio::spawn(conn::serve(listener, app, early, limits, shutdown.clone()));
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
    let framed = stdio::frame(tokio::io::stdin(), tokio::io::stdout());
    let running = session
        .serve_with_ct(framed, shutdown.child_token())
        .await
        .map_err(|e| ServeError::Stdio(e.to_string()))?;
    running
        .waiting()
        .await
        .map_err(|e| ServeError::Stdio(e.to_string()))?;
    Ok(())
}
