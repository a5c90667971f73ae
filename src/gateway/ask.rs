//! Asking a client: server→client requests (sampling, elicitation, roots) forwarded to the
//! one client they are for, cancelled when the upstream cancels, and the progress the client
//! reports on them sent back under the upstream's token. A 2026-07-28 client is not sent
//! requests: they are parked in its call and travel as input rounds (see `mrtr`).
#![allow(deprecated)] // sampling and roots are deprecated by SEP-2577; upstreams still use them.

use std::collections::HashMap;
use std::sync::Mutex;

use rmcp::model::{
    CancelledNotification, CancelledNotificationParam, ClientResult, ErrorCode, ErrorData,
    GetExtensions, ProgressNotificationParam, ProgressToken, ServerRequest,
};
use rmcp::service::{OriginatingRequestId, Peer, PeerRequestOptions, RoleClient, ServiceError};
use tokio_util::sync::CancellationToken;

use super::calls::Call;
use super::lock;
use super::session::ClientSession;
use crate::plan::UpstreamId;
use crate::upstream::request_method;

/// A server→client request this client is answering, for progress it reports on it.
pub(super) struct Asked {
    pub(super) upstream: Peer<RoleClient>,
    pub(super) token: Option<ProgressToken>,
}

impl ClientSession {
    /// Forwards a server→client request to this client and returns its answer. `origin` is the
    /// client's request that caused it, so a Streamable HTTP client gets it on that request's
    /// stream; `cancelled` fires when the upstream cancels its request.
    pub async fn ask(
        &self,
        upstream: &UpstreamId,
        upstream_peer: Peer<RoleClient>,
        mut request: ServerRequest,
        call: Option<Call>,
        upstream_token: Option<ProgressToken>,
        cancelled: CancellationToken,
    ) -> Result<ClientResult, ErrorData> {
        let method = request_method(&request).to_string();
        let facts = self.facts();
        if facts.modern() {
            return park(&method, request, call, cancelled).await;
        }
        let origin = call.map(|c| c.downstream);
        if !facts.can_answer(&request) {
            return Err(ErrorData::new(
                ErrorCode::METHOD_NOT_FOUND,
                format!("{method}: the client this request is for did not declare that capability"),
                Some(serde_json::json!({ "source": "gateway" })),
            ));
        }
        if matches!(request, ServerRequest::PingRequest(_)) && !self.has_peer() {
            // A parked session (`serve::parked`) has no peer to ping; it is alive, as far as
            // the gateway can tell.
            return Ok(ClientResult::empty(()));
        }
        let Some(peer) = self.peer() else {
            return Err(ErrorData::internal_error(
                format!("{method}: the client is not connected"),
                None,
            ));
        };
        if let Some(origin) = origin {
            request
                .extensions_mut()
                .insert(OriginatingRequestId(origin));
        }
        // rmcp marks a request sent from inside a handler with the id of the request being
        // handled, which here is the upstream's; a task of its own keeps our marker.
        let sending = peer.clone();
        let sent = tokio::spawn(async move {
            sending
                .send_request_with_option(request, PeerRequestOptions::no_options())
                .await
        })
        .await
        .map_err(|e| ErrorData::internal_error(format!("{method}: {e}"), None))?
        .map_err(|e| client_failed(&method, e))?;
        let (id, token) = (sent.id.clone(), sent.progress_token.clone());
        lock(&self.asked).insert(
            token.clone(),
            Asked {
                upstream: upstream_peer,
                token: upstream_token,
            },
        );
        let _forget = Forget {
            asked: &self.asked,
            token,
        };
        tracing::debug!(session = self.id(), %upstream, %method, "server->client request forwarded");
        tokio::select! {
            answer = sent.await_response() => answer.map_err(|e| client_failed(&method, e)),
            _ = cancelled.cancelled() => {
                let cancel = CancelledNotification::new(
                    CancelledNotificationParam::new(Some(id), Some("cancelled by the server".into())),
                );
                let _ = peer.send_notification(cancel.into()).await;
                Err(ErrorData::internal_error(format!("{method} cancelled by the upstream"), None))
            }
        }
    }

    /// Progress the client reports on a request it is answering, sent on to the upstream
    /// that asked, under the upstream's own token.
    pub async fn relay_progress(&self, mut progress: ProgressNotificationParam) {
        let target = lock(&self.asked)
            .get(&progress.progress_token)
            .map(|a| (a.upstream.clone(), a.token.clone()));
        let Some((upstream, Some(token))) = target else {
            return;
        };
        progress.progress_token = token;
        let _ = upstream.notify_progress(progress).await;
    }
}

/// A 2026-07-28 client is asked through its call (see `mrtr`): the request waits in the
/// call's inbox until the client's retry answers it.
async fn park(
    method: &str,
    request: ServerRequest,
    call: Option<Call>,
    cancelled: CancellationToken,
) -> Result<ClientResult, ErrorData> {
    let Some(inbox) = call.and_then(|c| c.inbox) else {
        return Err(ErrorData::internal_error(
            format!(
                "{method}: the client is on 2026-07-28 and has no call in flight to ask through"
            ),
            None,
        ));
    };
    let (reply, answer) = tokio::sync::oneshot::channel();
    if inbox.send(super::mrtr::Parked { request, reply }).is_err() {
        return Err(ErrorData::internal_error(
            format!("{method}: the client's call has ended"),
            None,
        ));
    }
    tokio::select! {
        answer = answer => answer.unwrap_or_else(|_| Err(ErrorData::internal_error(
            format!("{method}: the client did not come back with an answer"),
            None,
        ))),
        _ = cancelled.cancelled() => Err(ErrorData::internal_error(
            format!("{method} cancelled by the upstream"),
            None,
        )),
    }
}

/// Removes a finished request's progress route.
struct Forget<'a> {
    asked: &'a Mutex<HashMap<ProgressToken, Asked>>,
    token: ProgressToken,
}

impl Drop for Forget<'_> {
    fn drop(&mut self) {
        lock(self.asked).remove(&self.token);
    }
}

fn client_failed(method: &str, e: ServiceError) -> ErrorData {
    match e {
        ServiceError::McpError(e) => e,
        other => ErrorData::internal_error(
            format!("{method}: the client could not be asked: {other}"),
            Some(serde_json::json!({ "source": "downstream" })),
        ),
    }
}
