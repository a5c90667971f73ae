//! Subscriptions and log levels: `resources/subscribe`/`unsubscribe` (counted per upstream
//! URI, see `relay.rs`), `subscriptions/listen` for 2026-07-28 clients (translated into
//! upstream `resources/subscribe`), and `logging/setLevel`. On an upstream of 2026-07-28 a
//! subscription is a `subscriptions/listen` stream instead (`listens.rs`).
#![allow(deprecated)] // logging and resources/subscribe are deprecated by SEP-2577; older clients use them.

use std::sync::Arc;

use rmcp::ErrorData as McpError;
use rmcp::model::{
    ClientRequest, SetLevelRequest, SetLevelRequestParams, SubscribeRequest,
    SubscribeRequestParams, UnsubscribeRequest, UnsubscribeRequestParams,
};
use rmcp::service::{RequestContext, RoleServer, SubscriptionContext};

use super::handler::HubSession;
use super::relay::Upstream;
use super::session::rank;
use crate::plan::UpstreamId;
use crate::upstream::UpstreamHandle;

impl HubSession {
    /// `resources/subscribe`: counted per upstream URI; only the first subscriber through a
    /// shared connection (or any through a dedicated one) subscribes upstream.
    pub(super) async fn subscribe_upstream(
        &self,
        mut request: SubscribeRequestParams,
        context: &RequestContext<RoleServer>,
    ) -> Result<(), McpError> {
        let (_, view) = self.view().await;
        let route = Self::resource_route(&view, &request.uri)?;
        let public = std::mem::replace(&mut request.uri, route.original.to_string());
        let shared = self.uses_shared(&route.upstream, context);
        let todo = self.gateway.add_subscription(
            &self.session,
            &route.upstream,
            &route.original,
            &public,
            shared,
        );
        if todo == Upstream::Forward {
            let sent = self.subscribe_at(&route.upstream, request, context).await;
            if let Err(e) = sent {
                self.gateway
                    .remove_subscription(&self.session, &route.upstream, &route.original);
                return Err(e);
            }
        }
        Ok(())
    }

    /// `resources/unsubscribe`: the last subscriber's unsubscribes upstream.
    pub(super) async fn unsubscribe_upstream(
        &self,
        mut request: UnsubscribeRequestParams,
        context: &RequestContext<RoleServer>,
    ) -> Result<(), McpError> {
        let (_, view) = self.view().await;
        let route = Self::resource_route(&view, &request.uri)?;
        request.uri = route.original.to_string();
        let todo =
            self.gateway
                .remove_subscription(&self.session, &route.upstream, &route.original);
        if todo == Upstream::Forward {
            self.unsubscribe_at(&route.upstream, request, context)
                .await?;
        }
        Ok(())
    }

    /// Subscribes upstream: `resources/subscribe`, or on an upstream of 2026-07-28 (which has
    /// none) a `subscriptions/listen` stream for the URI (see `listens`).
    async fn subscribe_at(
        &self,
        upstream: &UpstreamId,
        request: SubscribeRequestParams,
        context: &RequestContext<RoleServer>,
    ) -> Result<(), McpError> {
        let (handle, _link) = self.connection(upstream, context)?;
        if let Some(peer) = handle.peer().filter(crate::upstream::is_modern) {
            let gateway = Arc::downgrade(&self.gateway);
            return self
                .gateway
                .listens
                .open(gateway, upstream, handle.instance(), &peer, &request.uri)
                .await;
        }
        let request = ClientRequest::SubscribeRequest(SubscribeRequest::new(request));
        self.send_to(upstream, "resources/subscribe", request, context)
            .await
            .map(|_| ())
    }

