//! One connection attempt: open the transport, do the MCP handshake, and own the result.
//! The handshake is `initialize` or `server/discover` as `era` decides; an `auto` upstream
//! that refuses `initialize` the way a 2026-only server does is opened again with discover.
//!
//! [`Connection`] is what a live upstream is made of: the rmcp client service, the token fired
//! when the transport ends, and, for stdio, the child. It can tell when it ended (and why) and
//! shut itself down completely (the child killed and reaped).

use std::time::Duration;

use rmcp::service::{ClientCacheConfig, ClientInitializeError, RoleClient, RunningService};
use rmcp::transport::Transport;
use rmcp::transport::streamable_http_client::StreamableHttpError;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::client::UpstreamClient;
use super::era::{self, Lifecycle};
use super::error::{Redactor, UpstreamError, display_url};
use super::handle::UpstreamHandle;
use super::sse::SseTransportError;
use super::stdio::{StdioChild, StdioCommand};
use super::watched::Watched;
use super::{http, sse, stdio};
use crate::plan::TransportSpec;

/// How long rmcp may take to wind its service loop down when we stop a connection.
const SERVICE_CLOSE_LIMIT: Duration = Duration::from_secs(2);

pub(crate) struct Connection {
    pub(crate) service: RunningService<RoleClient, UpstreamClient>,
    /// Fired by the transport when the upstream's stream ends.
    pub(crate) closed: CancellationToken,
    pub(crate) child: Option<StdioChild>,
}

impl Connection {
    /// Stops everything this connection owns: the rmcp service (which closes the transport, and
    /// so the child's stdin), then the child, reaped.
    pub(crate) async fn shutdown(self) {
        let Connection {
            mut service, child, ..
        } = self;
        let _ = service.close_with_timeout(SERVICE_CLOSE_LIMIT).await;
        if let Some(child) = child {
            child.stop().await;
        }
    }
}

/// What a connection attempt needs besides the handle.
pub(crate) struct Attempt<'a> {
    pub(crate) handle: &'a UpstreamHandle,
    pub(crate) service: UpstreamClient,
    /// The upstream's pooled HTTP client (unused for stdio).
    pub(crate) http: &'a reqwest::Client,
    pub(crate) redactor: &'a Redactor,
}

pub(crate) async fn connect(attempt: Attempt<'_>) -> Result<Connection, UpstreamError> {
    let spec = attempt.handle.spec();
    let deadline = Instant::now() + spec.connect_timeout;
    let first = Lifecycle::first(spec);
    let failed = match connect_as(&attempt, first, deadline).await {
        Ok(connection) => return Ok(connection),
        Err(failed) => failed,
    };
    if !(failed.refused_initialize && era::may_discover(spec)) {
        return Err(failed.error);
    }
    tracing::info!(
        upstream = %spec.id,
        refused = %failed.error,
        "the upstream refused `initialize`; connecting with `server/discover` (protocol 2026-07-28)"
    );
    connect_as(&attempt, Lifecycle::Discover, deadline)
        .await
        .map_err(|discover| UpstreamError::Handshake {
            reason: format!(
                "`initialize` was refused ({}) and `server/discover` failed too: {}",
                failed.error, discover.error
            ),
        })
}

/// A failed attempt, and whether it failed as a 2026-only server refuses `initialize`.
struct Failed {
    error: UpstreamError,
    refused_initialize: bool,
}

impl From<UpstreamError> for Failed {
    fn from(error: UpstreamError) -> Self {
        Failed {
            error,
            refused_initialize: false,
        }
    }
}

async fn connect_as(
    attempt: &Attempt<'_>,
    lifecycle: Lifecycle,
    deadline: Instant,
) -> Result<Connection, Failed> {
    let Attempt {
        handle,
        service,
        http: client,
        redactor,
    } = attempt;
    let (handle, client, redactor) = (*handle, *client, *redactor);
    let service = service.clone();
    let spec = handle.spec();
    let closed = CancellationToken::new();
    let timed_out = || UpstreamError::Timeout {
        what: "connecting and the MCP handshake",
        after: spec.connect_timeout,
    };
    match &spec.transport {
        TransportSpec::Stdio {
            command,
            args,
            env,
            cwd,
        } => {
            let cmd = StdioCommand {
                command,
                args,
                env,
                cwd: cwd.as_ref(),
            };
            let (transport, child) = stdio::spawn(&spec.id, cmd, redactor)?;
            handle.set_pid(child.pid());
            let watched = Watched::new(transport, closed.clone());
            match handshake(service, watched, lifecycle, deadline, command, redactor).await {
                Ok(Some(service)) => Ok(Connection {
                    service,
                    closed,
                    child: Some(child),
                }),
                failed => {
                    let mut failed = failed.err().unwrap_or_else(|| timed_out().into());
                    failed.error = explain_child_exit(&child, failed.error).await;
                    child.stop().await;
                    handle.set_pid(None);
                    Err(failed)
                }
            }
        }
        TransportSpec::Http { url } => {
            let headers = http::header_map(spec)?;
            if handle.tokens().is_none() {
                handle
                    .lane()
                    .set_fixed(client, url, &headers, spec.connect_timeout);
            }
            let transport = http::transport(
                &spec.id,
                url,
                client.clone(),
                headers,
                handle.counters().clone(),
                handle.lane().clone(),
                handle.tokens().cloned(),
            );
            let watched = Watched::new(transport, closed.clone());
            let target = display_url(url);
            let service = handshake(service, watched, lifecycle, deadline, &target, redactor)
                .await?
                .ok_or_else(timed_out)?;
            Ok(Connection {
                service,
                closed,
                child: None,
            })
        }
        TransportSpec::Sse { url } => {
            let headers = http::header_map(spec)?;
            let opened = tokio::time::timeout_at(
                deadline,
                sse::connect(
                    &spec.id,
                    url,
                    client.clone(),
                    headers,
                    handle.tokens().cloned(),
                    spec.timeout,
                ),
            )
            .await
            .map_err(|_| timed_out())?;
            let transport = opened.map_err(|e| sse_error(&e, &display_url(url), redactor))?;
            let watched = Watched::new(transport, closed.clone());
            let target = display_url(url);
            let service = handshake(service, watched, lifecycle, deadline, &target, redactor)
                .await?
                .ok_or_else(timed_out)?;
            Ok(Connection {
                service,
                closed,
                child: None,
            })
        }
    }
}

