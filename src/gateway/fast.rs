//! The fast path: a request of an existing session answered without decoding it into rmcp's
//! types and without the rmcp server session or client worker in between.
//!
//! [`HubSession::fast`] reads only the fields that decide (`jsonrpc`, `id`, `method`,
//! `params.name`, the keys of `params._meta`), borrowing everything else as raw JSON, and
//! - serves `tools/list`, `prompts/list`, `resources/list` and `resources/templates/list` from
//!   the view's list, serialised once per view ([`View::list_json`]), and answers `ping`;
//! - sends a `tools/call` whose tool lives on a Streamable HTTP upstream in `session shared`
//!   mode as raw bytes on that upstream's session (the raw lane: same headers and session id as
//!   the rmcp client, see `upstream/raw.rs`), with only the tool name and the id rewritten. Upstream
//!   ids here are strings (`mcp2-fast-N`); rmcp's own ids are numbers, so the two never meet.
//!   The answer comes back with only the id rewritten (`fast_reply.rs` reads it, including
//!   notifications and server→client requests on an SSE answer stream).
//! - A call with a progress token (rmcp clients put one on every request) goes upstream with
//!   that token replaced by the call's own (its upstream id: the upstream session is shared, so
//!   a client's token never reaches it unmapped; the other `_meta` keys stay as written).
//!   Answered before any progress, it is answered with plain JSON; otherwise the response
//!   becomes an event stream of the progress, under the client's own token, then the answer
//!   (`fast_progress.rs`). The timeout restarts on each progress report, as on the full stack.
//!
//! Everything it cannot do exactly as the full stack would is left to it, decided BEFORE
//! anything goes upstream ([`Fast::Fallback`]): progress tokens that are neither a string nor
//! an integer, protocol `_meta` keys, task or input-round parameters, unknown names (for the
//! "did you mean" error), per-client upstream sessions, stdio and legacy SSE upstreams,
//! 2026-07-28 clients and upstreams, sessions not yet initialised, clients that declared tasks
//! (a task's id is namespaced and remembered by `tasks.rs`), clients that declared sampling,
//! elicitation or roots (a request the upstream sends them during the call belongs on the
//! call's own response stream, which only the full stack has). The one exception is an
//! upstream that no longer knows the session (404): it did not run the call, so the full stack
//! takes it and re-initialises the session. Rate limits, request logs and metrics go through
//! the same `observe` calls as the full stack; the in-flight table (attribution of
//! server→client requests, and progress that arrives elsewhere than on the answer stream) and
//! the upstream's in-flight count see fast calls too.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};

use rmcp::ErrorData as McpError;
use rmcp::model::{ProgressToken, RequestId};
use serde::Deserialize;
use serde_json::value::RawValue;

use super::GatewayError;
use super::fast_progress::{self, FastStream, First, ProgressRoute, Reason};
use super::fast_reply::{Exchange, Outcome, Reply};
use super::handler::HubSession;
use super::observe;
use super::view::ListJson;
use crate::plan::SessionMode;
use crate::plan::rules::ItemKind;
use crate::telemetry::events::FastPath;
use crate::upstream::{RawHttp, UpstreamHandle};

/// What the fast path did with a request.
#[derive(Debug)]
pub enum Fast {
    /// Not taken: serve it on the full stack. Nothing was sent upstream.
    Fallback,
    /// The complete JSON-RPC answer for the client.
    Answer(Vec<u8>),
    /// Progress notifications for the client, then its answer: an event stream.
    Stream(FastStream),
}

/// What the fast path served.
enum Served {
    Answer(Vec<u8>),
    Stream(FastStream),
}

/// The JSON-RPC envelope, borrowed from the body.
#[derive(Deserialize)]
struct Envelope<'a> {
    jsonrpc: &'a str,
    #[serde(borrow)]
    id: Option<&'a RawValue>,
    method: &'a str,
    #[serde(borrow)]
    params: Option<&'a RawValue>,
}

type Fields<'a> = HashMap<&'a str, &'a RawValue>;

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