    /// Unsubscribes upstream: drops the listen stream standing in for the subscription, or
    /// sends `resources/unsubscribe`.
    async fn unsubscribe_at(
        &self,
        upstream: &UpstreamId,
        request: UnsubscribeRequestParams,
        context: &RequestContext<RoleServer>,
    ) -> Result<(), McpError> {
        let (handle, _link) = self.connection(upstream, context)?;
        if self.gateway.listens.close(handle.instance(), &request.uri) {
            return Ok(());
        }
        let request = ClientRequest::UnsubscribeRequest(UnsubscribeRequest::new(request));
        self.send_to(upstream, "resources/unsubscribe", request, context)
            .await
            .map(|_| ())
    }

    /// `logging/setLevel`: remembered for this client (the gateway filters what it relays) and
    /// forwarded to every upstream with logging; a shared upstream is asked for the most
    /// verbose level any of its clients wants.
    pub(super) async fn set_levels(
        &self,
        request: SetLevelRequestParams,
        context: &RequestContext<RoleServer>,
    ) -> Result<(), McpError> {
        self.session.set_level(request.level);
        let targets: Vec<UpstreamHandle> = self
            .upstreams()
            .into_iter()
            .filter(|u| {
                u.server_info()
                    .is_some_and(|i| i.capabilities.logging.is_some())
            })
            .collect();
        for u in targets {
            let mut request = request.clone();
            if self.uses_shared(u.id(), context) {
                request.level = self.shared_level(u.id(), request.level);
            }
            let request = ClientRequest::SetLevelRequest(SetLevelRequest::new(request));
            if let Err(e) = self
                .send_to(u.id(), "logging/setLevel", request, context)
                .await
            {
                tracing::warn!(upstream = %u.id(), error = %e.message, "logging/setLevel not forwarded");
            }
        }
        Ok(())
    }

    /// `subscriptions/listen` (2026-07-28): list changes come from `announce`; each resource
    /// URI is subscribed upstream with `resources/subscribe` (shared and counted like any
    /// other subscription) for as long as the stream is open.
    pub(super) async fn listen_stream(&self, context: SubscriptionContext) -> Result<(), McpError> {
        let request = context.request_context().clone();
        self.touch(&request);
        self.session.set_listener(Some(context.sink().clone()));
        let uris = context
            .accepted()
            .resource_subscriptions
            .clone()
            .unwrap_or_default();
        let (_, view) = self.view().await;
        let mut held = Vec::new();
        for uri in uris {
            let uri: String = uri;
            let route = Self::resource_route(&view, &uri)?;
            let todo = self.gateway.add_subscription(
                &self.session,
                &route.upstream,
                &route.original,
                &uri,
                true,
            );
            if todo == Upstream::Forward {
                let params = SubscribeRequestParams::new(route.original.to_string());
                if let Err(e) = self.subscribe_at(&route.upstream, params, &request).await {
                    self.gateway.remove_subscription(
                        &self.session,
                        &route.upstream,
                        &route.original,
                    );
                    return Err(e);
                }
            }
            held.push(route);
        }
        context.cancelled().await;
        self.session.set_listener(None);
        // The stream's own request is over; the unsubscriptions need a context of their own.
        let cleanup = RequestContext::new(request.id.clone(), request.peer.clone());
        for route in held {
            let todo =
                self.gateway
                    .remove_subscription(&self.session, &route.upstream, &route.original);
            if todo == Upstream::Forward {
                let params = UnsubscribeRequestParams::new(route.original.to_string());
                let _ = self.unsubscribe_at(&route.upstream, params, &cleanup).await;
            }
        }
        Ok(())
    }

    /// The level to ask a shared upstream for: the most verbose any of its clients wants
    /// (each client's own level is applied by the gateway when it relays).
    fn shared_level(
        &self,
        upstream: &UpstreamId,
        asked: rmcp::model::LoggingLevel,
    ) -> rmcp::model::LoggingLevel {
        self.gateway
            .sessions_using(upstream)
            .iter()
            .filter_map(|s| s.level())
            .chain([asked])
            .min_by_key(|l| rank(*l))
            .unwrap_or(asked)
    }
}
