//! Sending one client request upstream, and everything that travels with it.
//!
//! [`HubSession::send`] picks the connection (the registry's shared one, or the client's own for
//! a `session per-client` upstream, opened on first use), enters the request in the in-flight
//! table (so progress and server→client requests find their way back), passes the client's
//! `_meta` on (minus the protocol keys of the client's own hop; rmcp puts a fresh progress
//! token of its own, mapped back by the table), and races the answer against the client's
//! cancellation: a client's `notifications/cancelled` becomes a cancellation of the upstream
//! request. The upstream's timeout restarts whenever it reports progress, so a long operation
//! that says it is alive is not cut off.

use std::sync::Arc;

use rmcp::ErrorData as McpError;
use rmcp::model::{
    CancelledNotification, CancelledNotificationParam, ClientNotification, ClientRequest, GetMeta,
    InputRequiredResult, InputResponses, RequestId, RequestMetaObject, ResultType, ServerResult,
};
use rmcp::service::{Peer, PeerRequestOptions, RequestContext, RoleClient, RoleServer};
use serde::de::DeserializeOwned;

use super::calls::Call;
use super::handler::HubSession;
use super::mrtr::{self, Questions, Running, Suspended};
use super::observe;
use super::rounds;
use super::routing::DedicatedRouter;
use super::{GatewayError, lock};
use crate::plan::{TransportSpec, UpstreamId};
use crate::upstream::{CallerToken, Dedicated, UpstreamHandle};

/// Why a session rebuilt on another replica cannot reach its own stdio process.
const UNMOVABLE: &str = "this session was opened on another mcp2 replica, where its own \
    `session per-client` stdio process runs; a process cannot move between replicas (route this \
    session to one replica, or make the upstream `session shared`)";

/// The session's newest validated access token, read by its propagating connections.
fn caller_token(session: std::sync::Weak<super::session::ClientSession>) -> CallerToken {
    Arc::new(move || session.upgrade().and_then(|s| s.identity().token.clone()))
}

impl HubSession {
    /// The connection a request of this client to `upstream` goes on, and the dedicated link
    /// to keep alive while it runs (if it is one).
    pub(super) fn connection(
        &self,
        upstream: &UpstreamId,
        context: &RequestContext<RoleServer>,
    ) -> Result<(UpstreamHandle, Option<Arc<Dedicated>>), GatewayError> {
        let shared = self.handle(upstream)?;
        if self.uses_shared(upstream, context) {
            return Ok((shared, None));
        }
        let (handle, link) = self.dedicated(upstream, &shared)?;
        Ok((handle, Some(link)))
    }

    /// This client's own connection to `upstream` (whose registry connection is `shared`),
    /// opened on first use. An upstream that propagates the caller's identity reads the
    /// session's newest validated access token on every request.
    pub(super) fn dedicated(
        &self,
        upstream: &UpstreamId,
        shared: &UpstreamHandle,
    ) -> Result<(UpstreamHandle, Arc<Dedicated>), GatewayError> {
        let spec = shared.spec();
        let session = &self.session;
        if session.moved() && matches!(spec.transport, TransportSpec::Stdio { .. }) {
            return Err(GatewayError::Unavailable {
                upstream: upstream.clone(),
                reason: UNMOVABLE.into(),
            });
        }
        let identity = spec.identity();
        if let Some(link) = session.link(upstream)
            && link.handle().spec().identity() == identity
        {
            return Ok((link.handle().clone(), link));
        }
        let router = DedicatedRouter {
            session: Arc::downgrade(session),
            calls: self.gateway.calls.clone(),
        };
        let caller = spec
            .auth
            .as_ref()
            .is_some_and(|a| a.propagates())
            .then(|| caller_token(Arc::downgrade(session)));
        let link = Arc::new(self.gateway.registry().open_dedicated(
            spec.clone(),
            Arc::new(router),
            session.facts().upstream_capabilities(),
            caller,
        ));
        tracing::info!(
            upstream = %upstream,
            session = session.id(),
            instance = link.handle().instance(),
            "opened a connection for one client (session per-client)"
        );
        lock(&self.gateway.owners).insert(link.handle().instance(), Arc::downgrade(session));
        session.keep_link(upstream.clone(), link.clone());
        Ok((link.handle().clone(), link))
    }

    /// Sends `request` to `upstream` for the client request `context`; see the module docs.
    /// Rate limits are applied first (a refused request never reaches the upstream) and every
    /// forwarded request is logged and counted, with the outcome its error kind says.
    pub(super) async fn send(
        &self,
        call: observe::Call<'_>,
        request: ClientRequest,
        context: &RequestContext<RoleServer>,
    ) -> Result<ServerResult, McpError> {
        let identity = self.identity();
        let api_key = identity.key.as_deref();
        let observed =
            observe::begin(&self.gateway, &self.tag, &self.binding, api_key, call).await?;
        self.observed(observed, call, request, context).await
    }