impl HubSession {
    /// Answers `body` on the fast path, or says to fall back; see the module docs.
    pub async fn fast(&self, body: &[u8]) -> Fast {
        let Ok(envelope) = serde_json::from_slice::<Envelope<'_>>(body) else {
            return Fast::Fallback;
        };
        let list = match envelope.method {
            "tools/call" => None,
            "tools/list" => Some(ListJson::Tools),
            "prompts/list" => Some(ListJson::Prompts),
            "resources/list" => Some(ListJson::Resources),
            "resources/templates/list" => Some(ListJson::Templates),
            "ping" => return self.fast_ping(&envelope),
            _ => return Fast::Fallback,
        };
        let method = list.map_or("tools/call", ListJson::method);
        let outcome = self.fast_request(list, &envelope).await;
        FastPath {
            method,
            reason: outcome.as_ref().err().copied(),
        }
        .emit();
        match outcome {
            Ok(Served::Answer(answer)) => Fast::Answer(answer),
            Ok(Served::Stream(stream)) => Fast::Stream(stream),
            Err(_) => Fast::Fallback,
        }
    }

    /// `ping` of an initialised session: the empty result rmcp would send (a client that pings
    /// a parked session to keep it alive should not restore it).
    fn fast_ping(&self, envelope: &Envelope<'_>) -> Fast {
        let id = envelope
            .id
            .map(RawValue::get)
            .filter(|id| serde_json::from_str::<RequestId>(id).is_ok());
        let Some(id) = id.filter(|_| envelope.jsonrpc == "2.0" && self.session.attached()) else {
            return Fast::Fallback;
        };
        Fast::Answer(format!(r#"{{"jsonrpc":"2.0","id":{id},"result":{{}}}}"#).into_bytes())
    }

    async fn fast_request(
        &self,
        list: Option<ListJson>,
        envelope: &Envelope<'_>,
    ) -> Result<Served, Reason> {
        if envelope.jsonrpc != "2.0" {
            return Err("not JSON-RPC 2.0");
        }
        let id_json = envelope.id.ok_or("no id")?;
        let id: RequestId = serde_json::from_str(id_json.get()).map_err(|_| "unusual id")?;
        if !self.session.attached() {
            return Err("session not initialised");
        }
        if self.session.is_modern() {
            return Err("2026-07-28 client");
        }
        let params: Fields<'_> = match envelope.params {
            Some(p) => serde_json::from_str(p.get()).map_err(|_| "params not an object")?,
            None => Fields::new(),
        };
        match list {
            Some(kind) => self
                .fast_list(kind, id_json, &params)
                .await
                .map(Served::Answer),
            None => self.fast_call(id_json, id, &params).await,
        }
    }

    async fn fast_list(
        &self,
        kind: ListJson,
        id: &RawValue,
        params: &Fields<'_>,
    ) -> Result<Vec<u8>, Reason> {
        if params.keys().any(|k| !matches!(*k, "cursor" | "_meta")) {
            return Err("unknown list parameter");
        }
        let (_, view) = self.view().await;
        let result = view.list_json(kind).ok_or("list not serialisable")?;
        Ok(message(id, "result", result.get()))
    }

    async fn fast_call(
        &self,
        id_json: &RawValue,
        id: RequestId,
        params: &Fields<'_>,
    ) -> Result<Served, Reason> {
        if params
            .keys()
            .any(|k| !matches!(*k, "name" | "arguments" | "_meta"))
        {
            return Err("other tools/call parameters");
        }
        let name: &str = params
            .get("name")
            .and_then(|n| serde_json::from_str(n.get()).ok())
            .ok_or("name missing or escaped")?;
        let meta: Option<Fields<'_>> = match params.get("_meta") {
            Some(meta) => Some(serde_json::from_str(meta.get()).map_err(|_| "odd _meta")?),
            None => None,
        };
        if meta.as_ref().is_some_and(|meta| {
            meta.keys()
                .any(|k| k.starts_with("io.modelcontextprotocol/"))
        }) {
            return Err("protocol _meta");
        }
        let progress = meta.as_ref().and_then(|m| m.get("progressToken").copied());
        // The in-flight table keeps the client's token (progress that arrives elsewhere than
        // on the answer stream goes back through the client's session under it).
        let client_token: Option<ProgressToken> = match progress {
            Some(token) => {
                Some(serde_json::from_str(token.get()).map_err(|_| "unusual progress token")?)
            }
            None => None,
        };
        // A server→client request caused by a call reaches the client on that call's own
        // response stream on the full stack; a fast call has no such stream at rmcp's side,
        // so a client that could be asked something stays on the full stack.
        if self.session.answers_server_requests() {
            return Err("client answers server requests");
        }
        // A call answered with a task needs its id namespaced and remembered (`tasks.rs`).
        if self.session.follows_tasks() {
            return Err("client follows tasks");
        }
        let (plan, view) = self.view().await;
        // Each call gets its audit record on the full stack (`audited.rs`).
        if plan.audit.is_some() {
            return Err("audit trail on");
        }
        let route = view.route(ItemKind::Tool, name).ok_or("unknown tool")?;
        let handle = self.handle(&route.upstream).map_err(|_| "upstream gone")?;
        if handle.spec().session == SessionMode::PerClient {
            return Err("session per-client");
        }
        let raw = handle.raw_http().ok_or("not a connected HTTP upstream")?;
        if *raw.protocol >= *rmcp::model::ProtocolVersion::V_2026_07_28.as_str() {
            return Err("2026-07-28 upstream");
        }
        let upstream_id = format!("mcp2-fast-{}", NEXT_ID.fetch_add(1, Ordering::Relaxed));
        // Only a progress token is rewritten; any other `_meta` goes up byte for byte.
        let rewritten = progress
            .and(meta.as_ref())
            .map(|meta| own_meta(meta, &upstream_id));
        let upstream_meta = rewritten
            .as_deref()
            .or_else(|| params.get("_meta").map(|m| m.get()));
        let body = upstream_body(
            &upstream_id,
            &route.original,
            params.get("arguments").copied(),
            upstream_meta,
        );
        let call = route.call("tools/call", name);
        let identity = self.identity();
        let api_key = identity.key.as_deref();
        let observed = match observe::begin(&self.gateway, &self.tag, &self.binding, api_key, call)
            .await
        {
            Ok(observed) => observed,
            Err(refused) => return Ok(Served::Answer(error_message(id_json, &refused.to_mcp()))),
        };
        observed.request_body_raw(&body);
        let sent = Sent {
            handle,
            raw,
            body,
            upstream_id,
            id,
            id_json: id_json.to_owned(),
            observed,
            client_token,
        };
        let Some(token) = progress else {
            return self.fast_run(sent, None).await.map(Served::Answer);
        };
        // Progress goes back on this call's own response, as it arrives: the call reports on
        // a channel, and moves into a task of its own at its first progress
        // (`fast_progress.rs`).
        let (route, events) = fast_progress::route(token);
        let hub = self.clone();
        let call = Box::pin(async move {
            let outcome = hub.fast_run(sent, Some(route.clone())).await;
            route.done(outcome);
        });
        let broken = || {
            let error = McpError::internal_error("the fast call ended without an answer", None);
            error_message(id_json, &error)
        };
        match fast_progress::first(events, call, broken).await {
            First::Answer(answer) => Ok(Served::Answer(answer)),
            First::Stream(stream) => Ok(Served::Stream(stream)),
            First::Fallback(reason) => Err(reason),
        }
    }

    /// Sends the call upstream and makes the client's answer of the upstream's.
    async fn fast_run(
        &self,
        sent: Sent,
        progress: Option<ProgressRoute>,
    ) -> Result<Vec<u8>, Reason> {
        let Sent {
            handle,
            raw,
            body,
            upstream_id,
            id,
            id_json,
            observed,
            client_token,
        } = sent;
        let id_json = &*id_json;
        let exchange = Exchange {
            raw,
            body,
            upstream_id,
            downstream: id,
            client_token,
            progress,
        };
        let (answer, error) = match self.fast_send(&handle, exchange).await {
            Outcome::NotSent => return Err("upstream session expired"),
            Outcome::Reply(Reply::Result(r)) => (message(id_json, "result", r.get()), None),
            Outcome::Reply(Reply::Error(e)) => {
                let error = serde_json::from_str(e.get())
                    .unwrap_or_else(|_| McpError::internal_error(e.get().to_string(), None));
                (
                    message(id_json, "error", e.get()),
                    Some(GatewayError::Upstream(error)),
                )
            }
            Outcome::Failed(e) => (error_message(id_json, &e.to_mcp()), Some(e)),
        };
        observed.finish_raw(&answer, error.as_ref());
        Ok(answer)
    }
}

