//! The task that owns one upstream connection: connect, watch, reconnect, stop.
//!
//! ```text
//!  Connecting ──ok──► Connected ──ended──► Down ──backoff──► Connecting …
//!       └────failed──────────────────────►─┘        any state ──stop──► Stopped
//! ```
//!
//! A failure is logged with the upstream's name and published as `Down` with its (redacted)
//! error, the number of consecutive failures and when the next attempt is. Retries back off
//! exponentially with jitter ([`Backoff`]), so a crash-looping upstream costs at most a few
//! process starts a minute; each upstream has its own task, so one never delays another.
//! A drop is noticed when the transport's stream ends, when a stdio child exits, or (Streamable
//! HTTP only, where rmcp hides stream ends behind its own retries) when a liveness ping fails.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, SystemTime};

use backon::{BackoffBuilder, ExponentialBackoff, ExponentialBuilder};
use rmcp::model::{ClientRequest, ErrorCode, PingRequest};
use rmcp::service::{Peer, PeerRequestOptions, RoleClient, ServiceError};
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;

use super::client::{HandlerSlot, UpstreamClient, UpstreamEvent, client_config};
use super::connect::{Attempt, Connection, connect, transport_error};
use super::error::{Redactor, UpstreamError, display_url};
use super::handle::{UpstreamHandle, UpstreamState};
use super::{RegistryOptions, http};
use crate::plan::TransportSpec;

/// What every connection task shares with the registry.
pub(crate) struct Shared {
    pub(crate) events: broadcast::Sender<UpstreamEvent>,
    pub(crate) handler: HandlerSlot,
    /// What this connection claims the client side can do.
    pub(crate) client_capabilities: rmcp::model::ClientCapabilities,
    pub(crate) options: RegistryOptions,
}

/// Exponential backoff with jitter, from `backon`: the n-th consecutive failure waits
/// `min(backoff_min · 2ⁿ, backoff_max)` stretched by a random 0–100 %.
struct Backoff {
    builder: ExponentialBuilder,
    current: Option<ExponentialBackoff>,
    /// Never needed (`without_max_times`), but the iterator is allowed to end.
    fallback: Duration,
}

impl Backoff {
    fn new(options: &RegistryOptions) -> Self {
        let builder = ExponentialBuilder::default()
            .with_min_delay(options.backoff_min)
            .with_max_delay(options.backoff_max)
            .with_jitter()
            .without_max_times();
        Backoff {
            builder,
            current: None,
            fallback: options.backoff_max,
        }
    }

    fn next(&mut self) -> Duration {
        let builder = self.builder;
        let backoff = self.current.get_or_insert_with(|| builder.build());
        backoff.next().unwrap_or(self.fallback)
    }

    fn reset(&mut self) {
        self.current = None;
    }
}

fn publish(
    shared: &Shared,
    handle: &UpstreamHandle,
    state: UpstreamState,
    peer: Option<Peer<RoleClient>>,
) {
    handle.publish(state.clone(), peer);
    let _ = shared.events.send(UpstreamEvent::State {
        upstream: handle.id().clone(),
        instance: handle.instance(),
        state,
    });
}

