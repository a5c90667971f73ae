//! Legacy HTTP+SSE downstream (the 2024-11-05 transport), for clients that predate Streamable
//! HTTP, on the path an endpoint names with `sse "/sse"`.
//!
//! `GET /sse` opens a session: the response is an event stream whose first event, `endpoint`,
//! names where to post (`/sse?sessionId=<uuid>`), followed by one `message` event per
//! JSON-RPC message from mcp2. `POST /sse?sessionId=<uuid>` carries one client message and is
//! answered `202 Accepted`; the answer travels on the stream. Each stream is one
//! [`HubSession`] (the same handler as every other transport, so sessions, per-client
//! upstreams and the way back work alike), served by rmcp over a pair of channels. Closing
//! the stream ends the session. rmcp has no server side for this transport, hence this file.

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures::channel::mpsc;
use futures::{SinkExt, StreamExt};
use http::StatusCode;
use rmcp::ServiceExt;
use rmcp::model::ClientJsonRpcMessage;
use tokio_util::sync::CancellationToken;

use crate::gateway::handler::HubSession;
use crate::gateway::{Binding, Gateway};
use crate::plan::Endpoint;

/// How often an idle stream carries a comment, so proxies keep it open.
const KEEP_ALIVE: Duration = Duration::from_secs(15);
/// Client messages that may wait for the session before a POST is refused.
const INBOX: usize = 64;

/// The open legacy sessions, by id.
#[derive(Default)]
pub struct LegacySessions {
    /// A std Mutex: held to insert, look up or remove a sender, never across an await.
    inboxes: Mutex<HashMap<String, mpsc::Sender<ClientJsonRpcMessage>>>,
}

impl LegacySessions {
    /// `GET`: starts a session and returns its event stream.
    pub fn open(
        self: &Arc<Self>,
        gateway: Arc<Gateway>,
        endpoint: &Endpoint,
        path: &str,
        identity: &crate::plan::authz::Identity,
        shutdown: &CancellationToken,
    ) -> Response {
        let id = uuid::Uuid::new_v4().simple().to_string();
        let (inbox_tx, inbox_rx) = mpsc::channel::<ClientJsonRpcMessage>(INBOX);
        let (outbox_tx, outbox_rx) = mpsc::channel(INBOX);
        self.inboxes
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(id.clone(), inbox_tx);
        let binding = Binding {
            profile: endpoint.profile.clone(),
            only_upstream: endpoint.only_upstream.clone(),
        };
        let session =
            HubSession::new(gateway, binding, endpoint.path.as_str()).with_identity(identity);
        let stop = shutdown.child_token();
        let transport = (outbox_tx.sink_map_err(std::io::Error::other), inbox_rx);
        let served_stop = stop.clone();
        tokio::spawn(async move {
            match session.serve_with_ct(transport, served_stop).await {
                Ok(running) => {
                    let _ = running.waiting().await;
                }
                Err(e) => tracing::info!(error = %e, "legacy SSE session ended before it began"),
            }
        });
        tracing::debug!(session = %id, %path, "legacy SSE session opened");
        let endpoint_event = Event::default()
            .event("endpoint")
            .data(format!("{path}?sessionId={id}"));
        let messages = outbox_rx.map(|message: rmcp::model::ServerJsonRpcMessage| {
            let data = serde_json::to_string(&message).unwrap_or_default();
            Event::default().event("message").data(data)
        });
        let closer = Closer {
            sessions: self.clone(),
            id,
            stop,
        };
        let stream = futures::stream::once(async move { endpoint_event })
            .chain(messages)
            .map(move |event| {
                let _keep = &closer;
                Ok::<_, Infallible>(event)
            });
        Sse::new(stream)
            .keep_alive(KeepAlive::new().interval(KEEP_ALIVE))
            .into_response()
    }

    /// `POST ?sessionId=…`: hands one client message to its session.
    pub async fn post(&self, query: Option<&str>, body: Bytes) -> Response {
        let Some(id) = session_id(query) else {
            return (StatusCode::BAD_REQUEST, "sessionId is missing").into_response();
        };
        let inbox = self
            .inboxes
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(id)
            .cloned();
        let Some(mut inbox) = inbox else {
            return (StatusCode::NOT_FOUND, "no such session").into_response();
        };
        let message: ClientJsonRpcMessage = match serde_json::from_slice(&body) {
            Ok(m) => m,
            Err(e) => {
                return (
                    StatusCode::BAD_REQUEST,
                    format!("not a JSON-RPC message: {e}"),
                )
                    .into_response();
            }
        };
        match inbox.send(message).await {
            Ok(()) => StatusCode::ACCEPTED.into_response(),
            Err(_) => (StatusCode::GONE, "the session has ended").into_response(),
        }
    }
}

fn session_id(query: Option<&str>) -> Option<&str> {
    query?
        .split('&')
        .find_map(|pair| pair.strip_prefix("sessionId="))
        .filter(|id| !id.is_empty())
}

/// Ends the session when its event stream is dropped (the client went away).
struct Closer {
    sessions: Arc<LegacySessions>,
    id: String,
    stop: CancellationToken,
}

impl Drop for Closer {
    fn drop(&mut self) {
        self.stop.cancel();
        self.sessions
            .inboxes
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&self.id);
        tracing::debug!(session = %self.id, "legacy SSE session closed");
    }
}

#[cfg(test)]
mod tests {
    use super::session_id;

    #[test]
    fn reads_the_session_id_from_the_query() {
        assert_eq!(session_id(Some("sessionId=abc")), Some("abc"));
        assert_eq!(session_id(Some("x=1&sessionId=abc")), Some("abc"));
        assert_eq!(session_id(Some("sessionId=")), None);
        assert_eq!(session_id(None), None);
    }
}
