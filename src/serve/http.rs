//! Streamable HTTP downstream: the plan's endpoints on one axum router.
//!
//! Paths are looked up in the *current* plan on every request (so a reload that adds or removes
//! endpoints needs no new router), and each (endpoint, binding) gets one rmcp
//! `StreamableHttpService` and one session manager (`parked::EndpointSessions`) for its
//! sessions. Services outlive reloads: a session opened
//! before a reload keeps working after it, and sees the new rules at its next request.
//!
//! Shutdown is two steps ([`McpRoutes::drain`]): MCP requests in flight (each `POST` until its
//! response body has been sent) finish first, bounded; only then are the sessions closed, which
//! ends their long-lived event streams so the HTTP server can stop.
//! Every request passes the `guard` first (browser `Origin`, the endpoint's credential). A
//! `POST` of a known session may then be served on the fast path (`fast`) instead of by rmcp.
//!
//! With a session key (several replicas), a request's response stream lives on the replica
//! that runs the request: it cannot be resumed elsewhere. So those streams carry no priming
//! event (a stream cut before its answer then fails its request at once in the client), and a
//! `GET` that tries to resume one (`Last-Event-ID` of a request's stream) is refused with 405,
//! which clients take as "cannot resume" and fail the request, instead of reconnecting forever
//! to a replica that never ran it (see [`unresumable`]).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use futures::StreamExt;
use http::StatusCode;
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::{StreamableHttpServerConfig, StreamableHttpService};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tokio_util::task::task_tracker::TaskTrackerToken;

use super::fast::{self, SESSION_ID};
use super::parked::{self, EndpointSessions};
use super::sessions::{self, Issuer, SealStore, Sharing};
use super::sse::LegacySessions;
use super::{guard, oauth};
use crate::cluster::seal::SessionKey;
use crate::gateway::handler::HubSession;
use crate::gateway::{Binding, Fast, Gateway};
use crate::plan::authz::Identity;
use crate::plan::{Endpoint, Plan};

type Service = StreamableHttpService<HubSession, EndpointSessions>;
/// An endpoint's service and the session manager it keeps its sessions in. Shared, not
/// cloned per request: a service clone copies its whole configuration.
type Served = Arc<(Service, Arc<EndpointSessions>)>;

#[derive(Clone)]
pub struct McpRoutes {
    inner: Arc<Inner>,
}

struct Inner {
    gateway: Arc<Gateway>,
    legacy: Arc<LegacySessions>,
    /// One service per endpoint path and binding. A std Mutex: held only to clone an `Arc` out.
    services: Mutex<HashMap<(String, Binding), Served>>,
    /// Whether the fast path serves what it can (`fast::enabled`).
    fast: bool,
    /// Closes every session (and its event streams); cancelled by [`McpRoutes::drain`].
    sessions: CancellationToken,
    /// One token per `POST` whose response is still being produced.
    in_flight: TaskTracker,
    listen: SocketAddr,
    /// Seals session ids so that any replica can serve them (`sessions`); `None`: local ids.
    key: Option<SessionKey>,
    /// Where session ends are shared with the other replicas (`cluster::ended`).
    ended: Option<Arc<crate::cluster::ended::EndedSessions>>,
    /// How long a session may go without a request before it is closed.
    idle_session: Duration,
    /// Access-token verifiers (and their key caches) of the `oauth` blocks.
    verifiers: super::oauth::Verifiers,
}

impl McpRoutes {
    pub fn new(gateway: Arc<Gateway>, listen: SocketAddr) -> Self {
        Self::with_key(gateway, listen, None)
    }

    /// Like [`McpRoutes::new`]; with a key, session ids are sealed and any replica holding the
    /// same key serves them.
    pub fn with_key(gateway: Arc<Gateway>, listen: SocketAddr, key: Option<SessionKey>) -> Self {
        Self::shared(gateway, listen, Sharing { key, ended: None })
    }

