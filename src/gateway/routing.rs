//! Server→client requests (sampling, elicitation, roots) on their way to the right client.
//!
//! Two routers implement the upstream layer's one seam, [`ServerRequestHandler`]:
//! - [`SharedRouter`], installed on the registry, serves the shared connections: the request is
//!   attributed through the in-flight table ([`Calls::attribute`]) and refused when no client
//!   or more than one could have caused it, with an error that names the `session per-client`
//!   setting, because a guess could show one client's prompt to another;
//! - [`DedicatedRouter`] serves one client's own connection: there is nobody else to ask.
//!
//! Either way the client's answer (or error) goes back to the upstream unchanged, and a
//! cancellation by the upstream cancels the request at the client.

use std::sync::{Arc, Weak};

use futures::future::BoxFuture;
use rmcp::model::{ClientResult, ErrorCode, ErrorData, ServerNotification};
use rmcp::service::InboundStreamOrigin;

use super::Gateway;
use super::calls::{Attribution, Calls};
use super::session::WeakSession;
use crate::plan::UpstreamId;
use crate::upstream::{ServerRequestCall, ServerRequestHandler, request_method};

pub struct SharedRouter {
    pub(super) gateway: Weak<Gateway>,
}

impl ServerRequestHandler for SharedRouter {
    fn handle(
        &self,
        call: ServerRequestCall,
    ) -> BoxFuture<'static, Result<ClientResult, ErrorData>> {
        let gateway = self.gateway.clone();
        Box::pin(async move {
            let Some(gateway) = gateway.upgrade() else {
                return Err(ErrorData::internal_error(
                    "the gateway is shutting down",
                    None,
                ));
            };
            let ServerRequestCall {
                upstream,
                instance,
                request,
                context,
            } = call;
            let origin = match context.extensions.get::<InboundStreamOrigin>() {
                Some(InboundStreamOrigin::OutboundRequest(id)) => Some(id.clone()),
                _ => None,
            };
            let method = request_method(&request).to_string();
            let target = match gateway.calls.attribute(instance, origin.as_ref()) {
                Attribution::One(call) => call,
                Attribution::Nobody => {
                    return Err(refuse(
                        &upstream,
                        &method,
                        "it came while no client request was in flight on the shared connection",
                    ));
                }
                Attribution::Ambiguous(clients) => {
                    return Err(refuse(
                        &upstream,
                        &method,
                        &format!(
                            "requests of {clients} clients were in flight on the shared \
                             connection, and the upstream did not say which one it belongs to"
                        ),
                    ));
                }
            };
            let session = target.session.clone();
            session
                .ask(
                    &upstream,
                    context.peer.clone(),
                    request,
                    Some(target),
                    context.meta.get_progress_token(),
                    context.ct,
                )
                .await
        })
    }

    fn notification(
        &self,
        _upstream: &UpstreamId,
        instance: u64,
        notification: &ServerNotification,
    ) -> bool {
        match self.gateway.upgrade() {
            Some(gateway) => route_progress(&gateway.calls, instance, notification),
            None => false,
        }
    }
}

/// Progress goes straight to the client's outbox, so it cannot fall behind the answer of the
/// request it reports on (which the client would then drop). `true` for every progress
/// notification: one nobody asked for is dropped here.
fn route_progress(calls: &Calls, instance: u64, notification: &ServerNotification) -> bool {
    let ServerNotification::ProgressNotification(progress) = notification else {
        return false;
    };
    if let Some((session, token)) = calls.progress_target(instance, &progress.params.progress_token)
    {
        let mut progress = progress.clone();
        progress.params.progress_token = token;
        session.notify(ServerNotification::ProgressNotification(progress));
    }
    true
}

pub struct DedicatedRouter {
    pub(super) session: WeakSession,
    pub(super) calls: Arc<Calls>,
}

impl ServerRequestHandler for DedicatedRouter {
    fn handle(
        &self,
        call: ServerRequestCall,
    ) -> BoxFuture<'static, Result<ClientResult, ErrorData>> {
        let session = self.session.upgrade();
        let calls = self.calls.clone();
        Box::pin(async move {
            let Some(session) = session else {
                return Err(ErrorData::internal_error("the client has gone", None));
            };
            let ServerRequestCall {
                upstream,
                instance,
                request,
                context,
            } = call;
            let call = calls.of_session(instance, session.id());
            session
                .ask(
                    &upstream,
                    context.peer.clone(),
                    request,
                    call,
                    context.meta.get_progress_token(),
                    context.ct,
                )
                .await
        })
    }

    fn notification(
        &self,
        _upstream: &UpstreamId,
        instance: u64,
        notification: &ServerNotification,
    ) -> bool {
        route_progress(&self.calls, instance, notification)
    }
}

fn refuse(upstream: &UpstreamId, method: &str, why: &str) -> ErrorData {
    tracing::warn!(
        %upstream,
        %method,
        reason = why,
        "server->client request refused: no single client to ask; \
         `session per-client` on the upstream gives each client its own connection"
    );
    ErrorData::new(
        ErrorCode::INVALID_REQUEST,
        format!(
            "mcp2 cannot tell which client should answer {method} from upstream `{upstream}`: \
             {why}. Set `session per-client` on upstream `{upstream}` (YAML `session: perClient`) \
             to give each client its own connection"
        ),
        Some(serde_json::json!({ "source": "gateway", "upstream": upstream.as_str() })),
    )
}