/// Runs one upstream until `stop` is cancelled; then it is `Stopped` and its child reaped.
pub(crate) async fn run(handle: UpstreamHandle, shared: Arc<Shared>, stop: CancellationToken) {
    let spec = handle.spec().clone();
    let id = spec.id.clone();
    if handle.per_client_only() {
        return per_client_only(&shared, &handle, stop).await;
    }
    let redactor = Redactor::for_spec(&spec);
    let mut backoff = Backoff::new(&shared.options);
    let mut attempts: u32 = 0;
    let client = match http::build_client(&spec) {
        Ok(client) => Some(client),
        Err(error) => {
            tracing::error!(upstream = %id, %error, "upstream cannot be used");
            None
        }
    };

    loop {
        publish(&shared, &handle, UpstreamState::Connecting, None);
        let Some(client) = &client else {
            // Nothing to retry: the spec itself is unusable until a reload changes it.
            let error = UpstreamError::Config {
                reason: "the HTTP client could not be built".into(),
            };
            go_down(&shared, &handle, &redactor, error, 1, Duration::MAX);
            stop.cancelled().await;
            break;
        };
        let attempt = Attempt {
            handle: &handle,
            service: UpstreamClient {
                upstream: id.clone(),
                instance: handle.instance(),
                events: shared.events.clone(),
                handler: shared.handler.clone(),
                info: client_config(&shared.client_capabilities),
            },
            http: client,
            redactor: &redactor,
        };
        let connected = tokio::select! {
            result = connect(attempt) => result,
            _ = stop.cancelled() => break,
        };
        let (error, leftover) = match connected {
            Err(error) => (error, None),
            Ok(connection) => {
                attempts = 0;
                let started = tokio::time::Instant::now();
                match serve(&shared, &handle, &connection, &redactor, &stop).await {
                    None => {
                        connection.shutdown().await;
                        break;
                    }
                    Some(error) => {
                        if started.elapsed() >= shared.options.stable_after {
                            backoff.reset();
                        }
                        (error, Some(connection))
                    }
                }
            }
        };
        attempts = attempts.saturating_add(1);
        let delay = backoff.next();
        let retry_at = tokio::time::Instant::now() + delay;
        // Down is published before the teardown, which may take seconds (child reaping).
        go_down(&shared, &handle, &redactor, error, attempts, delay);
        if let Some(connection) = leftover {
            connection.shutdown().await;
        }
        tokio::select! {
            _ = tokio::time::sleep_until(retry_at) => {}
            _ = stop.cancelled() => break,
        }
    }
    handle.set_pid(None);
    publish(&shared, &handle, UpstreamState::Stopped, None);
    tracing::info!(upstream = %id, "upstream stopped");
}

/// The registry's own connection to an upstream that propagates the caller's identity: it has
/// no caller, so it never connects (each client's `session per-client` connection does, with
/// its token). It stays `Down` with the reason until stopped.
async fn per_client_only(shared: &Shared, handle: &UpstreamHandle, stop: CancellationToken) {
    let flow = handle
        .spec()
        .auth
        .as_ref()
        .map_or("identity propagation", |a| a.flow());
    tracing::info!(
        upstream = %handle.id(),
        flow,
        "upstream propagates the caller's identity: connected per client, with each caller's token"
    );
    let now = SystemTime::now();
    let down = UpstreamState::Down {
        error: format!(
            "not connected until a client is: `auth oauth {flow}` needs the caller's access token, \
             so each client gets its own connection"
        ),
        since: now,
        attempts: 0,
        retry_at: now,
    };
    publish(shared, handle, down, None);
    stop.cancelled().await;
    publish(shared, handle, UpstreamState::Stopped, None);
}

fn go_down(
    shared: &Shared,
    handle: &UpstreamHandle,
    redactor: &Redactor,
    error: UpstreamError,
    attempts: u32,
    delay: Duration,
) {
    handle.counters().failures.fetch_add(1, Ordering::Relaxed);
    handle.set_pid(None);
    let now = SystemTime::now();
    let message = redactor.clean(error.to_string());
    tracing::warn!(
        upstream = %handle.id(),
        transport = handle.spec().transport.kind(),
        attempts,
        retry_in_ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX),
        error = %message,
        "upstream down"
    );
    let down = UpstreamState::Down {
        error: message,
        since: now,
        attempts,
        retry_at: now.checked_add(delay).unwrap_or(now),
    };
    publish(shared, handle, down, None);
}