/// The `initialize` or `server/discover` exchange, bounded by `deadline`; `Ok(None)` when the
/// deadline passed. rmcp's own list cache is turned off before anyone sees the peer: the
/// gateway caches.
async fn handshake<T>(
    service: UpstreamClient,
    transport: T,
    lifecycle: Lifecycle,
    deadline: Instant,
    target: &str,
    redactor: &Redactor,
) -> Result<Option<RunningService<RoleClient, UpstreamClient>>, Failed>
where
    T: Transport<RoleClient> + 'static,
{
    let serving = rmcp::serve_client_with_lifecycle(service, transport, lifecycle.mode());
    let served = tokio::time::timeout_at(deadline, serving).await;
    match served {
        Err(_) => Ok(None),
        Ok(Err(error)) => Err(Failed {
            error: init_error(&error, target, redactor),
            refused_initialize: lifecycle == Lifecycle::Initialize
                && era::refused_initialize(&error),
        }),
        Ok(Ok(running)) => {
            running
                .peer()
                .set_response_cache_config(ClientCacheConfig::disabled())
                .await;
            Ok(Some(running))
        }
    }
}

/// A stdio handshake that failed because the child died says so, with its exit status.
async fn explain_child_exit(child: &StdioChild, error: UpstreamError) -> UpstreamError {
    let exited = tokio::time::timeout(Duration::from_millis(300), child.exited()).await;
    match (exited, child.exit_description()) {
        (Ok(()), Some(exit)) => UpstreamError::Handshake {
            reason: format!("the process ended before answering `initialize` ({exit})"),
        },
        _ => error,
    }
}

fn init_error(error: &ClientInitializeError, target: &str, redactor: &Redactor) -> UpstreamError {
    match error {
        ClientInitializeError::TransportError { error, .. } => {
            let cause: &(dyn std::error::Error + 'static) = error.error.as_ref();
            transport_error(cause, target, redactor)
        }
        ClientInitializeError::ConnectionClosed(_) => UpstreamError::Closed {
            reason: "the upstream closed the connection during the MCP handshake".into(),
        },
        ClientInitializeError::Cancelled => UpstreamError::Closed {
            reason: "cancelled during the MCP handshake".into(),
        },
        other => UpstreamError::Handshake {
            reason: redactor.chain(other),
        },
    }
}

/// Maps a transport failure to `Http { status }` when an HTTP status is known, else `Connect`.
pub(crate) fn transport_error(
    cause: &(dyn std::error::Error + 'static),
    target: &str,
    redactor: &Redactor,
) -> UpstreamError {
    if let Some(e) = cause.downcast_ref::<SseTransportError>() {
        return sse_error(e, target, redactor);
    }
    if let Some(e) = cause.downcast_ref::<StreamableHttpError<reqwest::Error>>() {
        let status = match e {
            StreamableHttpError::HttpStatus(s) => Some(s.status),
            StreamableHttpError::AuthRequired(_) => Some(401),
            StreamableHttpError::InsufficientScope(_) => Some(403),
            StreamableHttpError::Client(r) => r.status().map(|s| s.as_u16()),
            StreamableHttpError::UnexpectedServerResponse(text) => leading_http_status(text),
            _ => None,
        };
        if let Some(status) = status {
            return UpstreamError::Http {
                target: target.to_string(),
                status,
            };
        }
        if let StreamableHttpError::Client(r) = e {
            return UpstreamError::Connect {
                target: target.to_string(),
                reason: redactor.chain(r),
            };
        }
    }
    UpstreamError::Connect {
        target: target.to_string(),
        reason: redactor.chain(cause),
    }
}

fn sse_error(e: &SseTransportError, target: &str, redactor: &Redactor) -> UpstreamError {
    match e.status() {
        Some(status) => UpstreamError::Http {
            target: target.to_string(),
            status,
        },
        None => UpstreamError::Connect {
            target: target.to_string(),
            reason: redactor.chain(e),
        },
    }
}

/// rmcp reports some HTTP failures only as text starting `HTTP 401 Unauthorized: …`.
fn leading_http_status(text: &str) -> Option<u16> {
    let rest = text.strip_prefix("HTTP ")?;
    let code = rest.get(..3)?;
    code.parse().ok().filter(|c| (100..600).contains(c))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_status_rmcp_puts_in_text() {
        assert_eq!(
            leading_http_status("HTTP 401 Unauthorized: nope"),
            Some(401)
        );
        assert_eq!(leading_http_status("HTTP/1.1 garbage"), None);
        assert_eq!(leading_http_status("whatever"), None);
    }
}
