//! [`HubSession`]: one downstream MCP session, as an rmcp `ServerHandler`.
//!
//! It answers `initialize`/`server/discover` with the profile's metadata and the union of its
//! upstreams' capabilities, serves lists from the binding's [`View`](super::View), and forwards
//! calls, prompt gets, resource reads, subscriptions, completions and log levels to the upstream
//! that owns the public name, with the original name restored (the sending itself is
//! `forward.rs`). Each request loads the current plan once, so a request runs on one plan from
//! start to end even if a reload lands meanwhile. What the gateway must remember about the
//! client lives in its [`ClientSession`].
#![allow(deprecated)] // logging, roots and resources/subscribe are deprecated by SEP-2577; older clients use them.

use std::sync::Arc;
use std::time::Duration;

use futures::future::join_all;
use rmcp::ErrorData as McpError;
use rmcp::ServerHandler;
use rmcp::model::{
    CallToolRequest, CallToolRequestParams, CallToolResponse, CancelTaskParams,
    CancelledNotificationParam, ClientRequest, CompleteRequest, CompleteRequestParams,
    CompleteResult, GetPromptRequest, GetPromptRequestParams, GetPromptResponse, GetTaskParams,
    GetTaskResult, Implementation, InitializeRequestParams, InitializeResult, ListPromptsResult,
    ListResourceTemplatesResult, ListResourcesResult, ListToolsResult, PaginatedRequestParams,
    ProgressNotificationParam, ReadResourceRequest, ReadResourceRequestParams,
    ReadResourceResponse, Reference, ServerCapabilities, ServerConfig, ServerResult,
    SetLevelRequestParams, SubscribeRequestParams, SubscriptionFilter, UnsubscribeRequestParams,
    UpdateTaskParams,
};
use rmcp::service::{NotificationContext, RequestContext, RoleServer, SubscriptionContext};

use super::forward::coerce;
use super::session::{ClientFacts, ClientSession};
use super::{Binding, Gateway, GatewayError, Route, View};
use crate::diag::did_you_mean;
use crate::plan::authz::Identity;
use crate::plan::rules::{Caller, ItemKind};
use crate::plan::{Plan, SessionMode, UpstreamId};
use crate::upstream::UpstreamHandle;

/// How long `initialize` waits for the profile's upstreams to finish connecting, so the first
/// client sees the full capability set instead of whatever had connected by then.
const INITIAL_CONNECT_WAIT: Duration = Duration::from_secs(10);

/// Marks the `initialize` replayed to restore a parked session (`serve::parked`): the client
/// was answered long ago, so it does not wait for upstreams to connect.
#[derive(Debug, Clone, Copy)]
pub struct Unparking;

#[derive(Clone)]
pub struct HubSession {
    pub(super) gateway: Arc<Gateway>,
    pub(super) binding: Binding,
    /// The endpoint path, for the caller identity and logs.
    endpoint: Arc<str>,
    /// Served over HTTP, where a 2026-07-28 client has no session (one handler per request).
    pub(super) http: bool,
    pub(super) session: Arc<ClientSession>,
    /// This session's id for rate limits and metrics; closes it in the metrics when dropped.
    pub(super) tag: Arc<super::observe::SessionTag>,
}

impl HubSession {
    /// A session served over a transport that keeps it for the client's whole connection
    /// (stdio, legacy SSE).
    pub fn new(gateway: Arc<Gateway>, binding: Binding, endpoint: impl Into<Arc<str>>) -> Self {
        Self::build(gateway, binding, endpoint.into(), false)
    }

    /// A session served on a Streamable HTTP endpoint.
    pub fn for_http(
        gateway: Arc<Gateway>,
        binding: Binding,
        endpoint: impl Into<Arc<str>>,
    ) -> Self {
        Self::build(gateway, binding, endpoint.into(), true)
    }

    fn build(gateway: Arc<Gateway>, binding: Binding, endpoint: Arc<str>, http: bool) -> Self {
        let session = ClientSession::new(binding.clone(), endpoint.clone());
        gateway.register(&session);
        Self {
            gateway,
            binding,
            tag: super::observe::SessionTag::open(&endpoint),
            endpoint,
            http,
            session,
        }
    }

