//! The fast path's way back: POSTs one call on an upstream's raw lane and reads its answer.
//!
//! A Streamable HTTP upstream answers a request with one JSON message or with an SSE stream.
//! On the stream, besides the answer, it may send notifications (delivered exactly as the rmcp
//! client delivers its own: to the gateway's handler, then on the events channel) and
//! server→client requests (sampling, elicitation, roots: handed to the registry's one
//! server-request handler, attributed to this call by its upstream id, the way rmcp tags a
//! request that arrived on the response stream of one of its own; the client's answer is
//! POSTed back on the same upstream session). A cancellation the upstream sends for one of
//! those requests cancels it.
//!
//! While the call runs it is in the in-flight table and counted in the upstream's in-flight
//! requests; the client's `notifications/cancelled`, the client going away and the upstream's
//! timeout all cancel it upstream (`notifications/cancelled` on the rmcp client's session).

use std::collections::HashMap;
use std::time::Duration;

use bytes::Bytes;
use futures::{FutureExt, StreamExt};
use rmcp::ErrorData as McpError;
use rmcp::model::{
    GetExtensions, GetMeta, NumberOrString, ProgressToken, RequestId, ServerJsonRpcMessage,
    ServerNotification, ServerRequest,
};
use rmcp::service::{InboundStreamOrigin, RequestContext};
use serde::Deserialize;
use serde_json::value::RawValue;
use sse_stream::SseStream;
use tokio_util::sync::CancellationToken;

use super::GatewayError;
use super::calls::Call;
use super::fast_progress::ProgressRoute;
use super::forward::CancelOnDrop;
use super::handler::HubSession;
use crate::upstream::{RawAnswer, RawHttp, ServerRequestCall, UpstreamHandle};

/// The upstream's answer to the call.
#[derive(Debug)]
pub(super) enum Reply {
    Result(Box<RawValue>),
    Error(Box<RawValue>),
}

#[derive(Debug)]
pub(super) enum Outcome {
    Reply(Reply),
    /// The upstream did not run it (it no longer knows the session).
    NotSent,
    /// The error the client gets.
    Failed(GatewayError),
}

/// Just enough of an upstream message to tell the answer from the rest.
#[derive(Deserialize)]
struct Incoming<'a> {
    #[serde(borrow)]
    id: Option<&'a RawValue>,
    #[serde(borrow)]
    method: Option<&'a RawValue>,
    #[serde(borrow)]
    result: Option<&'a RawValue>,
    #[serde(borrow)]
    error: Option<&'a RawValue>,
}

/// One call for the upstream's raw lane.
pub(super) struct Exchange {
    pub(super) raw: RawHttp,
    /// The request, with `upstream_id` as its id (and progress token, if any).
    pub(super) body: Vec<u8>,
    pub(super) upstream_id: String,
    /// The client's id of the call.
    pub(super) downstream: RequestId,
    /// The client's progress token, if it asked for progress.
    pub(super) client_token: Option<ProgressToken>,
    /// Where progress on the answer stream goes (the call's own response).
    pub(super) progress: Option<ProgressRoute>,
}

impl HubSession {
    pub(super) async fn fast_send(&self, handle: &UpstreamHandle, exchange: Exchange) -> Outcome {
        let Exchange {
            raw,
            body,
            upstream_id,
            downstream,
            client_token,
            progress,
        } = exchange;
        let _in_flight = handle.begin_request();
        let request_id = RequestId::String(upstream_id.as_str().into());
        let guard = self.gateway.calls.begin(
            handle.instance(),
            Call {
                session: self.session.clone(),
                downstream: downstream.clone(),
                progress: client_token,
                inbox: None,
            },
        );
        guard.sent(&request_id, &token_of(&upstream_id));
        let fast_call = self.session.fast_call(downstream);
        let mut cancel = CancelOnDrop {
            peer: handle.peer(),
            id: request_id.clone(),
        };
        let timeout = handle.spec().timeout;
        let upstream = handle.id();
        // Like the full stack's, the timeout restarts whenever the upstream reports progress.
        let alive = progress.as_ref().map(ProgressRoute::alive);
        let reported = progress_reported(alive.as_deref());
        let exchange = self.exchange(handle, raw, body, &upstream_id, request_id, progress);
        tokio::pin!(exchange, reported);
        let deadline = tokio::time::sleep(timeout);
        tokio::pin!(deadline);
        let outcome = loop {
            tokio::select! {
                outcome = &mut exchange => break outcome,
                () = &mut reported => {
                    deadline.as_mut().reset(tokio::time::Instant::now() + timeout);
                    reported.set(progress_reported(alive.as_deref()));
                }
                () = &mut deadline => {
                    let timed_out = GatewayError::Timeout {
                        upstream: upstream.clone(),
                        method: "tools/call",
                        after: timeout,
                    };
                    return Outcome::Failed(timed_out);
                }
                () = fast_call.token.cancelled() => {
                    cancel.fire("cancelled by the client");
                    return Outcome::Failed(GatewayError::Cancelled { method: "tools/call" });
                }
            }
        };
        cancel.peer = None;
        outcome
    }