    /// Like [`McpRoutes::with_key`]; with `sharing.ended`, a `DELETE` ends a session on every
    /// replica (call [`McpRoutes::close_ended`] for the ends the other replicas announce).
    pub fn shared(gateway: Arc<Gateway>, listen: SocketAddr, sharing: Sharing) -> Self {
        let Sharing { key, ended } = sharing;
        Self {
            inner: Arc::new(Inner {
                gateway,
                legacy: Arc::default(),
                services: Mutex::new(HashMap::new()),
                fast: fast::enabled(),
                sessions: CancellationToken::new(),
                in_flight: TaskTracker::new(),
                listen,
                key,
                ended,
                idle_session: super::ServeLimits::DEFAULT_IDLE_SESSION,
                verifiers: Default::default(),
            }),
        }
    }

    /// Sessions idle for `idle` are closed (their id then gets 404). Call before serving.
    pub fn with_idle_session(mut self, idle: Duration) -> Self {
        if let Some(inner) = Arc::get_mut(&mut self.inner) {
            inner.idle_session = idle;
        }
        self
    }

    /// Waits (up to `limit`) for the MCP requests in flight to be answered, then closes every
    /// session. Call it once the listener has stopped accepting. Returns whether all finished.
    pub async fn drain(&self, limit: Duration) -> bool {
        self.inner.in_flight.close();
        let finished = tokio::time::timeout(limit, self.inner.in_flight.wait())
            .await
            .is_ok();
        self.inner.sessions.cancel();
        finished
    }

    /// Closes the session `id` wherever this replica holds it (an end another replica
    /// announced); its next request is then refused by the store, as anywhere else.
    pub async fn close_ended(&self, id: &str) {
        let managers: Vec<Arc<EndpointSessions>> = self
            .inner
            .services
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .values()
            .map(|served| served.1.clone())
            .collect();
        for manager in managers {
            if manager.end(id).await {
                tracing::info!("closed a session ended on another replica");
            }
        }
    }

    fn service(&self, endpoint: &Endpoint) -> Served {
        let binding = Binding {
            profile: endpoint.profile.clone(),
            only_upstream: endpoint.only_upstream.clone(),
        };
        let key = (endpoint.path.clone(), binding.clone());
        let mut services = self
            .inner
            .services
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        services
            .entry(key)
            .or_insert_with(|| {
                let gateway = self.inner.gateway.clone();
                let path: Arc<str> = endpoint.path.as_str().into();
                let mut config = self.config();
                let mut local = LocalSessionManager::default();
                if let Some(key) = &self.inner.key {
                    config.sse_retry = None;
                    local.session_config.sse_retry = None;
                    config.session_store = Some(Arc::new(SealStore {
                        key: key.clone(),
                        endpoint: path.clone(),
                        binding: binding.clone(),
                        ended: self.inner.ended.clone(),
                    }));
                }
                let factory = move || {
                    let hub = HubSession::for_http(gateway.clone(), binding.clone(), path.clone());
                    parked::built(&hub);
                    Ok(hub)
                };
                let idle = self.inner.idle_session;
                let cancel = self.inner.sessions.child_token();
                let sessions =
                    EndpointSessions::new(local, endpoint.path.as_str().into(), idle, cancel);
                let manager = Arc::new(sessions);
                let service = StreamableHttpService::new(factory, manager.clone(), config);
                Arc::new((service, manager))
            })
            .clone()
    }

    fn config(&self) -> StreamableHttpServerConfig {
        let mut config = StreamableHttpServerConfig::default();
        config.cancellation_token = self.inner.sessions.child_token();
        if !self.inner.listen.ip().is_loopback() {
            // Bound beyond loopback on purpose: the operator chose the audience; Host checks
            // against a fixed loopback list would refuse every real client.
            config.allowed_hosts = Vec::new();
        }
        config
    }
}

/// Picks the endpoint for a request: the first declared endpoint on this path whose condition
/// holds.
pub fn select<'p>(plan: &'p Plan, path: &str, headers: &http::HeaderMap) -> Option<&'p Endpoint> {
    select_traced(plan, path, headers, &mut |_, _| {})
}

/// [`select`], telling `seen` about every endpoint on the path it tried, in order, and whether
/// its condition held (`mcp2 explain` shows them; the server passes a no-op).
pub fn select_traced<'p>(
    plan: &'p Plan,
    path: &str,
    headers: &http::HeaderMap,
    seen: &mut dyn FnMut(&'p Endpoint, bool),
) -> Option<&'p Endpoint> {
    plan.endpoints.iter().filter(|e| e.path == path).find(|e| {
        let holds = e
            .when
            .as_ref()
            .is_none_or(|c| c.matches(|name| headers.get(name).and_then(|v| v.to_str().ok())));
        seen(e, holds);
        holds
    })
}