    /// Names the session by its downstream `Mcp-Session-Id` (for `per session` limits).
    pub fn name_session(&self, session_id: &str) {
        self.tag.name_by(session_id);
    }

    /// Whether a request's `MCP-Protocol-Version` header (if any) names the version this
    /// session negotiated.
    pub fn protocol_matches(&self, header: Option<&http::HeaderValue>) -> bool {
        let Some(header) = header else {
            return true;
        };
        self.session.negotiated(header.as_bytes())
    }

    /// The session, authenticated as `identity` (for transports whose requests carry no HTTP
    /// parts, such as legacy SSE, where the stream's `GET` was authenticated).
    pub fn with_identity(self, identity: &Identity) -> Self {
        self.session.set_identity(identity);
        self
    }

    /// Who this session's requests are authenticated as.
    pub(super) fn identity(&self) -> Arc<Identity> {
        self.session.identity()
    }

    /// Whether this session may be parked (`serve::parked`): a Streamable HTTP session of an
    /// `initialize`-era client whose `initialize` is kept, that answers no server→client
    /// requests (they need rmcp's peer) and follows no tasks.
    pub fn parkable(&self) -> bool {
        let session = &self.session;
        self.http
            && session.init().is_some()
            && !session.is_modern()
            && !session.answers_server_requests()
            && !session.follows_tasks()
    }

    /// What the client sent in `initialize`, to replay when the session is restored.
    pub fn initialize_params(&self) -> Option<InitializeRequestParams> {
        self.session.init().cloned()
    }

    /// rmcp no longer runs this session; the gateway reaches the client on `downlink`.
    pub fn detach_peer(&self) {
        self.session.detach_peer();
    }

    /// The session's own event stream, where the gateway reaches the client while rmcp does
    /// not run the session.
    pub fn use_downlink(&self, downlink: Arc<super::downlink::Downlink>) {
        self.session.use_downlink(downlink);
    }

    /// The client cancelled request `id`, which runs on the fast path if anywhere.
    pub fn cancel_fast(&self, id: &rmcp::model::RequestId) {
        self.session.cancel_fast(id);
    }

    /// Takes the identity a request on the fast path was authenticated as.
    pub fn adopt_identity(&self, identity: &Identity) {
        self.session.set_identity(identity);
    }

    pub(super) async fn view(&self) -> (Arc<Plan>, Arc<View>) {
        let plan = self.gateway.plan();
        let identity = self.identity();
        let caller: Caller<'_> = identity.caller(&self.endpoint);
        let upstreams = self.list_sources(&plan);
        let view = self
            .gateway
            .view_from(&plan, &self.binding, caller, upstreams)
            .await;
        (plan, view)
    }

    /// The connections the binding's lists come from: the registry's, except for an upstream
    /// that propagates the caller's identity, whose registry connection never connects; its
    /// lists come through this client's own connection (when the client has a token). The
    /// list cache stays per upstream, as for every other upstream.
    fn list_sources(&self, plan: &Plan) -> Vec<UpstreamHandle> {
        let mut upstreams = self.gateway.upstreams_of(plan, &self.binding);
        if self.identity().token.is_none() {
            return upstreams;
        }
        for handle in &mut upstreams {
            let propagates = handle.spec().auth.as_ref().is_some_and(|a| a.propagates());
            if propagates && let Ok((own, _link)) = self.dedicated(handle.id(), handle) {
                *handle = own;
            }
        }
        upstreams
    }

    /// [`view`](Self::view), logging at debug level (target `mcp2::explain`) how this request
    /// is routed, as `mcp2 explain` would print it.
    pub(super) async fn explained_view(
        &self,
        method: crate::explain::Method,
        target: Option<&str>,
    ) -> (Arc<Plan>, Arc<View>) {
        let (plan, view) = self.view().await;
        let identity = self.identity();
        let request = crate::explain::LoggedRequest {
            endpoint: &self.endpoint,
            method,
            target,
            identity: &identity,
        };
        crate::explain::log_request(&self.gateway, &plan, &self.binding, request, &view).await;
        (plan, view)
    }