    async fn exchange(
        &self,
        handle: &UpstreamHandle,
        raw: RawHttp,
        body: Vec<u8>,
        upstream_id: &str,
        request_id: RequestId,
        progress: Option<ProgressRoute>,
    ) -> Outcome {
        let failed = |message: String| {
            let error = GatewayError::Transport {
                upstream: handle.id().clone(),
                message,
            };
            Outcome::Failed(error)
        };
        let mut response = match raw.post(Bytes::from(body)).await {
            Ok(RawAnswer::SessionUnknown) => return Outcome::NotSent,
            Ok(RawAnswer::Response(response)) => response,
            Err(e) => return failed(e.to_string()),
        };
        let status = response.status;
        let content_type = std::mem::take(&mut response.content_type);
        let ours = format!("\"{upstream_id}\"");
        if content_type.starts_with(b"text/event-stream") && status.is_success() {
            let mut side = Side::new(self, handle, &raw, request_id);
            side.progress = progress.map(|route| (token_of(upstream_id), route));
            let mut events = SseStream::from_bytes_stream(response.body);
            while let Some(event) = events.next().await {
                let event = match event {
                    Ok(event) => event,
                    Err(e) => return failed(format!("answer stream broke: {e}")),
                };
                let Some(data) = event.data.filter(|d| !d.trim().is_empty()) else {
                    continue;
                };
                match answer_in(&data, &ours) {
                    Some(reply) => {
                        finish_reading(events);
                        return Outcome::Reply(reply);
                    }
                    None => side.message(&data),
                }
            }
            return failed("the upstream closed the answer stream before answering".into());
        }
        if content_type.starts_with(b"application/json") {
            let bytes = match response.bytes().await {
                Ok(bytes) => bytes,
                Err(e) => return failed(e.to_string()),
            };
            if let Some(reply) = std::str::from_utf8(&bytes)
                .ok()
                .and_then(|text| answer_in(text, &ours))
            {
                return Outcome::Reply(reply);
            }
        }
        failed(format!("unexpected answer: HTTP {status}"))
    }
}

/// How long the rest of an answered stream is read for, at most (see [`finish_reading`]).
const FINISH_LIMIT: Duration = Duration::from_secs(5);

/// Reads the rest of an answer stream once the answer is out: normally only its end, which
/// is what lets the connection go back to the upstream's pool. Dropped unread, the response
/// closes its connection and a later call opens a new one (measured: one call in six paid for
/// a TCP connect, on both sides, and the p99 with it). The end is usually there already;
/// otherwise a task waits for it, for [`FINISH_LIMIT`] at most. A message after the answer
/// (an upstream ends the stream with its answer) is not delivered.
fn finish_reading<S>(mut events: S)
where
    S: futures::Stream + Unpin + Send + 'static,
{
    loop {
        match events.next().now_or_never() {
            Some(Some(_)) => continue,
            Some(None) => return,
            None => break,
        }
    }
    tokio::spawn(async move {
        let rest = async { while events.next().await.is_some() {} };
        let _ = tokio::time::timeout(FINISH_LIMIT, rest).await;
    });
}

/// Resolves when the upstream reports progress on the call (never for a call without).
async fn progress_reported(alive: Option<&tokio::sync::Notify>) {
    match alive {
        Some(alive) => alive.notified().await,
        None => std::future::pending().await,
    }
}

/// The answer to our request `ours` (its id as JSON), if `data` is it.
fn answer_in(data: &str, ours: &str) -> Option<Reply> {
    let incoming: Incoming<'_> = serde_json::from_str(data).ok()?;
    if incoming.method.is_some() || incoming.id.map(RawValue::get) != Some(ours) {
        return None;
    }
    let own = |v: &RawValue| RawValue::from_string(v.get().to_string()).ok();
    match (incoming.result, incoming.error) {
        (Some(result), _) => own(result).map(Reply::Result),
        (None, Some(error)) => own(error).map(Reply::Error),
        (None, None) => None,
    }
}

/// What else arrives on the answer stream of one call.
struct Side<'a> {
    hub: &'a HubSession,
    handle: &'a UpstreamHandle,
    raw: &'a RawHttp,
    /// Our id of the call: the origin of requests on its stream.
    origin: RequestId,
    /// Server→client requests of this stream still running, to cancel on the upstream's word.
    running: HashMap<RequestId, CancellationToken>,
    /// The call's own progress token upstream, and where its progress goes: the call's own
    /// response (not the client's session, so it arrives once).
    progress: Option<(ProgressToken, ProgressRoute)>,
}

