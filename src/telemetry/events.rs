//! Events that are both a log line and a metric: one struct each, recorded by its `emit()`.
//!
//! Keeping the log line and the counters in one place means they cannot disagree: a request
//! counted in `mcp2_requests_total` is the request logged with the same endpoint, profile,
//! upstream, method and names. Nothing here decides anything; callers build the event from
//! what happened and emit it.

use std::time::Duration;

use metrics::{counter, gauge};

use super::metrics as m;

/// Who a request was for and where it went: the fields every request log line carries.
#[derive(Debug, Clone)]
pub struct RequestFields {
    pub endpoint: String,
    pub profile: String,
    pub upstream: String,
    /// The JSON-RPC method (`tools/call`).
    pub method: &'static str,
    /// The name (or URI) the client used.
    pub public: String,
    /// The name (or URI) the upstream knows.
    pub original: String,
}

impl RequestFields {
    /// The `tool` label: the public tool name for `tools/call`, empty otherwise (URIs would
    /// make one series per resource).
    fn tool(&self) -> &str {
        if self.method == "tools/call" {
            &self.public
        } else {
            ""
        }
    }

    pub(super) fn labels(&self) -> [(&'static str, String); 5] {
        let [endpoint, profile, upstream, method, tool] = self.label_values();
        [
            ("endpoint", endpoint.to_string()),
            ("profile", profile.to_string()),
            ("upstream", upstream.to_string()),
            ("method", method.to_string()),
            ("tool", tool.to_string()),
        ]
    }

    /// The values of [`labels`](Self::labels), borrowed.
    pub(super) fn label_values(&self) -> [&str; 5] {
        [
            &self.endpoint,
            &self.profile,
            &self.upstream,
            self.method,
            self.tool(),
        ]
    }
}

/// How a forwarded request ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Ok,
    /// The upstream answered with its own JSON-RPC error.
    UpstreamError,
    /// The upstream was down or its connection closed.
    Unavailable,
    Timeout,
    /// Any other transport failure.
    Transport,
    /// The client named a tool, prompt or resource its view does not have (unknown or hidden:
    /// the two are indistinguishable to the client, and counted alike).
    NotFound,
    /// Refused by a rate limit before reaching the upstream.
    RateLimited,
    /// The client cancelled the request.
    Cancelled,
    /// An upstream asked for input (sampling, elicitation, roots) the client did not give.
    InputFailed,
}

impl Outcome {
    pub const ALL: [Outcome; 9] = [
        Outcome::Ok,
        Outcome::UpstreamError,
        Outcome::Unavailable,
        Outcome::Timeout,
        Outcome::Transport,
        Outcome::NotFound,
        Outcome::RateLimited,
        Outcome::Cancelled,
        Outcome::InputFailed,
    ];

    /// This outcome's place in [`ALL`](Self::ALL).
    pub fn index(self) -> usize {
        self as usize
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::UpstreamError => "upstream_error",
            Outcome::Unavailable => "unavailable",
            Outcome::Timeout => "timeout",
            Outcome::Transport => "transport_error",
            Outcome::NotFound => "not_found",
            Outcome::RateLimited => "rate_limited",
            Outcome::Cancelled => "cancelled",
            Outcome::InputFailed => "input_failed",
        }
    }
}

/// A request forwarded to an upstream has ended, or one naming something the client's view
/// does not have was refused (outcome `not_found`, upstream empty).
#[derive(Debug)]
pub struct RequestDone<'a> {
    pub fields: &'a RequestFields,
    pub duration: Duration,
    pub outcome: Outcome,
    /// The error message, when the outcome is not `ok` (never contains configured secrets).
    pub error: Option<&'a str>,
}

impl RequestDone<'_> {
    pub fn emit(&self) {
        let f = self.fields;
        let duration_ms = self.duration.as_secs_f64() * 1000.0;
        let outcome = self.outcome.as_str();
        match self.error {
            None => tracing::info!(
                target: "mcp2::request",
                endpoint = %f.endpoint, profile = %f.profile, upstream = %f.upstream,
                method = f.method, public = %f.public, original = %f.original,
                duration_ms, outcome, "request"
            ),
            Some(error) => tracing::warn!(
                target: "mcp2::request",
                endpoint = %f.endpoint, profile = %f.profile, upstream = %f.upstream,
                method = f.method, public = %f.public, original = %f.original,
                duration_ms, outcome, error, "request failed"
            ),
        }
        super::series::record(f, self.outcome, self.duration.as_secs_f64());
    }
}