    /// Takes the identity the request was authenticated as (the guard put it into the HTTP
    /// request's extensions), when it carries one.
    fn adopt_request_identity(&self, context: &RequestContext<RoleServer>) {
        let identity = context
            .extensions
            .get::<http::request::Parts>()
            .and_then(|parts| parts.extensions.get::<Identity>());
        if let Some(identity) = identity {
            self.session.set_identity(identity);
        }
    }

    /// Remembers the client's peer and what it declared, from the first request it sends.
    pub(super) fn touch(&self, context: &RequestContext<RoleServer>) {
        if let Some(id) = context
            .extensions
            .get::<http::request::Parts>()
            .and_then(|p| p.headers.get("mcp-session-id"))
            .and_then(|v| v.to_str().ok())
        {
            self.tag.name_by(id);
        }
        self.adopt_request_identity(context);
        if self.session.has_peer() {
            return;
        }
        let facts = ClientFacts {
            capabilities: context.client_capabilities().unwrap_or_default(),
            protocol: context.protocol_version(),
            name: context.client_info().map(|i| i.name),
        };
        let modern = facts.modern();
        self.session.attach(&context.peer, Some(facts));
        if modern && let Some(level) = context.meta.log_level() {
            self.session.set_level(level);
        }
        self.gateway
            .note_binding(&self.binding, &self.endpoint, self.identity());
    }

    /// The route of a public tool or prompt name, or the "unknown" error with a suggestion.
    pub(super) fn route(view: &View, kind: ItemKind, public: &str) -> Result<Route, GatewayError> {
        view.route(kind, public)
            .cloned()
            .ok_or_else(|| GatewayError::Unknown {
                kind,
                name: public.to_string(),
                suggestion: did_you_mean(public, view.names(kind)).map(str::to_string),
            })
    }

    pub(super) fn resource_route(view: &View, uri: &str) -> Result<Route, GatewayError> {
        view.resource_route(uri)
            .ok_or_else(|| GatewayError::Unknown {
                kind: ItemKind::Resource,
                name: uri.to_string(),
                suggestion: did_you_mean(uri, view.names(ItemKind::Resource)).map(str::to_string),
            })
    }

    /// Logs and counts a request for a name this client's view does not have.
    pub(super) fn not_found(
        &self,
        method: &'static str,
        public: &str,
        e: GatewayError,
    ) -> GatewayError {
        super::observe::not_found(&self.tag, &self.binding, method, public, e)
    }

    pub(super) fn handle(&self, upstream: &UpstreamId) -> Result<UpstreamHandle, GatewayError> {
        self.gateway
            .registry()
            .get(upstream.as_str())
            .ok_or_else(|| GatewayError::Unavailable {
                upstream: upstream.clone(),
                reason: "not configured in the running plan".into(),
            })
    }

    pub(super) fn upstreams(&self) -> Vec<UpstreamHandle> {
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
        for u in self.list_sources(&self.gateway.plan()) {
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
            super::tasks::merge_capability(&mut caps, up);
            if let (Some(ours), Some(theirs)) = (caps.resources.as_mut(), up.resources.as_ref())
                && theirs.subscribe == Some(true)
            {
                ours.subscribe = Some(true);
            }
        }
        caps
    }
}

/// MCP methods a client may send. A request naming one of them that still reached
/// `on_custom_request` had params that do not fit the method.
const CLIENT_METHODS: &[&str] = &[
    "initialize",
    "ping",
    "completion/complete",
    "logging/setLevel",
    "prompts/get",
    "prompts/list",
    "resources/list",
    "resources/templates/list",
    "resources/read",
    "resources/subscribe",
    "resources/unsubscribe",
    "tools/call",
    "tools/list",
    "tasks/get",
    "tasks/list",
    "tasks/result",
    "tasks/cancel",
];

