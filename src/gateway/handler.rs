//! [`HubSession`]: one downstream MCP session, as an rmcp `ServerHandler`.
//!
//! It answers `initialize`/`server/discover` with the profile's metadata and the union of its
//! upstreams' capabilities, serves lists from the binding's [`View`](super::View), and forwards
//! calls, prompt gets, resource reads, subscriptions and completions to the upstream that owns the
//! public name, with the original name restored. Each request loads the current plan once, so a
//! request runs on one plan from start to end even if a reload lands meanwhile.

use std::sync::Arc;
use std::time::Duration;

use futures::future::join_all;
use rmcp::ErrorData as McpError;
use rmcp::ServerHandler;
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CompleteRequestParams, CompleteResult,
    GetPromptRequestParams, GetPromptResponse, Implementation, InitializeRequestParams,
    InitializeResult, ListPromptsResult, ListResourceTemplatesResult, ListResourcesResult,
    ListToolsResult, PaginatedRequestParams, ReadResourceRequestParams, ReadResourceResponse,
    Reference, RequestMetaObject, ServerCapabilities, ServerConfig, SubscribeRequestParams,
    UnsubscribeRequestParams,
};
use rmcp::service::{Peer, RequestContext, RoleClient, RoleServer};

use super::observe::{self, Call, SessionTag};
use super::{Binding, Gateway, GatewayError, Route, View, era};
use crate::diag::did_you_mean;
use crate::plan::rules::{Caller, ItemKind};
use crate::plan::{Plan, UpstreamId};
use crate::upstream::UpstreamHandle;

/// How long `initialize` waits for the profile's upstreams to finish connecting, so the first
/// client sees the full capability set instead of whatever had connected by then.
const INITIAL_CONNECT_WAIT: Duration = Duration::from_secs(10);

#[derive(Clone)]
pub struct HubSession {
    gateway: Arc<Gateway>,
    binding: Binding,
    /// The endpoint path, for the caller identity and logs.
    endpoint: Arc<str>,
    /// This session's id for rate limits; closes the session in the metrics when dropped.
    session: Arc<SessionTag>,
}

impl HubSession {
    pub fn new(gateway: Arc<Gateway>, binding: Binding, endpoint: impl Into<Arc<str>>) -> Self {
        let endpoint = endpoint.into();
        Self {
            gateway,
            binding,
            session: SessionTag::open(&endpoint),
            endpoint,
        }
    }

