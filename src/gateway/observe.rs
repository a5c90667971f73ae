//! The observed edge of a forwarded request: rate limits before it, one log line and the
//! request metrics after it.
//!
//! The handler calls [`begin`] before it asks the upstream (a refusal ends the request there,
//! logged and counted, without touching the upstream) and [`Observed::finish`] with the result;
//! requests the limits do not apply to (`resources/subscribe`, `logging/setLevel`, sent on the
//! client's behalf) start with [`watch`] instead. A request naming something the client's view
//! does not have is counted by [`not_found`]. With `log-requests`/`log-responses` on, the
//! bodies go to `telemetry::bodies` from here too. [`SessionTag`] gives each downstream session
//! an id (for per-session limits) and keeps the active-session gauge. The events themselves
//! live in `telemetry::events`.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use rmcp::model::{RequestId, ServerResult};
use serde::Serialize;
use serde_json::{Value, json};

use super::limits::{self, LimitTarget};
use super::{Binding, Gateway, GatewayError};
use crate::plan::UpstreamId;
use crate::telemetry::bodies::{Body, BodyLog, Direction};
use crate::telemetry::events::{Outcome, RateLimited, RequestDone, RequestFields, SessionChange};

/// One downstream session, for limits and the active-session gauge. Dropped with the session.
#[derive(Debug)]
pub struct SessionTag {
    /// This process's number for the session (replicas number theirs alike).
    pub id: u64,
    endpoint: Arc<str>,
    /// The session's name on every replica, from its `Mcp-Session-Id` once known: what
    /// `per session` limits count by, so that a shared limiter counts one session once.
    name: std::sync::OnceLock<Box<str>>,
}

impl SessionTag {
    pub fn open(endpoint: &Arc<str>) -> Arc<SessionTag> {
        static NEXT: AtomicU64 = AtomicU64::new(1);
        SessionChange {
            endpoint,
            open: true,
        }
        .emit();
        Arc::new(SessionTag {
            id: NEXT.fetch_add(1, Ordering::Relaxed),
            endpoint: endpoint.clone(),
            name: std::sync::OnceLock::new(),
        })
    }

    /// Names the session by its downstream `Mcp-Session-Id` (the first call wins).
    pub fn name_by(&self, session_id: &str) {
        if self.name.get().is_none() {
            let _ = self
                .name
                .set(crate::cluster::seal::tag_of(session_id).into());
        }
    }

    /// The session's name on every replica, once its id is known.
    pub fn name(&self) -> Option<&str> {
        self.name.get().map(|n| &**n)
    }
}

impl Drop for SessionTag {
    fn drop(&mut self) {
        SessionChange {
            endpoint: &self.endpoint,
            open: false,
        }
        .emit();
    }
}

/// A request about to be forwarded.
#[derive(Debug, Clone, Copy)]
pub struct Call<'a> {
    pub upstream: &'a UpstreamId,
    pub method: &'static str,
    /// The name or URI the client used (empty when the method has none).
    pub public: &'a str,
    /// The name or URI the upstream knows.
    pub original: &'a str,
}

/// A request admitted by the limits; [`Observed::finish`] logs and counts it.
pub struct Observed {
    fields: RequestFields,
    started: Instant,
    /// Set when the plan logs request or response bodies.
    bodies: Option<Arc<BodyLog>>,
}

/// Applies the profile's rate limits; a refused request is logged, counted and answered with
/// [`GatewayError::RateLimited`].
pub async fn begin(
    gateway: &Gateway,
    session: &SessionTag,
    binding: &Binding,
    api_key: Option<&str>,
    call: Call<'_>,
) -> Result<Observed, GatewayError> {
    let fields = fields(session, binding, call);
    let plan = gateway.plan();
    if let Some(profile) = plan.profile(binding.profile.as_str())
        && !profile.limits.is_empty()
    {
        let target = LimitTarget {
            profile: binding.profile.as_str(),
            upstream: call.upstream.as_str(),
            tool: (call.method == "tools/call").then_some(call.original),
            session: session.id,
            session_name: session.name(),
            api_key,
        };
        if let Err(refusal) = limits::check(gateway.limiter(), &profile.limits, target).await {
            RateLimited {
                fields: &fields,
                limit: &refusal.limit,
                retry_after: refusal.retry_after,
            }
            .emit();
            return Err(GatewayError::RateLimited {
                limit: refusal.limit,
                retry_after: refusal.retry_after,
            });
        }
    }
    Ok(Observed {
        bodies: BodyLog::of(&plan),
        fields,
        started: Instant::now(),
    })
}

/// Observes a request no rate limit applies to (sent on the client's behalf).
pub fn watch(
    gateway: &Gateway,
    session: &SessionTag,
    binding: &Binding,
    call: Call<'_>,
) -> Observed {
    Observed {
        bodies: BodyLog::of(&gateway.plan()),
        fields: fields(session, binding, call),
        started: Instant::now(),
    }
}