/// The error for a request rmcp could not type: bad params of a known method (-32602), or an
/// unknown method (-32601).
fn untyped_request_error(method: &str) -> McpError {
    if CLIENT_METHODS.contains(&method) {
        McpError::invalid_params(
            format!("the params of `{method}` do not fit its schema"),
            None,
        )
    } else {
        McpError::new(
            rmcp::model::ErrorCode::METHOD_NOT_FOUND,
            format!("unknown method `{method}`"),
            None,
        )
    }
}

/// Every handler's work runs boxed (`Box::pin(async move { .. }).await`). rmcp keeps each
/// session's `initialize` handshake future inline in the session's task for the session's whole
/// life, and that future embeds `handle_request`, which is as large as the largest handler
/// future: unboxed, every idle session held several KiB of request state machines it was not
/// running (issue #8). Boxed, the per-request allocation is paid only by a request.
impl ServerHandler for HubSession {
    async fn on_custom_request(
        &self,
        request: rmcp::model::CustomRequest,
        _context: RequestContext<RoleServer>,
    ) -> Result<rmcp::model::CustomResult, McpError> {
        Err(untyped_request_error(&request.method))
    }

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
        Box::pin(async move {
            context.peer.set_peer_info(request.clone());
            if self.http {
                self.session.remember_init(&request);
            }
            if context
                .extensions
                .get::<rmcp::transport::streamable_http_server::SessionRestoreMarker>()
                .is_some()
            {
                self.session.mark_moved();
            }
            // A propagating upstream is reached through this client's own connection, opened now
            // with the token `initialize` was authenticated with.
            self.adopt_request_identity(&context);
            // A restored session's client was answered long ago: no waiting for upstreams.
            if context.extensions.get::<Unparking>().is_none() {
                let ups = self.list_sources(&self.gateway.plan());
                join_all(ups.iter().map(|u| {
                    let wait = u.spec().connect_timeout.min(INITIAL_CONNECT_WAIT);
                    super::connected(u, wait)
                }))
                .await;
            }
            let result = self.negotiate_initialize(&request)?;
            let facts = ClientFacts {
                capabilities: request.capabilities.clone(),
                protocol: Some(result.protocol_version.clone()),
                name: Some(request.client_info.name.clone()),
            };
            self.session.attach(&context.peer, Some(facts));
            self.gateway
                .note_binding(&self.binding, &self.endpoint, self.identity());
            Ok(result)
        })
        .await
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, McpError> {
        Box::pin(async move {
            self.touch(&context);
            let (_, view) = self
                .explained_view(crate::explain::Method::ToolsList, None)
                .await;
            let mut result = ListToolsResult::with_all_items(view.tools.clone());
            (result.ttl_ms, result.cache_scope) = self.list_hints(&view, super::ListKind::Tools);
            Ok(result)
        })
        .await
    }

