//! Accepting HTTP connections with limits a hostile client cannot wear down.
//!
//! `axum::serve` gives no access to hyper's connection settings, so this is its accept loop
//! with two additions: a **header read timeout** (a client that trickles its request headers,
//! slow-loris, has its connection closed after [`ServeLimits::header_read_timeout`]) and the
//! peer address as `ConnectInfo` on every request (what the admin routes read). [`body_limit`]
//! is the middleware answering 413 to request bodies over [`ServeLimits::max_body`], and 400
//! with the JSON-RPC error code (see `entry`) to JSON bodies that are not one MCP message.
//!
//! Shutdown: once the token fires, no connection is accepted; idle keep-alive connections close
//! at once, and the returned future resolves when every connection has ended (the caller
//! bounds that wait).

use std::convert::Infallible;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http::StatusCode;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tower::ServiceExt;

use super::http::McpRoutes;

/// Limits on what one downstream client may send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServeLimits {
    /// Largest request body accepted; larger ones get 413.
    pub max_body: usize,
    /// How long a client may take to send a request's headers before its connection is closed.
    pub header_read_timeout: Duration,
    /// How long a Streamable HTTP session may stay without a request before it is closed
    /// (its id then gets 404 and the client initializes again).
    pub idle_session: Duration,
}

impl ServeLimits {
    pub const DEFAULT_MAX_BODY: usize = crate::plan::ServeSettings::DEFAULT_MAX_BODY;
    pub const DEFAULT_HEADER_READ_TIMEOUT: Duration =
        crate::plan::ServeSettings::DEFAULT_HEADER_TIMEOUT;
    pub const DEFAULT_IDLE_SESSION: Duration = crate::plan::ServeSettings::DEFAULT_IDLE_TIMEOUT;
}

impl Default for ServeLimits {
    fn default() -> Self {
        Self {
            max_body: Self::DEFAULT_MAX_BODY,
            header_read_timeout: Self::DEFAULT_HEADER_READ_TIMEOUT,
            idle_session: Self::DEFAULT_IDLE_SESSION,
        }
    }
}

/// Serves `app` on `listener` until `shutdown` fires, then until its connections have ended.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    early: Option<McpRoutes>,
    limits: ServeLimits,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    let mut builder = Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout);
    builder
        .http2()
        .timer(TokioTimer::new())
        .keep_alive_interval(Some(Duration::from_secs(30)));
    let graceful = GracefulShutdown::new();
    loop {
        let (tcp, peer) = tokio::select! {
            () = shutdown.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // EMFILE and friends: back off instead of spinning on a full fd table.
                    tracing::warn!(error = %e, "cannot accept a connection");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        // MCP messages are small: without TCP_NODELAY every response waits ~40 ms for the
        // client's delayed ACK (Nagle), which measured as a 128x p50 penalty.
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::debug!(error = %e, "cannot set TCP_NODELAY");
        }
        let app = app.clone();
        let early = early.clone();
        let max_body = limits.max_body;
        let service = hyper::service::service_fn(move |request: Request<hyper::body::Incoming>| {
            let request = request.map(Body::new);
            let app = app.clone();
            let early = early.clone();
            async move {
                let mut request = match &early {
                    Some(routes) if routes.may_take_early(&request, max_body) => {
                        match Box::pin(routes.early(request, max_body)).await {
                            Ok(response) => return Ok::<_, Infallible>(response),
                            Err(request) => request,
                        }
                    }
                    _ => request,
                };
                request.extensions_mut().insert(ConnectInfo(peer));
                Ok(app.oneshot(request).await.into_response())
            }
        });
        let builder = builder.clone();
        let watcher = graceful.watcher();
        tokio::spawn(async move {
            let conn = builder.serve_connection_with_upgrades(TokioIo::new(tcp), service);
            if let Err(e) = watcher.watch(conn.into_owned()).await {
                tracing::trace!(%peer, error = %e, "connection ended with an error");
            }
        });
    }
    drop(listener);
    graceful.shutdown().await;
    Ok(())
}

/// Middleware: a request body over `max_body` bytes gets 413 (a JSON-RPC error body) before
/// any session sees it; bodies within the limit are passed on whole.
pub async fn body_limit(State(max_body): State<usize>, request: Request, next: Next) -> Response {
    let declared = request
        .headers()
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > max_body as u64) {
        return too_large(max_body);
    }
    if request.method() == http::Method::GET || request.method() == http::Method::DELETE {
        return next.run(request).await;
    }
    with_whole_body(request, max_body, |request| next.run(request)).await
}

/// Reads `request`'s body whole (413 over `max_body`, 400 when it breaks off) and has `serve`
/// answer the request rebuilt around it. rmcp answers a JSON body it cannot read as a message
/// with 415; the client then gets the JSON-RPC verdict instead (checked only then, so good
/// messages are parsed once).
pub(super) async fn with_whole_body<F, A>(request: Request, max_body: usize, serve: F) -> Response
where
    F: FnOnce(Request) -> A,
    A: Future<Output = Response>,
{
    let json = request
        .headers()
        .get(http::header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    let (parts, body) = request.into_parts();
    let bytes = match axum::body::to_bytes(body, max_body).await {
        Ok(bytes) => bytes,
        Err(e) => return unreadable(&e, max_body),
    };
    let response = serve(Request::from_parts(parts, Body::from(bytes.clone()))).await;
    if json && response.status() == StatusCode::UNSUPPORTED_MEDIA_TYPE {
        let rejection = super::entry::classify(&bytes);
        tracing::info!(%rejection, "a client message that is not one; refused (400)");
        return (StatusCode::BAD_REQUEST, axum::Json(rejection.to_json())).into_response();
    }
    response
}

/// The answer to a request body that could not be read: 413 over the limit, else 400.
fn unreadable(e: &axum::Error, max_body: usize) -> Response {
    if is_length_limit(e) {
        return too_large(max_body);
    }
    (
        StatusCode::BAD_REQUEST,
        format!("cannot read the body: {e}"),
    )
        .into_response()
}

fn is_length_limit(e: &axum::Error) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = source {
        if err.is::<http_body_util::LengthLimitError>() {
            return true;
        }
        source = err.source();
    }
    false
}

fn too_large(max_body: usize) -> Response {
    tracing::info!(max_body, "request body over the limit; refused (413)");
    let body = serde_json::json!({
        "jsonrpc": "2.0",
        "id": null,
        "error": {
            "code": -32600,
            "message": format!("request body larger than the limit of {max_body} bytes"),
        },
    });
    (StatusCode::PAYLOAD_TOO_LARGE, axum::Json(body)).into_response()
}
