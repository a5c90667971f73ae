//! The fast path's HTTP side: which `POST`s may skip rmcp's `StreamableHttpService`, and the
//! sessions they belong to.
//!
//! rmcp answers `initialize` and so creates each session; the endpoint's session manager
//! (`serve::parked`) keeps, for every session, the [`HubSession`] the service factory built for
//! it, whether rmcp runs the session now or it is parked. A later `POST` carrying that id goes
//! to [`HubSession::fast`] when it passes the same checks rmcp would make (host, `Accept`,
//! `Content-Type`, protocol version header, no SEP-2243 headers, a known session); otherwise,
//! or when the gateway falls back, it goes to rmcp unchanged (which restores a parked session
//! first). The answer is one JSON message ([`respond`]) or, for a call that reported progress,
//! an event stream of that progress and then the answer ([`respond_stream`]). A fast request
//! counts as the session's activity for the idle timeout. `MCP2_FAST_PATH=off` switches it off.

use axum::body::Body;
use axum::response::Response;
use bytes::Bytes;
use futures::StreamExt;
use http::{HeaderMap, HeaderValue, StatusCode, header};

use super::parked::EndpointSessions;
use crate::gateway::FastStream;
use crate::gateway::handler::HubSession;

/// The header that names a Streamable HTTP session.
pub(super) const SESSION_ID: &str = "mcp-session-id";

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

/// The session a `POST` with these headers belongs to, when the fast path may take it (see
/// the module docs). `sessions` are those of the endpoint the request was sent to: a session
/// of another endpoint is not one of them (rmcp answers it 404).
pub fn session(
    headers: &HeaderMap,
    loopback: bool,
    sessions: &EndpointSessions,
) -> Option<HubSession> {
    let id = headers.get(SESSION_ID)?.to_str().ok()?;
    if !acceptable(headers, loopback) {
        return None;
    }
    let hub = sessions.serving(id)?;
    hub.protocol_matches(headers.get("mcp-protocol-version"))
        .then_some(hub)
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