/// Logs and counts a request for a name the client's view does not have (unknown or hidden),
/// and hands the error back.
pub fn not_found(
    session: &SessionTag,
    binding: &Binding,
    method: &'static str,
    public: &str,
    error: GatewayError,
) -> GatewayError {
    let upstream = UpstreamId::new("");
    let fields = fields(
        session,
        binding,
        Call {
            upstream: &upstream,
            method,
            public,
            original: "",
        },
    );
    RequestDone {
        fields: &fields,
        duration: Duration::ZERO,
        outcome: outcome_of(&error),
        error: Some(&error.to_string()),
    }
    .emit();
    error
}

fn fields(session: &SessionTag, binding: &Binding, call: Call<'_>) -> RequestFields {
    RequestFields {
        endpoint: session.endpoint.to_string(),
        profile: binding.profile.to_string(),
        upstream: call.upstream.to_string(),
        method: call.method,
        public: call.public.to_string(),
        original: call.original.to_string(),
    }
}

/// The outcome a request that failed with `error` is logged and counted with.
pub fn outcome_of(error: &GatewayError) -> Outcome {
    match error {
        GatewayError::Upstream(_) => Outcome::UpstreamError,
        GatewayError::Unavailable { .. } => Outcome::Unavailable,
        GatewayError::Timeout { .. } => Outcome::Timeout,
        GatewayError::Transport { .. } => Outcome::Transport,
        GatewayError::Unknown { .. } => Outcome::NotFound,
        GatewayError::RateLimited { .. } => Outcome::RateLimited,
        GatewayError::Cancelled { .. } => Outcome::Cancelled,
        GatewayError::Input(_) => Outcome::InputFailed,
    }
}

impl Observed {
    /// Logs the request body (as sent upstream) when the plan logs requests.
    pub fn request_body(&self, id: &RequestId, request: &impl Serialize) {
        let Some(bodies) = self
            .bodies
            .as_deref()
            .filter(|b| b.logs(Direction::Request))
        else {
            return;
        };
        let mut body = serde_json::to_value(request).unwrap_or(Value::Null);
        if let Value::Object(map) = &mut body {
            map.insert("jsonrpc".into(), json!("2.0"));
            map.insert("id".into(), json!(id));
        }
        bodies.request(&self.fields, Body::Json(&body));
    }

    /// Logs and counts the end of the request; also its response body when the plan logs them.
    pub fn finish(self, id: &RequestId, result: &Result<ServerResult, GatewayError>) {
        if let Some(bodies) = self.logs(Direction::Response) {
            let body = match result {
                Ok(r) => json!({ "jsonrpc": "2.0", "id": id, "result": r }),
                Err(e) => json!({ "jsonrpc": "2.0", "id": id, "error": e.to_mcp() }),
            };
            bodies.response(&self.fields, Body::Json(&body));
        }
        self.done(result.as_ref().err());
    }

    /// [`request_body`](Self::request_body) for the fast path, which holds the raw JSON-RPC.
    pub fn request_body_raw(&self, body: &[u8]) {
        if let Some(bodies) = self.logs(Direction::Request) {
            bodies.request(&self.fields, Body::Raw(body));
        }
    }

    /// [`finish`](Self::finish) for the fast path: `response` is the raw JSON-RPC answer the
    /// client gets, `error` why it failed (if it did).
    pub fn finish_raw(self, response: &[u8], error: Option<&GatewayError>) {
        if let Some(bodies) = self.logs(Direction::Response) {
            bodies.response(&self.fields, Body::Raw(response));
        }
        self.done(error);
    }

    fn logs(&self, direction: Direction) -> Option<&BodyLog> {
        self.bodies.as_deref().filter(|b| b.logs(direction))
    }

    fn done(self, error: Option<&GatewayError>) {
        let (outcome, error) = match error {
            None => (Outcome::Ok, None),
            Some(e) => (outcome_of(e), Some(e.to_string())),
        };
        RequestDone {
            fields: &self.fields,
            duration: self.started.elapsed(),
            outcome,
            error: error.as_deref(),
        }
        .emit();
    }
}

impl<'a> Call<'a> {
    /// A request that names no tool, prompt or resource (`logging/setLevel`).
    pub fn without_name(upstream: &'a UpstreamId, method: &'static str) -> Self {
        Call {
            upstream,
            method,
            public: "",
            original: "",
        }
    }
}

impl super::Route {
    /// The call of `method` on this route, for a client that used the name `public`.
    pub fn call<'a>(&'a self, method: &'static str, public: &'a str) -> Call<'a> {
        Call {
            upstream: &self.upstream,
            method,
            public,
            original: &self.original,
        }
    }
}