/// Publishes a live connection and waits for it to end: the reason, or `None` when stopped.
/// The caller tears the connection down.
async fn serve(
    shared: &Shared,
    handle: &UpstreamHandle,
    connection: &Connection,
    redactor: &Redactor,
    stop: &CancellationToken,
) -> Option<UpstreamError> {
    let peer = connection.service.peer().clone();
    let Some(info) = peer.peer_info() else {
        return Some(UpstreamError::Handshake {
            reason: "rmcp finished the handshake without the server's information".into(),
        });
    };
    handle.counters().connects.fetch_add(1, Ordering::Relaxed);
    let offered = client_config(&shared.client_capabilities).protocol_version;
    tracing::info!(
        upstream = %handle.id(),
        transport = handle.spec().transport.kind(),
        pid = ?connection.child.as_ref().and_then(|c| c.pid()),
        protocol = %info.protocol_version,
        offered = %offered,
        server = info.server_info.as_ref().map(|s| s.name.as_str()).unwrap_or("?"),
        server_version = info.server_info.as_ref().map(|s| s.version.as_str()).unwrap_or("?"),
        "upstream connected"
    );
    let connected = UpstreamState::Connected {
        since: SystemTime::now(),
        server_info: info,
    };
    publish(shared, handle, connected, Some(peer.clone()));

    let liveness = match (
        &handle.spec().transport,
        shared.options.http_liveness_interval,
    ) {
        (TransportSpec::Http { url }, Some(every)) => Some(Liveness {
            every,
            timeout: handle.spec().timeout.min(every),
            target: display_url(url),
            redactor,
        }),
        _ => None,
    };
    tokio::select! {
        reason = ended(connection, &peer, liveness) => Some(reason),
        _ = stop.cancelled() => None,
    }
}

/// Resolves with the reason when the connection is over.
async fn ended(
    connection: &Connection,
    peer: &Peer<RoleClient>,
    liveness: Option<Liveness<'_>>,
) -> UpstreamError {
    let child_exit = async {
        match &connection.child {
            Some(child) => child.exited().await,
            None => std::future::pending().await,
        }
    };
    let probe = async {
        match liveness {
            Some(liveness) => liveness.probe_until_dead(peer).await,
            None => std::future::pending().await,
        }
    };
    tokio::select! {
        _ = connection.closed.cancelled() => {
            // A dying child closes stdout first; give its exit status a moment to arrive.
            if let Some(child) = &connection.child {
                let _ = tokio::time::timeout(Duration::from_millis(100), child.exited()).await;
            }
            let reason = match connection.child.as_ref().and_then(|c| c.exit_description()) {
                Some(exit) => format!("the process ended ({exit})"),
                None => "the upstream closed the stream".into(),
            };
            UpstreamError::Closed { reason }
        }
        _ = child_exit => {
            let exit = connection.child.as_ref().and_then(|c| c.exit_description());
            UpstreamError::Closed {
                reason: format!("the process ended ({})", exit.unwrap_or_default()),
            }
        }
        error = probe => error,
    }
}

/// The liveness probe of a Streamable HTTP connection.
struct Liveness<'a> {
    every: Duration,
    timeout: Duration,
    target: String,
    redactor: &'a Redactor,
}

impl Liveness<'_> {
    /// Pings every `every`; a transport failure, an error answer, or two timeouts in a row
    /// mean the upstream is gone. "Method not found" (a server without `ping`) still proves it
    /// is there; any other error answer usually means our session died with a server restart
    /// (some servers answer 400 rather than the 404 that rmcp recovers from), and a new
    /// connection fixes that.
    async fn probe_until_dead(&self, peer: &Peer<RoleClient>) -> UpstreamError {
        let mut timeouts = 0;
        loop {
            tokio::time::sleep(self.every).await;
            let ping = ClientRequest::PingRequest(PingRequest::default());
            let sent = peer
                .send_request_with_option(ping, PeerRequestOptions::with_timeout(self.timeout))
                .await;
            let answer = match sent {
                Ok(request) => request.await_response().await,
                Err(e) => Err(e),
            };
            let reason = match answer {
                Ok(_) | Err(ServiceError::UnexpectedResponse) => {
                    timeouts = 0;
                    continue;
                }
                Err(ServiceError::McpError(e)) if e.code == ErrorCode::METHOD_NOT_FOUND => {
                    timeouts = 0;
                    continue;
                }
                Err(ServiceError::Timeout { .. }) => {
                    timeouts += 1;
                    if timeouts < 2 {
                        continue;
                    }
                    "the upstream stopped answering pings".to_string()
                }
                Err(ServiceError::McpError(e)) => {
                    format!("the upstream answered a ping with an error: {}", e.message)
                }
                Err(ServiceError::TransportSend(e)) => {
                    let error = transport_error(e.error.as_ref(), &self.target, self.redactor);
                    format!("liveness ping failed: {error}")
                }
                Err(e) => format!("liveness ping failed: {e}"),
            };
            return UpstreamError::Closed {
                reason: self.redactor.clean(reason),
            };
        }
    }
}