/// A request refused by a rate limit; it never reached the upstream.
#[derive(Debug)]
pub struct RateLimited<'a> {
    pub fields: &'a RequestFields,
    /// The limit as written (`github 100/min per session`).
    pub limit: &'a str,
    pub retry_after: Duration,
}

impl RateLimited<'_> {
    pub fn emit(&self) {
        let f = self.fields;
        let retry_after_ms = u64::try_from(self.retry_after.as_millis()).unwrap_or(u64::MAX);
        tracing::warn!(
            target: "mcp2::request",
            endpoint = %f.endpoint, profile = %f.profile, upstream = %f.upstream,
            method = f.method, public = %f.public, original = %f.original,
            duration_ms = 0.0, outcome = "rate_limited", limit = self.limit, retry_after_ms,
            "request refused by a rate limit"
        );
        let mut labels = f.labels().to_vec();
        labels.push(("limit", self.limit.to_string()));
        counter!(m::RATE_LIMITED, &labels).increment(1);
    }
}

/// One list-cache lookup.
#[derive(Debug)]
pub struct CacheLookup<'a> {
    pub upstream: &'a str,
    /// `tools/list`, …
    pub list: &'static str,
    pub hit: bool,
}

impl CacheLookup<'_> {
    pub fn emit(&self) {
        tracing::trace!(
            upstream = self.upstream,
            list = self.list,
            hit = self.hit,
            "list cache"
        );
        let name = if self.hit {
            m::CACHE_HITS
        } else {
            m::CACHE_MISSES
        };
        counter!(name, "upstream" => self.upstream.to_string(), "list" => self.list).increment(1);
    }
}

/// A downstream session opened (`open = true`) or closed.
#[derive(Debug)]
pub struct SessionChange<'a> {
    pub endpoint: &'a str,
    pub open: bool,
}

impl SessionChange<'_> {
    pub fn emit(&self) {
        tracing::debug!(
            endpoint = self.endpoint,
            open = self.open,
            "downstream session"
        );
        let g = gauge!(m::ACTIVE_SESSIONS, "endpoint" => self.endpoint.to_string());
        if self.open {
            g.increment(1.0);
        } else {
            g.decrement(1.0);
        }
    }
}

/// A downstream session parked (its rmcp worker closed) or restored (`parked = false`), or a
/// parked session ended (`parked = false`, `restored = false`).
#[derive(Debug)]
pub struct SessionParking<'a> {
    pub endpoint: &'a str,
    pub parked: bool,
    pub restored: bool,
}

impl SessionParking<'_> {
    pub fn emit(&self) {
        tracing::debug!(
            endpoint = self.endpoint,
            parked = self.parked,
            restored = self.restored,
            "downstream session parking"
        );
        let g = gauge!(m::PARKED_SESSIONS, "endpoint" => self.endpoint.to_string());
        if self.parked {
            g.increment(1.0);
        } else {
            g.decrement(1.0);
        }
        if self.restored {
            counter!(m::SESSION_RESTORES, "endpoint" => self.endpoint.to_string()).increment(1);
        }
    }
}

/// A request the fast path looked at: served there (`reason` empty) or left to the full
/// protocol stack, and why.
#[derive(Debug, Clone, Copy)]
pub struct FastPath {
    pub method: &'static str,
    pub reason: Option<&'static str>,
}

impl FastPath {
    pub fn emit(&self) {
        tracing::trace!(
            target: "mcp2::fast",
            method = self.method,
            fallback = self.reason,
            "fast path"
        );
        let path = if self.reason.is_some() {
            "slow"
        } else {
            "fast"
        };
        counter!(m::FAST_PATH, "method" => self.method, "path" => path, "reason" => self.reason.unwrap_or(""))
            .increment(1);
    }
}

/// Mirrors state owned elsewhere into gauges and counters just before the metrics are rendered.
pub fn mirror_upstream_up(upstream: &str, up: bool) {
    gauge!(m::UPSTREAM_UP, "upstream" => upstream.to_string()).set(if up { 1.0 } else { 0.0 });
}

/// Mirrors the reloader's totals (`applied`, `rejected`).
pub fn mirror_reloads(applied: u64, rejected: u64) {
    counter!(m::RELOADS, "outcome" => "applied").absolute(applied);
    counter!(m::RELOADS, "outcome" => "rejected").absolute(rejected);
}
