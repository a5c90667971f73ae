//! The fast path's HTTP side: which `POST`s may skip rmcp's `StreamableHttpService`, and the
//! sessions they belong to.
//!
//! rmcp owns the Streamable HTTP sessions; this module only learns, when an `initialize` makes
//! one, which [`HubSession`] the service factory built for it ([`capture`], a task-local slot
//! around the `initialize` request) and the session id rmcp answered with. A later `POST`
//! carrying that id goes to [`HubSession::fast`] when it passes the same checks rmcp would
//! make (host, `Accept`, `Content-Type`, protocol version header, no SEP-2243 headers, a live
//! session); otherwise, or when the gateway falls back, it goes to rmcp unchanged. The answer
//! is one JSON message ([`respond`]) or, for a call that reported progress, an event stream
//! of that progress and then the answer ([`respond_stream`]). Entries
//! hold the session weakly: a session rmcp closed is gone here too. rmcp closes a session
//! that has seen no request for its keep-alive (the idle timeout), and fast requests never
//! reach it: so once a quarter of that time has passed since rmcp last saw the session, the
//! next request goes through rmcp, which keeps the session alive. `MCP2_FAST_PATH=off`
//! switches it off.

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::response::Response;
use bytes::Bytes;
use futures::StreamExt;
use http::{HeaderMap, HeaderValue, StatusCode, header};
use rmcp::transport::streamable_http_server::SessionManager;

use super::sessions::SealedSessions;
use crate::gateway::FastStream;
use crate::gateway::handler::{HubSession, WeakHub};

tokio::task_local! {
    static CAPTURED: RefCell<Option<WeakHub>>;
}

/// Runs `handle` (rmcp serving an `initialize`) and returns what it answered and the session
/// the factory built meanwhile, if any.
pub async fn capture<T, F: Future<Output = T>>(handle: F) -> (T, Option<WeakHub>) {
    let slot = RefCell::new(None);
    CAPTURED
        .scope(slot, async move {
            let response = handle.await;
            let built = CAPTURED.with(|slot| slot.borrow_mut().take());
            (response, built)
        })
        .await
}

/// Called by the service factory with each session it builds.
pub fn built(hub: &HubSession) {
    let _ = CAPTURED.try_with(|slot| *slot.borrow_mut() = Some(hub.downgrade()));
}

const SESSION_ID: &str = "mcp-session-id";

/// The environment variable that switches the fast path off (`MCP2_FAST_PATH=off`): every
/// request then goes through rmcp, as before the fast path existed. For comparisons and as an
/// escape hatch.
pub const SWITCH: &str = "MCP2_FAST_PATH";

/// Whether the fast path is on (it is unless [`SWITCH`] says `off`, `0` or `false`).
pub fn enabled() -> bool {
    !std::env::var(SWITCH).is_ok_and(|v| {
        matches!(
            v.trim().to_ascii_lowercase().as_str(),
            "off" | "0" | "false"
        )
    })
}

/// Sessions the fast path can serve, by rmcp session id.
pub struct FastSessions {
    /// A std Mutex: held only to look up or insert.
    sessions: Mutex<HashMap<Arc<str>, Entry>>,
    inserted: AtomicUsize,
    /// How often rmcp must see a session so that its keep-alive does not close it.
    refresh: Duration,
}

struct Entry {
    hub: WeakHub,
    manager: Arc<SealedSessions>,
    /// When rmcp last served a request of this session.
    seen_by_rmcp: Instant,
}

impl FastSessions {
    /// Sessions that rmcp closes after `idle` without a request.
    pub fn new(idle: Duration) -> Self {
        Self {
            sessions: Mutex::default(),
            inserted: AtomicUsize::new(0),
            refresh: idle / 4,
        }
    }
}

/// How many insertions between sweeps of entries whose session is gone.
const SWEEP_EVERY: usize = 256;

