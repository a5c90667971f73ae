//! The Prometheus registry of the process: metric names, their help texts, and rendering.
//!
//! Metrics are recorded through the `metrics` facade (by [`super::events`], never ad hoc), into
//! one process-wide Prometheus recorder installed by [`install`]. Gauges that mirror state held
//! elsewhere (upstream up/down, reload counts) are not tracked incrementally: the admin endpoint
//! sets them from the source of truth just before rendering, so they can never drift.

use std::sync::OnceLock;

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

/// Requests forwarded to an upstream, by `endpoint, profile, upstream, method, tool, outcome`.
pub const REQUESTS: &str = "mcp2_requests_total";
/// Requests that ended in an error (any outcome but `ok`), same labels as [`REQUESTS`].
pub const ERRORS: &str = "mcp2_request_errors_total";
/// Latency of forwarded requests in seconds, by `endpoint, profile, upstream, method, tool`.
pub const DURATION: &str = "mcp2_request_duration_seconds";
/// Requests refused by a rate limit, by `endpoint, profile, upstream, method, tool, limit`.
pub const RATE_LIMITED: &str = "mcp2_rate_limited_total";
/// 1 when the upstream is connected, 0 otherwise, by `upstream`.
pub const UPSTREAM_UP: &str = "mcp2_upstream_up";
/// List-cache lookups answered from the cache, by `upstream, list`.
pub const CACHE_HITS: &str = "mcp2_list_cache_hits_total";
/// List-cache lookups that asked the upstream, by `upstream, list`.
pub const CACHE_MISSES: &str = "mcp2_list_cache_misses_total";
/// Route reloads, by `outcome` (`applied` or `rejected`).
pub const RELOADS: &str = "mcp2_reloads_total";
/// Downstream MCP sessions currently open, by `endpoint`.
pub const ACTIVE_SESSIONS: &str = "mcp2_active_sessions";
/// Of those, the sessions parked (no rmcp worker: `serve::parked`), by `endpoint`.
pub const PARKED_SESSIONS: &str = "mcp2_parked_sessions";
/// Parked sessions restored for a request only the full stack serves, by `endpoint`.
pub const SESSION_RESTORES: &str = "mcp2_session_restores_total";

/// Requests the fast path looked at, by `method`, `path` (`fast` or `slow`) and the `reason`
/// it left one to the full protocol stack.
pub const FAST_PATH: &str = "mcp2_fast_path_total";

/// Latency buckets in seconds: from loopback calls (sub-millisecond) to slow tools (a minute).
const BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
    60.0,
];

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// Installs the process-wide recorder (once; later calls do nothing). Without it, every metric
/// is a no-op and [`render`] answers `None`.
pub fn install() {
    if HANDLE.get().is_some() {
        return;
    }
    let built = PrometheusBuilder::new()
        .set_buckets_for_metric(Matcher::Full(DURATION.into()), BUCKETS)
        .and_then(|b| b.install_recorder());
    match built {
        Ok(handle) => {
            describe();
            let _ = HANDLE.set(handle);
        }
        Err(e) => tracing::warn!(error = %e, "metrics disabled: cannot install the recorder"),
    }
}

/// Whether the recorder is installed (metrics are recorded).
pub fn installed() -> bool {
    HANDLE.get().is_some()
}

/// The Prometheus text exposition of every metric, or `None` when no recorder is installed.
pub fn render() -> Option<String> {
    HANDLE.get().map(|h| {
        h.run_upkeep();
        h.render()
    })
}

fn describe() {
    use metrics::{describe_counter, describe_gauge, describe_histogram};
    describe_counter!(REQUESTS, "Requests forwarded to an upstream");
    describe_counter!(ERRORS, "Forwarded requests that ended in an error");
    describe_histogram!(
        DURATION,
        metrics::Unit::Seconds,
        "Latency of forwarded requests"
    );
    describe_counter!(RATE_LIMITED, "Requests refused by a rate limit");
    describe_gauge!(UPSTREAM_UP, "1 when the upstream is connected");
    describe_counter!(CACHE_HITS, "List-cache lookups answered from the cache");
    describe_counter!(CACHE_MISSES, "List-cache lookups that asked the upstream");
    describe_counter!(RELOADS, "Route reloads by outcome");
    describe_gauge!(ACTIVE_SESSIONS, "Downstream MCP sessions currently open");
    describe_gauge!(
        PARKED_SESSIONS,
        "Open downstream sessions that hold no rmcp worker (parked)"
    );
    describe_counter!(
        SESSION_RESTORES,
        "Parked sessions restored to serve a request on the full stack"
    );
    describe_counter!(
        FAST_PATH,
        "Requests the fast path served (path=fast) or left to the full stack (path=slow)"
    );
}