/// A call ready to go upstream, owned (it may run in a task of its own).
struct Sent {
    handle: UpstreamHandle,
    raw: RawHttp,
    body: Vec<u8>,
    upstream_id: String,
    id: RequestId,
    id_json: Box<RawValue>,
    observed: observe::Observed,
    client_token: Option<ProgressToken>,
}

/// The client's `_meta` with its `progressToken` replaced by the call's own upstream token.
fn own_meta(meta: &Fields<'_>, upstream_id: &str) -> String {
    let token = serde_json::to_string(upstream_id).unwrap_or_default();
    let mut out = String::with_capacity(64 + token.len());
    out.push('{');
    for (n, (key, value)) in meta.iter().enumerate() {
        if n > 0 {
            out.push(',');
        }
        out.push_str(&serde_json::to_string(key).unwrap_or_default());
        out.push(':');
        if *key == "progressToken" {
            out.push_str(&token);
        } else {
            out.push_str(value.get());
        }
    }
    out.push('}');
    out
}

/// The call as the upstream gets it: the client's `arguments` untouched, its `_meta` as
/// [`own_meta`] made it.
fn upstream_body(
    id: &str,
    original: &str,
    arguments: Option<&RawValue>,
    meta: Option<&str>,
) -> Vec<u8> {
    let arguments = arguments.map(RawValue::get);
    let size = arguments.map_or(0, str::len) + meta.map_or(0, str::len);
    let mut out = Vec::with_capacity(96 + id.len() + original.len() + size);
    out.extend_from_slice(br#"{"jsonrpc":"2.0","id":""#);
    out.extend_from_slice(id.as_bytes());
    out.extend_from_slice(br#"","method":"tools/call","params":{"name":"#);
    // A string always serialises.
    let _ = serde_json::to_writer(&mut out, original);
    for (key, value) in [("arguments", arguments), ("_meta", meta)] {
        if let Some(value) = value {
            out.extend_from_slice(b",\"");
            out.extend_from_slice(key.as_bytes());
            out.extend_from_slice(b"\":");
            out.extend_from_slice(value.as_bytes());
        }
    }
    out.extend_from_slice(b"}}");
    out
}

/// `{"jsonrpc":"2.0","id":<id>,"<key>":<value>}`.
fn message(id: &RawValue, key: &str, value: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(40 + id.get().len() + value.len());
    out.extend_from_slice(br#"{"jsonrpc":"2.0","id":"#);
    out.extend_from_slice(id.get().as_bytes());
    out.extend_from_slice(b",\"");
    out.extend_from_slice(key.as_bytes());
    out.extend_from_slice(b"\":");
    out.extend_from_slice(value.as_bytes());
    out.push(b'}');
    out
}

fn error_message(id: &RawValue, error: &McpError) -> Vec<u8> {
    let error = serde_json::to_string(error).unwrap_or_else(|_| {
        r#"{"code":-32603,"message":"the gateway could not encode an error"}"#.to_string()
    });
    message(id, "error", &error)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_upstream_body_keeps_arguments_and_meta_verbatim_and_renames_the_tool() {
        let params: Fields<'_> = serde_json::from_str(
            r#"{"name":"pub","arguments":{"a": [1, 2.50]},"_meta":{"trace":"x"}}"#,
        )
        .unwrap();
        let body = upstream_body(
            "mcp2-fast-7",
            "orig\"inal",
            params.get("arguments").copied(),
            params.get("_meta").map(|m| m.get()),
        );
        let text = String::from_utf8(body).unwrap();
        assert!(text.contains(r#""arguments":{"a": [1, 2.50]}"#), "{text}");
        let value: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(value["id"], "mcp2-fast-7");
        assert_eq!(value["params"]["name"], "orig\"inal");
        assert_eq!(value["params"]["_meta"]["trace"], "x");
    }

    #[test]
    fn the_upstream_sees_its_own_progress_token_and_every_other_meta_key() {
        let meta: Fields<'_> =
            serde_json::from_str(r#"{"progressToken":7,"trace":{"a":[1, 2]},"k":"v"}"#).unwrap();
        let own: serde_json::Value = serde_json::from_str(&own_meta(&meta, "mcp2-fast-9")).unwrap();
        assert_eq!(
            own,
            serde_json::json!({"progressToken":"mcp2-fast-9","trace":{"a":[1,2]},"k":"v"})
        );
    }

    #[test]
    fn answers_carry_the_clients_id_as_written() {
        let id: Box<RawValue> = serde_json::from_str(r#""abc""#).unwrap();
        let text = String::from_utf8(message(&id, "result", r#"{"x":1}"#)).unwrap();
        assert_eq!(text, r#"{"jsonrpc":"2.0","id":"abc","result":{"x":1}}"#);
    }
}