fn token_of(upstream_id: &str) -> ProgressToken {
    ProgressToken(NumberOrString::String(upstream_id.into()))
}

impl<'a> Side<'a> {
    fn new(
        hub: &'a HubSession,
        handle: &'a UpstreamHandle,
        raw: &'a RawHttp,
        origin: RequestId,
    ) -> Self {
        Side {
            hub,
            handle,
            raw,
            origin,
            running: HashMap::new(),
            progress: None,
        }
    }

    fn message(&mut self, data: &str) {
        let message: ServerJsonRpcMessage = match serde_json::from_str(data) {
            Ok(message) => message,
            Err(e) => {
                tracing::debug!(upstream = %self.handle.id(), error = %e, "unreadable message on an answer stream; ignored");
                return;
            }
        };
        match message {
            ServerJsonRpcMessage::Notification(n) => {
                if let ServerNotification::ProgressNotification(p) = &n.notification
                    && let Some((ours, route)) = &self.progress
                    && p.params.progress_token == *ours
                {
                    route.forward(data);
                    return;
                }
                if let ServerNotification::CancelledNotification(c) = &n.notification
                    && let Some(token) = c
                        .params
                        .request_id
                        .as_ref()
                        .and_then(|id| self.running.remove(id))
                {
                    token.cancel();
                    return;
                }
                self.hub.gateway.registry().deliver_notification(
                    self.handle.id(),
                    self.handle.instance(),
                    n.notification,
                );
            }
            ServerJsonRpcMessage::Request(r) => self.request(r.id, r.request),
            ServerJsonRpcMessage::Response(_) | ServerJsonRpcMessage::Error(_) => {}
        }
    }

    /// A server→client request: routed as the rmcp client routes its own, answered upstream.
    fn request(&mut self, id: RequestId, mut request: ServerRequest) {
        let raw = self.raw.clone();
        if let ServerRequest::PingRequest(_) = request {
            tokio::spawn(answer(raw, id, Ok(serde_json::json!({}))));
            return;
        }
        let Some(peer) = self.handle.peer() else {
            let refused = McpError::internal_error("the upstream connection is not ready", None);
            tokio::spawn(answer(raw, id, Err(refused)));
            return;
        };
        let mut context = RequestContext::new(id.clone(), peer);
        std::mem::swap(&mut context.meta, request.get_meta_mut());
        std::mem::swap(&mut context.extensions, request.extensions_mut());
        context
            .extensions
            .insert(InboundStreamOrigin::OutboundRequest(self.origin.clone()));
        self.running.insert(id.clone(), context.ct.clone());
        let handler = self.hub.gateway.registry().server_request_handler();
        let call = ServerRequestCall {
            upstream: self.handle.id().clone(),
            instance: self.handle.instance(),
            request,
            context,
        };
        tokio::spawn(async move {
            let result = handler.handle(call).await;
            let result = result.and_then(|r| {
                serde_json::to_value(r).map_err(|e| McpError::internal_error(e.to_string(), None))
            });
            answer(raw, id, result).await;
        });
    }
}

/// Sends the client's answer to a server→client request back upstream.
async fn answer(raw: RawHttp, id: RequestId, result: Result<serde_json::Value, McpError>) {
    let message = match result {
        Ok(result) => serde_json::json!({ "jsonrpc": "2.0", "id": id, "result": result }),
        Err(error) => serde_json::json!({ "jsonrpc": "2.0", "id": id, "error": error }),
    };
    let Ok(body) = serde_json::to_vec(&message) else {
        return;
    };
    if let Err(e) = raw.post(Bytes::from(body)).await {
        tracing::warn!(error = %e, "could not send an answer to a server->client request upstream");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_our_answer_is_taken_as_the_answer() {
        let ours = r#""mcp2-fast-3""#;
        let answer = r#"{"jsonrpc":"2.0","id":"mcp2-fast-3","result":{"content":[]}}"#;
        assert!(
            matches!(answer_in(answer, ours), Some(Reply::Result(r)) if r.get() == r#"{"content":[]}"#)
        );
        let error = r#"{"jsonrpc":"2.0","id":"mcp2-fast-3","error":{"code":1,"message":"m"}}"#;
        assert!(matches!(answer_in(error, ours), Some(Reply::Error(_))));
        let other = r#"{"jsonrpc":"2.0","id":"mcp2-fast-4","result":{}}"#;
        assert!(answer_in(other, ours).is_none());
        let request = r#"{"jsonrpc":"2.0","id":"mcp2-fast-3","method":"roots/list"}"#;
        assert!(answer_in(request, ours).is_none());
    }
}
