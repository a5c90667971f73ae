//! The MCP client side of one upstream connection: what mcp2 does with messages the upstream
//! sends on its own.
//!
//! - Every notification (list_changed, progress, logging, resources/updated, cancelled, tasks,
//!   custom) is forwarded unchanged, `_meta` included, as an [`UpstreamEvent::Notification`].
//! - `ping` is answered here.
//! - Every other server→client request (sampling `createMessage`, elicitation, `roots/list`,
//!   custom) goes through ONE seam, the [`ServerRequestHandler`] set on the registry, so the
//!   gateway can route it to the downstream client that caused it. The default,
//!   [`NotSupported`], answers a JSON-RPC "method not found" error.
//!
//! We implement rmcp's `Service<RoleClient>` directly rather than `ClientHandler`: the handler
//! trait splits notifications into typed callbacks and drops their `_meta`, and a proxy wants
//! the message whole.

use std::sync::{Arc, RwLock};

use futures::future::BoxFuture;
use rmcp::model::{
    ClientCapabilities, ClientConfig, ClientResult, ErrorCode, ErrorData, GetExtensions, GetMeta,
    Implementation, ServerNotification, ServerRequest,
};
use rmcp::service::{NotificationContext, RequestContext, RoleClient, Service};
use tokio::sync::broadcast;

use super::handle::UpstreamState;
use crate::plan::UpstreamId;

/// What the registry reports on its events channel.
#[derive(Debug, Clone)]
pub enum UpstreamEvent {
    /// A notification the upstream sent, unchanged.
    Notification {
        upstream: UpstreamId,
        /// The connection it came from (see [`UpstreamHandle::instance`](super::UpstreamHandle::instance)):
        /// the registry's connection of `upstream`, or a dedicated one.
        instance: u64,
        notification: ServerNotification,
    },
    /// An upstream changed state. `instance` tells connections of the same id apart across a
    /// reload: compare it with [`UpstreamHandle::instance`](super::UpstreamHandle::instance) of
    /// the handle the registry holds now, so a late `Stopped` of a replaced connection is not
    /// mistaken for the new one.
    State {
        upstream: UpstreamId,
        instance: u64,
        state: UpstreamState,
    },
}

/// One server→client request, with everything needed to answer it or route it.
#[derive(Debug)]
pub struct ServerRequestCall {
    pub upstream: UpstreamId,
    /// The connection it came from (see [`UpstreamHandle::instance`](super::UpstreamHandle::instance)).
    pub instance: u64,
    pub request: ServerRequest,
    /// rmcp's context: `ct` is cancelled when the upstream cancels, `meta` carries the request's
    /// `_meta` (progress token), `extensions` may carry the originating client request id.
    pub context: RequestContext<RoleClient>,
}

/// The seam for server→client requests (sampling, elicitation, roots). Set one on the registry
/// with [`Registry::set_server_request_handler`](super::Registry::set_server_request_handler);
/// it applies to connections already running too.
pub trait ServerRequestHandler: Send + Sync + 'static {
    fn handle(
        &self,
        call: ServerRequestCall,
    ) -> BoxFuture<'static, Result<ClientResult, ErrorData>>;

    /// Sees every notification of the connection first, inline and in the order rmcp hands
    /// them over; returns `true` when it delivered the notification itself, which then does
    /// not go to the events channel. For what must not fall behind the answer it belongs to
    /// (progress). Must not block.
    fn notification(
        &self,
        _upstream: &UpstreamId,
        _instance: u64,
        _notification: &ServerNotification,
    ) -> bool {
        false
    }
}

/// The default handler: every server→client request is refused with "method not found".
#[derive(Debug, Clone, Copy, Default)]
pub struct NotSupported;

impl ServerRequestHandler for NotSupported {
    fn handle(
        &self,
        call: ServerRequestCall,
    ) -> BoxFuture<'static, Result<ClientResult, ErrorData>> {
        let method = request_method(&call.request).to_string();
        tracing::debug!(upstream = %call.upstream, %method, "server->client request refused");
        Box::pin(async move {
            Err(ErrorData::new(
                ErrorCode::METHOD_NOT_FOUND,
                format!("{method} is not supported by this gateway yet"),
                None,
            ))
        })
    }
}

