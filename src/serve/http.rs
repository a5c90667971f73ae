//! Streamable HTTP downstream: the plan's endpoints on one axum router.
//!
//! Paths are looked up in the *current* plan on every request (so a reload that adds or removes
//! endpoints needs no new router), and each (endpoint, binding) gets one rmcp
//! `StreamableHttpService` that owns its sessions. Services outlive reloads: a session opened
//! before a reload keeps working after it, and sees the new rules at its next request.
//!
//! Shutdown is two steps ([`McpRoutes::drain`]): MCP requests in flight (each `POST` until its
//! response body has been sent) finish first, bounded; only then are the sessions closed, which
//! ends their long-lived event streams so the HTTP server can stop.
//! Every request passes the `guard` first (browser `Origin`, the endpoint's credential).

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

use super::sse::LegacySessions;
use super::{guard, oauth};
use crate::gateway::handler::HubSession;
use crate::gateway::{Binding, Gateway};
use crate::plan::authz::Identity;
use crate::plan::{Endpoint, Plan};

type Service = StreamableHttpService<HubSession, LocalSessionManager>;

#[derive(Clone)]
pub struct McpRoutes {
    inner: Arc<Inner>,
}

struct Inner {
    gateway: Arc<Gateway>,
    legacy: Arc<LegacySessions>,
    /// One service per endpoint path and binding. A std Mutex: held only to clone a service out.
    services: Mutex<HashMap<(String, Binding), Service>>,
    /// Closes every session (and its event streams); cancelled by [`McpRoutes::drain`].
    sessions: CancellationToken,
    /// One token per `POST` whose response is still being produced.
    in_flight: TaskTracker,
    listen: SocketAddr,
    /// Access-token verifiers (and their key caches) of the `oauth` blocks.
    verifiers: super::oauth::Verifiers,
}

impl McpRoutes {
    pub fn new(gateway: Arc<Gateway>, listen: SocketAddr) -> Self {
        Self {
            inner: Arc::new(Inner {
                gateway,
                legacy: Arc::default(),
                services: Mutex::new(HashMap::new()),
                sessions: CancellationToken::new(),
                in_flight: TaskTracker::new(),
                listen,
                verifiers: Default::default(),
            }),
        }
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

    fn service(&self, endpoint: &Endpoint) -> Service {
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
                let factory = move || {
                    Ok(HubSession::for_http(
                        gateway.clone(),
                        binding.clone(),
                        path.clone(),
                    ))
                };
                StreamableHttpService::new(
                    factory,
                    Arc::new(LocalSessionManager::default()),
                    self.config(),
                )
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
    plan.endpoints.iter().find(|e| {
        e.path == path
            && e.when
                .as_ref()
                .is_none_or(|c| c.matches(|name| headers.get(name).and_then(|v| v.to_str().ok())))
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
    let mut request = request;
    request.extensions_mut().insert(identity);
    let service = routes.service(endpoint);
    drop(plan);
    // A POST that carries a request is answered on an event stream that ends once the answer
    // has been sent: that stream is the request in flight. (GET streams live as long as their
    // session; notifications and responses get an empty 202 at once.)
    let in_flight =
        (request.method() == http::Method::POST).then(|| routes.inner.in_flight.token());
    let response = service.handle(request).await.map(Body::new);
    match in_flight {
        Some(token) if is_event_stream(&response) => response
            .map(|body| {
                Body::from_stream(body.into_data_stream().map(move |chunk| {
                    let _held_until_the_body_ends = &token;
                    chunk
                }))
            })
            .into_response(),
        _ => response.into_response(),
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