/// The fallback handler: every path not taken by the admin routes.
pub async fn dispatch(State(routes): State<McpRoutes>, request: Request) -> Response {
    let plan = routes.inner.gateway.plan();
    if let Err(refused) = guard::check_origin(request.headers(), &plan.allowed_origins) {
        return *refused;
    }
    let listen = routes.inner.listen;
    if request.uri().path().starts_with(oauth::METADATA_PATH) {
        return match oauth::metadata_endpoint(&plan.endpoints, request.uri().path(), listen) {
            Some((endpoint, spec)) => {
                axum::Json(oauth::metadata(spec, endpoint, listen)).into_response()
            }
            None => not_found(&plan, request.uri().path()),
        };
    }
    if let Some(endpoint) = select_legacy(&plan, request.uri().path(), request.headers()) {
        let loopback = listen.ip().is_loopback();
        if let Err(refused) = guard::check_host(request.headers(), loopback) {
            return *refused;
        }
        let identity = match authenticate(&routes, &plan, endpoint, request.headers()).await {
            Ok(identity) => identity,
            Err(refused) => return refused,
        };
        return legacy(&routes, endpoint, &identity, request).await;
    }
    let Some(endpoint) = select(&plan, request.uri().path(), request.headers()) else {
        return not_found(&plan, request.uri().path());
    };
    let identity = match authenticate(&routes, &plan, endpoint, request.headers()).await {
        Ok(identity) => identity,
        Err(refused) => return refused,
    };
    let chosen = Chosen::of(&plan, endpoint);
    routes.authenticated(plan, chosen, identity, request).await
}

/// The position of the chosen endpoint in its plan (which the request then owns).
struct Chosen(usize);

impl Chosen {
    fn of(plan: &Plan, endpoint: &Endpoint) -> Self {
        let position = plan
            .endpoints
            .iter()
            .position(|e| std::ptr::eq(e, endpoint));
        Chosen(position.unwrap_or(usize::MAX))
    }
}

impl McpRoutes {
    /// Whether [`McpRoutes::early`] may take this request: a `POST` of a session, with a
    /// declared body small enough for the fast path, while the fast path is on. A cheap test
    /// on the headers only.
    pub fn may_take_early(&self, request: &Request, max_body: usize) -> bool {
        self.inner.fast
            && request.method() == http::Method::POST
            && request.headers().contains_key(SESSION_ID)
            && fast::small_body(request.headers(), max_body)
    }

    /// Serves a request before axum's router sees it, when it is a `POST` of a known session
    /// that the fast path may take: the same checks as [`dispatch`], in the same order, without
    /// the router and its middleware (a sixth of a fast call's own time). Gives the request
    /// back untouched, for the router, whenever it is anything else or a check refuses it
    /// (the router's path then answers, logs and audits the refusal, as it always has). Once
    /// authenticated, the request is served here whatever happens next (by rmcp if the fast
    /// path declines), so it is never authenticated twice.
    ///
    /// Call it only for requests [`McpRoutes::may_take_early`] accepts. Its future is large
    /// (it holds the whole request's serving): box it, or every connection's task carries it
    /// for the connection's life (measured: 35 KiB more per idle session).
    pub async fn early(&self, request: Request, max_body: usize) -> Result<Response, Request> {
        let plan = self.inner.gateway.plan();
        let path = request.uri().path();
        // Admin paths need no test: no endpoint may live under `/_mcp2/` (`check`), so
        // `select` finds none there.
        if path.starts_with(oauth::METADATA_PATH)
            || guard::check_origin(request.headers(), &plan.allowed_origins).is_err()
            || select_legacy(&plan, path, request.headers()).is_some()
        {
            return Err(request);
        }
        let Some(endpoint) = select(&plan, path, request.headers()) else {
            return Err(request);
        };
        let inner = &self.inner;
        let Ok(identity) =
            oauth::authenticate(request.headers(), endpoint, inner.listen, &inner.verifiers).await
        else {
            return Err(request);
        };
        let chosen = Chosen::of(&plan, endpoint);
        let serve = |request| self.authenticated(plan, chosen, identity, request);
        Ok(super::conn::with_whole_body(request, max_body, serve).await)
    }