    /// [`send`](Self::send) for requests sent on the client's behalf (`resources/subscribe`,
    /// `logging/setLevel`): logged and counted, but no rate limit applies.
    pub(super) async fn send_to(
        &self,
        upstream: &UpstreamId,
        method: &'static str,
        request: ClientRequest,
        context: &RequestContext<RoleServer>,
    ) -> Result<ServerResult, McpError> {
        let call = observe::Call::without_name(upstream, method);
        let observed = observe::watch(&self.gateway, &self.tag, &self.binding, call);
        self.observed(observed, call, request, context).await
    }

    async fn observed(
        &self,
        observed: observe::Observed,
        call: observe::Call<'_>,
        request: ClientRequest,
        context: &RequestContext<RoleServer>,
    ) -> Result<ServerResult, McpError> {
        observed.request_body(&context.id, &request);
        let result = self
            .forward(call.upstream, call.method, request, context)
            .await;
        observed.finish(&context.id, &result);
        result.map_err(McpError::from)
    }

    async fn forward(
        &self,
        upstream: &UpstreamId,
        method: &'static str,
        mut request: ClientRequest,
        context: &RequestContext<RoleServer>,
    ) -> Result<ServerResult, GatewayError> {
        for _ in 0..rounds::MAX_ROUNDS {
            let answer = self
                .send_once(upstream, method, request.clone(), context)
                .await?;
            if let Some(answer) = self
                .input_round(upstream, &mut request, answer, context)
                .await
                .map_err(GatewayError::Input)?
            {
                return Ok(answer);
            }
        }
        Err(GatewayError::Input(McpError::internal_error(
            format!(
                "{method}: upstream `{upstream}` asked for input more than {} times",
                rounds::MAX_ROUNDS
            ),
            None,
        )))
    }

    async fn send_once(
        &self,
        upstream: &UpstreamId,
        method: &'static str,
        mut request: ClientRequest,
        context: &RequestContext<RoleServer>,
    ) -> Result<ServerResult, GatewayError> {
        let (handle, link) = self.connection(upstream, context)?;
        let timeout = handle.spec().timeout;
        let wait = match &link {
            Some(_) => handle.spec().connect_timeout,
            None => timeout,
        };
        // A down upstream fails at once with its last error; one still connecting is waited for.
        let peer = super::connected(&handle, wait).await?;
        if let Some(meta) = upstream_meta(&context.meta) {
            *request.get_meta_mut() = meta;
        }
        let in_flight = handle.begin_request();
        let (call, parked) = self.call(context);
        let guard = self.gateway.calls.begin(handle.instance(), call);
        let options = PeerRequestOptions::with_timeout(timeout).reset_timeout_on_progress();
        let sent = peer
            .send_request_with_option(request, options)
            .await
            .map_err(|e| GatewayError::from_service(upstream, method, e))?;
        guard.sent(&sent.id, &sent.progress_token);
        let running = Running {
            upstream: upstream.clone(),
            method,
            cancel: CancelOnDrop {
                peer: Some(peer),
                id: sent.id.clone(),
            },
            answer: Box::pin(sent.await_response()),
            inbox: parked,
            guard,
            _in_flight: in_flight,
            _link: link,
        };
        self.drive(running, context).await
    }

    /// What the in-flight table records for this client request, and (2026-07-28 clients)
    /// where the questions for it will arrive.
    fn call(&self, context: &RequestContext<RoleServer>) -> (Call, Option<Questions>) {
        let (inbox, questions) = match self.session.is_modern() {
            true => {
                let (inbox, questions) = tokio::sync::mpsc::unbounded_channel();
                (Some(inbox), Some(questions))
            }
            false => (None, None),
        };
        let call = Call {
            session: self.session.clone(),
            downstream: context.id.clone(),
            progress: context.meta.get_progress_token(),
            inbox,
        };
        (call, questions)
    }