    async fn list_prompts(
        &self,
        _request: Option<PaginatedRequestParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<ListPromptsResult, McpError> {
        Box::pin(async move {
            self.touch(&context);
            let (_, view) = self
                .explained_view(crate::explain::Method::PromptsList, None)
                .await;
            let mut result = ListPromptsResult::with_all_items(view.prompts.clone());
            (result.ttl_ms, result.cache_scope) = self.list_hints(&view, super::ListKind::Prompts);
            Ok(result)
        })
        .await
    }

    async fn list_resources(
        &self,
        _request: Option<PaginatedRequestParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<ListResourcesResult, McpError> {
        Box::pin(async move {
            self.touch(&context);
            let (_, view) = self
                .explained_view(crate::explain::Method::ResourcesList, None)
                .await;
            let mut result = ListResourcesResult::with_all_items(view.resources.clone());
            (result.ttl_ms, result.cache_scope) =
                self.list_hints(&view, super::ListKind::Resources);
            Ok(result)
        })
        .await
    }

    async fn list_resource_templates(
        &self,
        _request: Option<PaginatedRequestParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<ListResourceTemplatesResult, McpError> {
        Box::pin(async move {
            self.touch(&context);
            let (_, view) = self.view().await;
            let mut result = ListResourceTemplatesResult::with_all_items(view.templates.clone());
            (result.ttl_ms, result.cache_scope) =
                self.list_hints(&view, super::ListKind::Templates);
            Ok(result)
        })
        .await
    }

    async fn call_tool(
        &self,
        mut request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, McpError> {
        Box::pin(async move {
            self.touch(&context);
            let method = "tools/call";
            let state = request.request_state.as_deref();
            let public = request.name.to_string();
            let answer = match self
                .resume(state, request.input_responses.as_ref(), &context)
                .await
            {
                Some(resumed) => resumed?,
                None => {
                    let make = |original: &str| {
                        request.name = original.to_string().into();
                        ClientRequest::CallToolRequest(CallToolRequest::new(request))
                    };
                    self.forward_item(ItemKind::Tool, method, &public, make, &context)
                        .await?
                }
            };
            Ok(match answer {
                ServerResult::CallToolResult(r) => CallToolResponse::Complete(r),
                ServerResult::InputRequiredResult(r) => CallToolResponse::InputRequired(r),
                ServerResult::CreateTaskResult(r) => {
                    CallToolResponse::Task(self.adopt_task(&public, r, &context).await?)
                }
                other => CallToolResponse::Complete(coerce(method, other)?),
            })
        })
        .await
    }

    async fn get_prompt(
        &self,
        mut request: GetPromptRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<GetPromptResponse, McpError> {
        Box::pin(async move {
            self.touch(&context);
            let method = "prompts/get";
            let state = request.request_state.as_deref();
            let answer = match self
                .resume(state, request.input_responses.as_ref(), &context)
                .await
            {
                Some(resumed) => resumed?,
                None => {
                    let public = request.name.clone();
                    let make = |original: &str| {
                        request.name = original.to_string();
                        ClientRequest::GetPromptRequest(GetPromptRequest::new(request))
                    };
                    self.forward_item(ItemKind::Prompt, method, &public, make, &context)
                        .await?
                }
            };
            Ok(match answer {
                ServerResult::GetPromptResult(r) => GetPromptResponse::Complete(r),
                ServerResult::InputRequiredResult(r) => GetPromptResponse::InputRequired(r),
                other => GetPromptResponse::Complete(coerce(method, other)?),
            })
        })
        .await
    }

    async fn read_resource(
        &self,
        mut request: ReadResourceRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<ReadResourceResponse, McpError> {
        Box::pin(async move {
            self.touch(&context);
            let method = "resources/read";
            let state = request.request_state.as_deref();
            let answer = match self
                .resume(state, request.input_responses.as_ref(), &context)
                .await
            {
                Some(resumed) => resumed?,
                None => {
                    let public = request.uri.clone();
                    let make = |original: &str| {
                        request.uri = original.to_string();
                        ClientRequest::ReadResourceRequest(ReadResourceRequest::new(request))
                    };
                    self.forward_item(ItemKind::Resource, method, &public, make, &context)
                        .await?
                }
            };
            Ok(match answer {
                ServerResult::ReadResourceResult(r) => ReadResourceResponse::Complete(r),
                ServerResult::InputRequiredResult(r) => ReadResourceResponse::InputRequired(r),
                other => ReadResourceResponse::Complete(coerce(method, other)?),
            })
        })
        .await
    }

    async fn subscribe(
        &self,
        request: SubscribeRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<(), McpError> {
        Box::pin(async move {
            self.touch(&context);
            self.subscribe_upstream(request, &context).await
        })
        .await
    }

    async fn unsubscribe(
        &self,
        request: UnsubscribeRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<(), McpError> {
        Box::pin(async move {
            self.touch(&context);
            self.unsubscribe_upstream(request, &context).await
        })
        .await
    }

    async fn complete(
        &self,
        mut request: CompleteRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CompleteResult, McpError> {
        Box::pin(async move {
            self.touch(&context);
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
            let method = "completion/complete";
            let request = ClientRequest::CompleteRequest(CompleteRequest::new(request));
            let result = self
                .send(
                    super::observe::Call::without_name(&route.upstream, method),
                    request,
                    &context,
                )
                .await?;
            coerce(method, result)
        })
        .await
    }

    async fn set_level(
        &self,
        request: SetLevelRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<(), McpError> {
        Box::pin(async move {
            self.touch(&context);
            self.set_levels(request, &context).await
        })
        .await
    }

    fn accepted_subscription_filter(
        &self,
        requested: &SubscriptionFilter,
    ) -> Option<SubscriptionFilter> {
        // rmcp narrows it to what `get_info` advertises.
        Some(requested.clone())
    }

    /// `subscriptions/listen` (2026-07-28); see `subscribe.rs`.
    async fn listen(&self, context: SubscriptionContext) -> Result<(), McpError> {
        Box::pin(async move { self.listen_stream(context).await }).await
    }

    async fn get_task(
        &self,
        request: GetTaskParams,
        context: RequestContext<RoleServer>,
    ) -> Result<GetTaskResult, McpError> {
        Box::pin(async move {
            self.touch(&context);
            self.get_task_upstream(request, &context).await
        })
        .await
    }

    async fn update_task(
        &self,
        request: UpdateTaskParams,
        context: RequestContext<RoleServer>,
    ) -> Result<(), McpError> {
        Box::pin(async move {
            self.touch(&context);
            self.update_task_upstream(request, &context).await
        })
        .await
    }

    async fn cancel_task(
        &self,
        request: CancelTaskParams,
        context: RequestContext<RoleServer>,
    ) -> Result<(), McpError> {
        Box::pin(async move {
            self.touch(&context);
            self.cancel_task_upstream(request, &context).await
        })
        .await
    }

    async fn on_cancelled(
        &self,
        notification: CancelledNotificationParam,
        _context: NotificationContext<RoleServer>,
    ) {
        // rmcp cancels the request's token; `send` turns that into the upstream cancellation.
        // Calls on the fast path are not in rmcp's table: they have their own.
        if let Some(id) = &notification.request_id {
            self.session.cancel_fast(id);
        }
    }

    async fn on_progress(
        &self,
        notification: ProgressNotificationParam,
        _context: NotificationContext<RoleServer>,
    ) {
        Box::pin(async move {
            self.session.relay_progress(notification).await;
        })
        .await
    }

    async fn on_roots_list_changed(&self, _context: NotificationContext<RoleServer>) {
        Box::pin(async move {
            for link in self.session.links() {
                if let Some(peer) = link.handle().peer() {
                    let _ = peer.notify_roots_list_changed().await;
                }
            }
        })
        .await
    }
}

impl HubSession {
    /// The caching hints a 2026-07-28 client gets on a list (`ttlMs`, `cacheScope`): never
    /// fresher or more public than the upstream lists the view was built from. Older clients
    /// get none.
    fn list_hints(
        &self,
        view: &View,
        kind: super::ListKind,
    ) -> (Option<u64>, Option<rmcp::model::CacheScope>) {
        if !self.session.is_modern() {
            return (None, None);
        }
        let (ttl, scope) = view.freshness[kind.index()].hints();
        (Some(ttl), Some(scope))
    }

    /// Whether this client's requests to `upstream` go on the shared connection: always for a
    /// `shared` upstream, and for a client on the 2026-07-28 lifecycle over HTTP, which has no
    /// session that outlives one request, unless the upstream propagates the caller's identity.
    pub(super) fn uses_shared(
        &self,
        upstream: &UpstreamId,
        context: &RequestContext<RoleServer>,
    ) -> bool {
        let Ok(handle) = self.handle(upstream) else {
            return true;
        };
        let spec = handle.spec();
        if spec.session != SessionMode::PerClient {
            // (The checker refuses a shared upstream that propagates the caller's identity.)
            return true;
        }
        // A propagating upstream's shared connection has no caller: even a client without a
        // lasting session gets a connection of its own, carrying its token.
        let propagates = spec.auth.as_ref().is_some_and(|a| a.propagates());
        !propagates && self.http && context.meta.protocol_version().is_some()
    }
}