/// The JSON-RPC method of a server→client request.
pub fn request_method(request: &ServerRequest) -> &str {
    match request {
        ServerRequest::PingRequest(_) => "ping",
        ServerRequest::CreateMessageRequest(_) => "sampling/createMessage",
        ServerRequest::ListRootsRequest(_) => "roots/list",
        ServerRequest::ElicitRequest(_) => "elicitation/create",
        ServerRequest::CustomRequest(r) => &r.method,
        _ => "(a request this rmcp version does not name)",
    }
}

/// The slot holding the current handler, shared by the registry and every connection.
pub(crate) type HandlerSlot = Arc<RwLock<Arc<dyn ServerRequestHandler>>>;

/// The rmcp client service of one connection (cloned for a second handshake attempt).
#[derive(Clone)]
pub(crate) struct UpstreamClient {
    pub(crate) upstream: UpstreamId,
    pub(crate) instance: u64,
    pub(crate) events: broadcast::Sender<UpstreamEvent>,
    pub(crate) handler: HandlerSlot,
    pub(crate) info: ClientConfig,
}

/// What mcp2 tells upstreams about itself: the client capabilities the owner of the connection
/// can honour (the registry's [`RegistryOptions::client_capabilities`](super::RegistryOptions),
/// or those of the one client a dedicated connection serves). The protocol version is rmcp's
/// preferred one; the upstream's choice is logged and kept in its `server_info`.
pub(crate) fn client_config(capabilities: &ClientCapabilities) -> ClientConfig {
    ClientConfig::new(
        capabilities.clone(),
        Implementation::new("mcp2", env!("CARGO_PKG_VERSION")),
    )
}

/// The current handler in `slot`.
pub(crate) fn current(slot: &HandlerSlot) -> Arc<dyn ServerRequestHandler> {
    match slot.read() {
        Ok(slot) => slot.clone(),
        Err(poisoned) => poisoned.into_inner().clone(),
    }
}

/// Hands one upstream notification to the handler first, then to the events channel.
pub(crate) fn deliver(
    slot: &HandlerSlot,
    events: &broadcast::Sender<UpstreamEvent>,
    upstream: &UpstreamId,
    instance: u64,
    notification: ServerNotification,
) {
    if current(slot).notification(upstream, instance, &notification) {
        return;
    }
    // No receiver is not an error: nobody is listening yet.
    let _ = events.send(UpstreamEvent::Notification {
        upstream: upstream.clone(),
        instance,
        notification,
    });
}

impl Service<RoleClient> for UpstreamClient {
    async fn handle_request(
        &self,
        request: ServerRequest,
        context: RequestContext<RoleClient>,
    ) -> Result<ClientResult, ErrorData> {
        if let ServerRequest::PingRequest(_) = request {
            return Ok(ClientResult::empty(()));
        }
        current(&self.handler)
            .handle(ServerRequestCall {
                upstream: self.upstream.clone(),
                instance: self.instance,
                request,
                context,
            })
            .await
    }

    async fn handle_notification(
        &self,
        mut notification: ServerNotification,
        context: NotificationContext<RoleClient>,
    ) -> Result<(), ErrorData> {
        // rmcp moved the extensions (where `_meta` lives) into the context; put them back,
        // and the context's `_meta` too should a later rmcp keep it there instead.
        let NotificationContext {
            meta, extensions, ..
        } = context;
        *notification.extensions_mut() = extensions;
        if !meta.is_empty() {
            *notification.get_meta_mut() = meta;
        }
        deliver(
            &self.handler,
            &self.events,
            &self.upstream,
            self.instance,
            notification,
        );
        Ok(())
    }

    fn get_info(&self) -> ClientConfig {
        self.info.clone()
    }
}

#[cfg(test)]
#[path = "client_tests.rs"]
mod tests;
