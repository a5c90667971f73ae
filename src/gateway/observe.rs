//! The observed edge of a forwarded request: rate limits before it, one log line and the
//! request metrics after it.
//!
//! The handler calls [`begin`] before it asks the upstream (a refusal ends the request there,
//! logged and counted, without touching the upstream) and [`Observed::finish`] with the result.
//! [`SessionTag`] gives each downstream session an id (for per-session limits) and keeps the
//! active-session gauge. The events themselves live in `telemetry::events`.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use super::limits::{self, LimitTarget};
use super::{Binding, Gateway, GatewayError};
use crate::plan::UpstreamId;
use crate::telemetry::events::{Outcome, RateLimited, RequestDone, RequestFields, SessionChange};

/// One downstream session, for limits and the active-session gauge. Dropped with the session.
#[derive(Debug)]
pub struct SessionTag {
    pub id: u64,
    endpoint: Arc<str>,
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
        })
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
    let fields = RequestFields {
        endpoint: session.endpoint.to_string(),
        profile: binding.profile.to_string(),
        upstream: call.upstream.to_string(),
        method: call.method,
        public: call.public.to_string(),
        original: call.original.to_string(),
    };
    let plan = gateway.plan();
    if let Some(profile) = plan.profile(binding.profile.as_str())
        && !profile.limits.is_empty()
    {
        let target = LimitTarget {
            profile: binding.profile.as_str(),
            upstream: call.upstream.as_str(),
            tool: (call.method == "tools/call").then_some(call.original),
            session: session.id,
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
        fields,
        started: Instant::now(),
    })
}

impl Observed {
    /// [`finish`](Self::finish) for a result already turned into the client's JSON-RPC error.
    pub fn finish_mcp<T>(self, result: &Result<T, rmcp::ErrorData>) {
        let (outcome, error) = match result {
            Ok(_) => (Outcome::Ok, None),
            Err(e) => (Outcome::UpstreamError, Some(e.message.to_string())),
        };
        RequestDone {
            fields: &self.fields,
            duration: self.started.elapsed(),
            outcome,
            error: error.as_deref(),
        }
        .emit();
    }

    pub fn finish<T>(self, result: &Result<T, GatewayError>) {
        let (outcome, error) = match result {
            Ok(_) => (Outcome::Ok, None),
            Err(e) => {
                let outcome = match e {
                    GatewayError::Upstream(_) => Outcome::UpstreamError,
                    GatewayError::Unavailable { .. } => Outcome::Unavailable,
                    GatewayError::Timeout { .. } => Outcome::Timeout,
                    _ => Outcome::Transport,
                };
                (outcome, Some(e.to_string()))
            }
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