    /// [`dispatch`] once the endpoint is chosen and the caller authenticated.
    async fn authenticated(
        &self,
        plan: Arc<Plan>,
        endpoint: Chosen,
        identity: Identity,
        request: Request,
    ) -> Response {
        let Some(endpoint) = plan.endpoints.get(endpoint.0) else {
            return not_found(&plan, request.uri().path());
        };
        if self.inner.key.is_some() && resumes_a_request(request.headers()) {
            return unresumable();
        }
        let mut request = request;
        request.extensions_mut().insert(identity);
        let served = self.service(endpoint);
        let (service, manager) = (&served.0, &served.1);
        let (mut request, issued) = match &self.inner.key {
            Some(key) => {
                let binding = Binding {
                    profile: endpoint.profile.clone(),
                    only_upstream: endpoint.only_upstream.clone(),
                };
                let issuer = Issuer {
                    key,
                    endpoint: &endpoint.path,
                    binding: &binding,
                };
                match sessions::issue(&issuer, request).await {
                    Ok(issued) => issued,
                    Err(refused) => return refused,
                }
            }
            None => (request, None),
        };
        drop(plan);
        // A POST that carries a request is answered on an event stream that ends once the answer
        // has been sent: that stream is the request in flight. (GET streams live as long as their
        // session; notifications and responses get an empty 202 at once.)
        let post = request.method() == http::Method::POST;
        let delete = request.method() == http::Method::DELETE;
        let in_flight = post.then(|| self.inner.in_flight.token());
        if post && self.inner.fast {
            let loopback = self.inner.listen.ip().is_loopback();
            match fast_path(manager, request, loopback).await {
                Ok(answered) => return held(answered, in_flight),
                Err(untouched) => request = untouched,
            }
        }
        let ended = delete
            .then(|| {
                request
                    .headers()
                    .get(SESSION_ID)?
                    .to_str()
                    .ok()
                    .map(str::to_owned)
            })
            .flatten();
        // Boxed: rmcp's request future is about 30 KB, and unboxed it would make every request's
        // future (the fast path's included) that large, copied into its box on each request.
        let handled = Box::pin(service.handle(request));
        let response = parked::building(sessions::with_issued(issued, handled))
            .await
            .map(Body::new);
        let response = if delete {
            if response.status().is_success()
                && let Some(id) = ended
            {
                manager.end(&id).await;
            }
            session_ended(response)
        } else {
            response
        };
        held(response, in_flight)
    }
}

/// An event stream answering a request keeps the request in flight until it ends.
fn held(response: Response, in_flight: Option<TaskTrackerToken>) -> Response {
    match in_flight {
        Some(token) if is_event_stream(&response) => response.map(|body| {
            Body::from_stream(body.into_data_stream().map(move |chunk| {
                let _held_until_the_body_ends = &token;
                chunk
            }))
        }),
        _ => response,
    }
}

/// A `DELETE` that ended its session is answered 204 rather than rmcp's 202: the session is
/// gone, nothing was merely accepted, and the Python SDK warns "Session termination failed" on
/// anything but 200 or 204.
fn session_ended(mut response: http::Response<Body>) -> http::Response<Body> {
    if response.status() == StatusCode::ACCEPTED {
        *response.status_mut() = StatusCode::NO_CONTENT;
        *response.body_mut() = Body::empty();
    }
    response
}

/// Whether a `GET` asks to resume a request's response stream: rmcp's event ids are
/// `index/stream` on those, a bare `index` on the session's own stream.
fn resumes_a_request(headers: &http::HeaderMap) -> bool {
    headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|id| id.contains('/'))
}