    fn caller(&self) -> Caller<'_> {
        Caller {
            endpoint: &self.endpoint,
            api_key: None,
            claims: None,
        }
    }

    async fn view(&self) -> (Arc<Plan>, Arc<View>) {
        let plan = self.gateway.plan();
        let view = self.gateway.view(&plan, &self.binding, self.caller()).await;
        (plan, view)
    }

    /// The route of a public tool or prompt name, or the "unknown" error with a suggestion.
    fn route(view: &View, kind: ItemKind, public: &str) -> Result<Route, GatewayError> {
        view.route(kind, public)
            .cloned()
            .ok_or_else(|| GatewayError::Unknown {
                kind,
                name: public.to_string(),
                suggestion: did_you_mean(public, view.names(kind)).map(str::to_string),
            })
    }

    fn resource_route(view: &View, uri: &str) -> Result<Route, GatewayError> {
        view.resource_route(uri)
            .ok_or_else(|| GatewayError::Unknown {
                kind: ItemKind::Resource,
                name: uri.to_string(),
                suggestion: did_you_mean(uri, view.names(ItemKind::Resource)).map(str::to_string),
            })
    }

    /// Runs one request on the upstream that owns `route`, bounded by its timeout, after the
    /// rate limits admitted it; logged and counted either way.
    async fn forward<T, F, Fut>(&self, call: Call<'_>, f: F) -> Result<T, McpError>
    where
        F: FnOnce(Peer<RoleClient>) -> Fut,
        Fut: Future<Output = Result<T, rmcp::service::ServiceError>>,
    {
        let api_key = self.caller().api_key;
        let observed = observe::begin(&self.gateway, &self.session, &self.binding, api_key, call)?;
        let result = self.forward_to(call.upstream, call.method, f).await;
        observed.finish(&result);
        result.map_err(McpError::from)
    }

    async fn forward_to<T, F, Fut>(
        &self,
        upstream: &UpstreamId,
        method: &'static str,
        f: F,
    ) -> Result<T, GatewayError>
    where
        F: FnOnce(Peer<RoleClient>) -> Fut,
        Fut: Future<Output = Result<T, rmcp::service::ServiceError>>,
    {
        let handle = self.handle(upstream)?;
        let timeout = handle.spec().timeout;
        let peer = handle
            .ready(timeout)
            .await
            .map_err(|e| GatewayError::Unavailable {
                upstream: upstream.clone(),
                reason: e.to_string(),
            })?;
        let _in_flight = handle.begin_request();
        match tokio::time::timeout(timeout, f(peer)).await {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(e)) => Err(GatewayError::from_service(upstream, method, e)),
            Err(_) => Err(GatewayError::Timeout {
                upstream: upstream.clone(),
                method,
                after: timeout,
            }),
        }
    }

    fn handle(&self, upstream: &UpstreamId) -> Result<UpstreamHandle, GatewayError> {
        self.gateway
            .registry()
            .get(upstream.as_str())
            .ok_or_else(|| GatewayError::Unavailable {
                upstream: upstream.clone(),
                reason: "not configured in the running plan".into(),
            })
    }

    fn upstreams(&self) -> Vec<UpstreamHandle> {
        let plan = self.gateway.plan();
        self.gateway.upstreams_of(&plan, &self.binding)
    }

    /// The union of what the binding's connected upstreams offer. Tools, prompts and resources
    /// are always advertised with `listChanged`, since the gateway itself changes them (reload,
    /// upstreams coming and going).
    fn capabilities(&self) -> ServerCapabilities {
        let mut caps = ServerCapabilities::builder()
            .enable_tools()
            .enable_tool_list_changed()
            .enable_prompts()
            .enable_prompts_list_changed()
            .enable_resources()
            .enable_resources_list_changed()
            .build();
        for u in self.upstreams() {
            let Some(info) = u.server_info() else {
                continue;
            };
            let up = &info.capabilities;
            if up.logging.is_some() {
                caps.logging = up.logging.clone();
            }
            if up.completions.is_some() {
                caps.completions = up.completions.clone();
            }
            if let (Some(ours), Some(theirs)) = (caps.resources.as_mut(), up.resources.as_ref())
                && theirs.subscribe == Some(true)
            {
                ours.subscribe = Some(true);
            }
        }
        caps
    }
}

/// Protocol-level `_meta` keys belong to each hop's own session; only the rest (the progress
/// token, user keys) travels upstream.
fn upstream_meta(meta: Option<RequestMetaObject>) -> Option<RequestMetaObject> {
    let mut meta = meta?;
    meta.retain(|k, _| !k.starts_with("io.modelcontextprotocol/"));
    (!meta.is_empty()).then_some(meta)
}

impl ServerHandler for HubSession {
    fn get_info(&self) -> ServerConfig {
        let plan = self.gateway.plan();
        let meta = plan
            .profile(self.binding.profile.as_str())
            .map(|p| p.meta.clone())
            .unwrap_or_default();
        let mut implementation = Implementation::new(meta.name, meta.version);
        if let Some(d) = meta.description {
            implementation = implementation.with_description(d);
        }
        InitializeResult::new(self.capabilities()).with_server_info(implementation)
    }