impl FastSessions {
    /// Remembers the session rmcp created with `response`, if it did.
    pub fn learn(&self, answered: &HeaderMap, hub: WeakHub, manager: &Arc<SealedSessions>) {
        let Some(id) = answered.get(SESSION_ID).and_then(|v| v.to_str().ok()) else {
            return;
        };
        if let Some(live) = hub.upgrade() {
            live.name_session(id);
        }
        let mut sessions = self.sessions.lock().unwrap_or_else(|p| p.into_inner());
        if self.inserted.fetch_add(1, Ordering::Relaxed) % SWEEP_EVERY == SWEEP_EVERY - 1 {
            sessions.retain(|_, e| e.hub.alive());
        }
        sessions.insert(
            id.into(),
            Entry {
                hub,
                manager: manager.clone(),
                seen_by_rmcp: Instant::now(),
            },
        );
    }

    /// The live session a `POST` with these headers belongs to, when the fast path may take
    /// it (see the module docs). `manager` holds the sessions of the endpoint the request was
    /// sent to: a session of another endpoint is not this one's (rmcp answers it 404).
    pub async fn session(
        &self,
        headers: &HeaderMap,
        loopback: bool,
        manager: &Arc<SealedSessions>,
    ) -> Option<HubSession> {
        let id = headers.get(SESSION_ID)?.to_str().ok()?;
        if !acceptable(headers, loopback) {
            return None;
        }
        let hub = {
            let mut sessions = self.sessions.lock().unwrap_or_else(|p| p.into_inner());
            let entry = sessions.get_mut(id)?;
            if !Arc::ptr_eq(&entry.manager, manager) {
                return None;
            }
            if entry.seen_by_rmcp.elapsed() >= self.refresh {
                // This one goes through rmcp, which resets the session's keep-alive.
                entry.seen_by_rmcp = Instant::now();
                return None;
            }
            entry.hub.upgrade()
        };
        let Some(hub) = hub else {
            self.sessions
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .remove(id);
            return None;
        };
        // rmcp may have closed it (DELETE, expiry) before dropping the handler.
        if !manager.has_session(&id.into()).await.unwrap_or(false) {
            return None;
        }
        hub.protocol_matches(headers.get("mcp-protocol-version"))
            .then_some(hub)
    }
}

/// Largest body the fast path reads; a larger one (or one of unknown length) goes to rmcp.
pub const BODY_LIMIT: usize = 4 * 1024 * 1024;

/// Whether the body of a request with these headers is small enough to read here: declared,
/// within [`BODY_LIMIT`] and within `limit` (the server's own body limit).
pub fn small_body(headers: &HeaderMap, limit: usize) -> bool {
    headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok())
        .is_some_and(|n| n <= BODY_LIMIT.min(limit))
}

/// The header checks rmcp makes before serving a `POST`; anything else is rmcp's to refuse.
fn acceptable(headers: &HeaderMap, loopback: bool) -> bool {
    let accepts = |media: &str| {
        headers
            .get_all(header::ACCEPT)
            .iter()
            .any(|v| v.to_str().is_ok_and(|v| v.contains(media)))
    };
    let json_body = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    let sep_2243 = headers.keys().any(|k| {
        let k = k.as_str();
        k == "mcp-method" || k == "mcp-name" || k.starts_with("mcp-param-")
    });
    accepts("application/json")
        && accepts("text/event-stream")
        && json_body
        && !sep_2243
        && super::guard::check_host(headers, loopback).is_ok()
}

/// The answer of the fast path: one JSON-RPC message.
pub fn respond(body: Vec<u8>) -> Response {
    let mut response = Response::new(Body::from(body));
    *response.status_mut() = StatusCode::OK;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

/// The answer of the fast path to a call that reported progress: an event stream of the
/// progress notifications as they arrive, then the answer (as rmcp answers on the request's
/// response stream). Dropping the body (the client went away) cancels the call.
pub fn respond_stream(stream: FastStream) -> Response {
    let events = stream.messages().map(|message| {
        let mut event = Vec::with_capacity(message.len() + 8);
        event.extend_from_slice(b"data: ");
        event.extend_from_slice(&message);
        event.extend_from_slice(b"\n\n");
        Ok::<_, std::convert::Infallible>(Bytes::from(event))
    });
    let mut response = Response::new(Body::from_stream(events));
    *response.status_mut() = StatusCode::OK;
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}