    /// Waits for the upstream's answer on behalf of the client request `context`: the answer,
    /// the client's cancellation, or (2026-07-28 clients) questions for the client, which
    /// suspend the call and answer the client with an `InputRequiredResult` (see `mrtr`).
    pub(super) async fn drive(
        &self,
        mut running: Running,
        context: &RequestContext<RoleServer>,
    ) -> Result<ServerResult, GatewayError> {
        let answer = tokio::select! {
            answer = &mut running.answer => answer,
            Some(first) = mrtr::next_question(&mut running.inbox) => {
                let mut parked = vec![first];
                while let Some(more) = running.inbox.as_mut().and_then(|q| q.try_recv().ok()) {
                    parked.push(more);
                }
                let (requests, waiting) = mrtr::ask(parked);
                let suspended = Suspended {
                    running,
                    waiting,
                    expires: tokio::time::Instant::now().into_std() + mrtr::SUSPEND_LIMIT,
                };
                let state = self.gateway.suspended.suspend(suspended);
                tracing::debug!(questions = requests.len(), "call suspended for client input");
                return Ok(ServerResult::InputRequiredResult(InputRequiredResult::new(
                    Some(requests),
                    Some(state),
                )));
            }
            _ = context.ct.cancelled() => {
                running.cancel.fire("cancelled by the client");
                return Err(GatewayError::Cancelled { method: running.method });
            }
        };
        running.cancel.peer = None;
        // Progress the upstream sent before its answer must reach the client before it too:
        // let rmcp's notification tasks run, then wait for the client's outbox.
        if context.meta.get_progress_token().is_some() {
            for _ in 0..3 {
                tokio::task::yield_now().await;
            }
            if running.guard.progressed() {
                self.session.flush(FLUSH_LIMIT).await;
            }
        }
        let mut answer =
            answer.map_err(|e| GatewayError::from_service(&running.upstream, running.method, e))?;
        mark_complete(&mut answer);
        Ok(answer)
    }

    /// The retry of a call mcp2 suspended for client input, if `state` is one it issued: the
    /// answers go to the waiting requests and the call goes on.
    pub(super) async fn resume(
        &self,
        state: Option<&str>,
        responses: Option<&InputResponses>,
        context: &RequestContext<RoleServer>,
    ) -> Option<Result<ServerResult, McpError>> {
        let suspended = self.gateway.suspended.resume(state?)?;
        let Suspended {
            running, waiting, ..
        } = suspended;
        let (call, questions) = self.call(context);
        let mut running = running;
        running.inbox = questions;
        running.guard.rebind(call);
        mrtr::answer(waiting, responses);
        Some(self.drive(running, context).await.map_err(McpError::from))
    }
}

/// How long an answer waits for the notifications queued before it.
const FLUSH_LIMIT: std::time::Duration = std::time::Duration::from_millis(200);

/// 2026-07-28 clients require `resultType` on every result; an upstream of an earlier revision
/// sends none. Absent means complete; rmcp strips it again for older clients.
fn mark_complete(result: &mut ServerResult) {
    let result_type = match result {
        ServerResult::CallToolResult(r) => &mut r.result_type,
        ServerResult::GetPromptResult(r) => &mut r.result_type,
        ServerResult::ReadResourceResult(r) => &mut r.result_type,
        ServerResult::CompleteResult(r) => &mut r.result_type,
        _ => return,
    };
    result_type.get_or_insert(ResultType::COMPLETE);
}

/// Cancels the upstream request when dropped armed: the client went away or cancelled, or a
/// suspended call expired.
pub(super) struct CancelOnDrop {
    pub(super) peer: Option<Peer<RoleClient>>,
    pub(super) id: RequestId,
}

impl CancelOnDrop {
    pub(super) fn fire(&mut self, reason: &str) {
        let Some(peer) = self.peer.take() else {
            return;
        };
        let notification = ClientNotification::CancelledNotification(CancelledNotification::new(
            CancelledNotificationParam::new(Some(self.id.clone()), Some(reason.to_string())),
        ));
        tokio::spawn(async move {
            let _ = peer.send_notification(notification).await;
        });
    }
}

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        self.fire("the client went away");
    }
}

/// Protocol-level `_meta` keys belong to each hop's own session; only the rest (user keys,
/// trace context) travels upstream. The progress token is rmcp's to set.
fn upstream_meta(meta: &RequestMetaObject) -> Option<RequestMetaObject> {
    let mut meta = meta.clone();
    meta.retain(|k, _| !k.starts_with("io.modelcontextprotocol/") && k != "progressToken");
    (!meta.is_empty()).then_some(meta)
}

/// An upstream answer as the type the client asked for: rmcp parses answers into an untagged
/// union, so an answer may land in a neighbouring variant; its JSON still says what it is.
pub(super) fn coerce<T: DeserializeOwned>(
    method: &'static str,
    result: ServerResult,
) -> Result<T, McpError> {
    serde_json::to_value(&result)
        .and_then(serde_json::from_value)
        .map_err(|e| McpError::internal_error(format!("{method}: unexpected answer: {e}"), None))
}