    async fn initialize(
        &self,
        request: InitializeRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<InitializeResult, McpError> {
        context.peer.set_peer_info(request.clone());
        let ups = self.upstreams();
        join_all(ups.iter().map(|u| {
            let wait = u.spec().connect_timeout.min(INITIAL_CONNECT_WAIT);
            super::connected(u, wait)
        }))
        .await;
        self.negotiate_initialize(&request)
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, McpError> {
        let (_, view) = self.view().await;
        Ok(ListToolsResult::with_all_items(view.tools.clone()))
    }

    async fn list_prompts(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListPromptsResult, McpError> {
        let (_, view) = self.view().await;
        Ok(ListPromptsResult::with_all_items(view.prompts.clone()))
    }

    async fn list_resources(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListResourcesResult, McpError> {
        let (_, view) = self.view().await;
        Ok(ListResourcesResult::with_all_items(view.resources.clone()))
    }

    async fn list_resource_templates(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListResourceTemplatesResult, McpError> {
        let (_, view) = self.view().await;
        Ok(ListResourceTemplatesResult::with_all_items(
            view.templates.clone(),
        ))
    }

    async fn call_tool(
        &self,
        mut request: CallToolRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, McpError> {
        let (_, view) = self.view().await;
        let route = Self::route(&view, ItemKind::Tool, &request.name)?;
        let public = std::mem::replace(&mut request.name, route.original.to_string().into());
        request.meta = upstream_meta(request.meta);
        self.forward(route.call("tools/call", &public), |peer| async move {
            peer.call_tool_once(request).await.map(era::call_tool)
        })
        .await
    }

    async fn get_prompt(
        &self,
        mut request: GetPromptRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<GetPromptResponse, McpError> {
        let (_, view) = self.view().await;
        let route = Self::route(&view, ItemKind::Prompt, &request.name)?;
        let public = std::mem::replace(&mut request.name, route.original.to_string());
        request.meta = upstream_meta(request.meta);
        self.forward(route.call("prompts/get", &public), |peer| async move {
            peer.get_prompt_once(request).await.map(era::get_prompt)
        })
        .await
    }

    async fn read_resource(
        &self,
        mut request: ReadResourceRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<ReadResourceResponse, McpError> {
        let (_, view) = self.view().await;
        let route = Self::resource_route(&view, &request.uri)?;
        let public = std::mem::replace(&mut request.uri, route.original.to_string());
        request.meta = upstream_meta(request.meta);
        self.forward(route.call("resources/read", &public), |peer| async move {
            peer.read_resource_once(request)
                .await
                .map(era::read_resource)
        })
        .await
    }

    #[allow(deprecated)]
    async fn subscribe(
        &self,
        mut request: SubscribeRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<(), McpError> {
        let (_, view) = self.view().await;
        let route = Self::resource_route(&view, &request.uri)?;
        let public = std::mem::replace(&mut request.uri, route.original.to_string());
        self.forward(
            route.call("resources/subscribe", &public),
            |peer| async move { peer.subscribe(request).await },
        )
        .await
    }

    #[allow(deprecated)]
    async fn unsubscribe(
        &self,
        mut request: UnsubscribeRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<(), McpError> {
        let (_, view) = self.view().await;
        let route = Self::resource_route(&view, &request.uri)?;
        let public = std::mem::replace(&mut request.uri, route.original.to_string());
        self.forward(
            route.call("resources/unsubscribe", &public),
            |peer| async move { peer.unsubscribe(request).await },
        )
        .await
    }

    async fn complete(
        &self,
        mut request: CompleteRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<CompleteResult, McpError> {
        let (_, view) = self.view().await;
        let route = match &mut request.r#ref {
            Reference::Prompt(p) => {
                let route = Self::route(&view, ItemKind::Prompt, &p.name)?;
                p.name = route.original.to_string();
                route
            }
            Reference::Resource(r) => view
                .template_routes
                .iter()
                .find(|(t, _)| t.pattern == r.uri)
                .map(|(_, up)| Route {
                    upstream: up.clone(),
                    original: r.uri.as_str().into(),
                })
                .map_or_else(|| Self::resource_route(&view, &r.uri), Ok)?,
            _ => {
                return Err(McpError::invalid_params(
                    "completion reference kind not supported by this gateway",
                    None,
                ));
            }
        };
        self.forward(route.call("completion/complete", ""), |peer| async move {
            peer.complete(request).await.map(era::complete)
        })
        .await
    }

    #[allow(deprecated)] // logging/setLevel is gone in 2026-07-28; older clients still send it.
    async fn set_level(
        &self,
        request: rmcp::model::SetLevelRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<(), McpError> {
        let targets: Vec<UpstreamHandle> = self
            .upstreams()
            .into_iter()
            .filter(|u| {
                u.server_info()
                    .is_some_and(|i| i.capabilities.logging.is_some())
            })
            .collect();
        for u in targets {
            let request = request.clone();
            if let Err(e) = self
                .forward(
                    Call::without_name(u.id(), "logging/setLevel"),
                    |peer| async move { peer.set_level(request).await },
                )
                .await
            {
                tracing::warn!(upstream = %u.id(), error = %e.message, "logging/setLevel not forwarded");
            }
        }
        Ok(())
    }
}