/// The answer to resuming a request's stream with a session key (405: clients then stop trying
/// and fail the request, where any other status makes them reconnect again and again). The
/// stream belonged to the replica that ran the request, which a load balancer without
/// stickiness rarely picks again, and rmcp's stream numbers are per replica, so replaying a
/// stream of the same number here could replay another request's messages. So it is refused
/// on every replica, the one that ran the request included: always the same clear failure.
fn unresumable() -> Response {
    (
        StatusCode::METHOD_NOT_ALLOWED,
        [(http::header::ALLOW, "GET, POST, DELETE")],
        "mcp2 runs as several replicas here, and a request's response stream lives on the \
         replica that ran the request: it cannot be resumed; send the request again",
    )
        .into_response()
}

/// Serves a `POST` on the fast path, or gives it back (its body intact) for rmcp.
async fn fast_path(
    sessions: &EndpointSessions,
    request: Request,
    loopback: bool,
) -> Result<Response, Request> {
    if !fast::small_body(request.headers(), fast::BODY_LIMIT) {
        return Err(request);
    }
    let Some(hub) = fast::session(request.headers(), loopback, sessions) else {
        return Err(request);
    };
    let (parts, body) = request.into_parts();
    if let Some(identity) = parts.extensions.get::<Identity>() {
        hub.adopt_identity(identity);
    }
    let bytes = match axum::body::to_bytes(body, fast::BODY_LIMIT).await {
        Ok(bytes) => bytes,
        Err(e) => return Ok((StatusCode::BAD_REQUEST, e.to_string()).into_response()),
    };
    match hub.fast(&bytes).await {
        Fast::Answer(answer) => Ok(fast::respond(answer)),
        Fast::Stream(stream) => Ok(fast::respond_stream(stream)),
        Fast::Fallback => Err(Request::from_parts(parts, Body::from(bytes))),
    }
}

/// The endpoint's credential check; a refusal is audited and answered.
async fn authenticate(
    routes: &McpRoutes,
    plan: &Plan,
    endpoint: &Endpoint,
    headers: &http::HeaderMap,
) -> Result<Identity, Response> {
    let inner = &routes.inner;
    oauth::authenticate(headers, endpoint, inner.listen, &inner.verifiers)
        .await
        .map_err(|refused| {
            inner
                .gateway
                .audit()
                .auth_failure(plan, endpoint, &refused.reason);
            refused.response
        })
}

fn is_event_stream<B>(response: &http::Response<B>) -> bool {
    response
        .headers()
        .get(http::header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"text/event-stream"))
}

/// The endpoint serving legacy HTTP+SSE on this path, if any (first match, like [`select`]).
pub fn select_legacy<'p>(
    plan: &'p Plan,
    path: &str,
    headers: &http::HeaderMap,
) -> Option<&'p Endpoint> {
    plan.endpoints.iter().find(|e| {
        e.legacy_sse.as_deref() == Some(path)
            && e.when
                .as_ref()
                .is_none_or(|c| c.matches(|name| headers.get(name).and_then(|v| v.to_str().ok())))
    })
}

/// Largest client message accepted on a legacy SSE `POST`.
const LEGACY_BODY_LIMIT: usize = 4 * 1024 * 1024;

async fn legacy(
    routes: &McpRoutes,
    endpoint: &Endpoint,
    identity: &Identity,
    request: Request,
) -> Response {
    let inner = &routes.inner;
    let path = request.uri().path().to_string();
    match *request.method() {
        http::Method::GET => inner.legacy.open(
            inner.gateway.clone(),
            endpoint,
            &path,
            identity,
            &inner.sessions,
        ),
        http::Method::POST => {
            let query = request.uri().query().map(str::to_owned);
            match axum::body::to_bytes(request.into_body(), LEGACY_BODY_LIMIT).await {
                Ok(body) => inner.legacy.post(query.as_deref(), body).await,
                Err(e) => (StatusCode::PAYLOAD_TOO_LARGE, e.to_string()).into_response(),
            }
        }
        _ => StatusCode::METHOD_NOT_ALLOWED.into_response(),
    }
}

fn not_found(plan: &Plan, path: &str) -> Response {
    let known: Vec<&str> = plan.endpoints.iter().map(|e| e.path.as_str()).collect();
    let body = serde_json::json!({
        "error": format!("no MCP endpoint at {path}"),
        "endpoints": known,
    });
    (StatusCode::NOT_FOUND, axum::Json(body)).into_response()
}
