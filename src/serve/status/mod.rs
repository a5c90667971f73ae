//! `/_mcp2/`: a read-only status page for people, rendered on the server (no script, no build).
//!
//! [`collect`] gathers a [`Status`] snapshot from the sources of truth: the running plan, the
//! upstream registry (state and last error), each profile's view (the tools a client of that
//! profile sees, with the upstream and original name behind each public name), the reloader's
//! history, and the request counters. [`page`] turns the snapshot into HTML, escaping
//! everything: tool names and descriptions come from upstreams and are not trusted. Guarded by
//! the admin token like the other admin endpoints (`admin.rs` wires the route).

pub mod page;

use std::sync::Arc;
use std::time::SystemTime;

use axum::extract::State;
use axum::response::{Html, IntoResponse};

use crate::gateway::{Binding, Gateway};
use crate::plan::TransportSpec;
use crate::plan::rules::Caller;
use crate::reload::{ReloadOutcome, Reloader};
use crate::telemetry::metrics;
use crate::upstream::UpstreamState;

/// Everything the page shows, taken at one moment.
#[derive(Debug, Clone)]
pub struct Status {
    pub upstreams: Vec<UpstreamRow>,
    pub profiles: Vec<ProfileRow>,
    /// Newest first.
    pub reloads: Vec<ReloadRow>,
    /// `None` when metrics are not recorded in this process.
    pub totals: Option<Counts>,
    pub generated: SystemTime,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Counts {
    pub requests: u64,
    pub errors: u64,
}

#[derive(Debug, Clone)]
pub struct UpstreamRow {
    pub name: String,
    /// `stdio npx`, `http https://host/path` (never a query string, user info or argument,
    /// which may hold secrets).
    pub target: String,
    /// `connected`, `connecting`, `restarting`, `down`, `stopped`.
    pub state: &'static str,
    pub since: Option<SystemTime>,
    pub last_error: Option<String>,
    pub counts: Counts,
}

#[derive(Debug, Clone)]
pub struct ProfileRow {
    pub name: String,
    pub upstreams: Vec<String>,
    pub tools: Vec<ToolRow>,
}

#[derive(Debug, Clone)]
pub struct ToolRow {
    pub public: String,
    pub upstream: String,
    pub original: String,
    pub description: Option<String>,
}

#[derive(Debug, Clone)]
pub struct ReloadRow {
    pub at: SystemTime,
    pub trigger: String,
    pub applied: bool,
    pub summary: String,
    /// Rendered diagnostics (errors of a rejected reload, warnings of an applied one).
    pub diagnostics: Vec<String>,
}

pub type StatusState = (Arc<Gateway>, Option<Arc<Reloader>>);

/// `GET /_mcp2/`.
pub async fn handler(State((gateway, reloader)): State<StatusState>) -> impl IntoResponse {
    let status = collect(&gateway, reloader.as_deref()).await;
    Html(page::render(&status))
}

/// A snapshot of the gateway for the page.
pub async fn collect(gateway: &Gateway, reloader: Option<&Reloader>) -> Status {
    let plan = gateway.plan();
    let metrics = metrics::render();
    let count = |upstream: &str| Counts {
        requests: sum(metrics.as_deref(), metrics::REQUESTS, Some(upstream)),
        errors: sum(metrics.as_deref(), metrics::ERRORS, Some(upstream)),
    };
    let upstreams = plan
        .upstreams
        .iter()
        .map(|(id, spec)| {
            let handle = gateway.registry().get(id.as_str());
            let state = handle.as_ref().map(|h| h.state());
            let restarting = handle.as_ref().is_some_and(|h| h.stats().failures > 0);
            let (state, since, last_error) = match state {
                Some(UpstreamState::Connected { since, .. }) => ("connected", Some(since), None),
                // Trying again after a failure: the failure stays visible meanwhile.
                Some(UpstreamState::Connecting) if restarting => (
                    "restarting",
                    None,
                    handle.as_ref().and_then(|h| h.last_error()),
                ),
                Some(UpstreamState::Connecting) => ("connecting", None, None),
                Some(UpstreamState::Down { error, since, .. }) => {
                    ("down", Some(since), Some(error))
                }
                Some(UpstreamState::Stopped) | None => ("stopped", None, None),
            };
            UpstreamRow {
                name: id.to_string(),
                target: target(&spec.transport),
                state,
                since,
                last_error,
                counts: count(id.as_str()),
            }
        })
        .collect();
    let mut profiles = Vec::new();
    for (name, profile) in &plan.profiles {
        let binding = Binding {
            profile: name.clone(),
            only_upstream: None,
        };
        let view = gateway.view(&plan, &binding, Caller::default()).await;
        let tools = view
            .tools
            .iter()
            .map(|tool| {
                let route = view.tool_routes.get(tool.name.as_ref());
                ToolRow {
                    public: tool.name.to_string(),
                    upstream: route.map(|r| r.upstream.to_string()).unwrap_or_default(),
                    original: route.map(|r| r.original.to_string()).unwrap_or_default(),
                    description: tool.description.as_ref().map(|d| d.to_string()),
                }
            })
            .collect();
        profiles.push(ProfileRow {
            name: name.to_string(),
            upstreams: profile.upstreams.iter().map(|u| u.to_string()).collect(),
            tools,
        });
    }
    let reloads = reloader
        .map(|r| r.history().into_iter().rev().map(reload_row).collect())
        .unwrap_or_default();
    let totals = metrics.as_deref().map(|m| Counts {
        requests: sum(Some(m), metrics::REQUESTS, None),
        errors: sum(Some(m), metrics::ERRORS, None),
    });
    Status {
        upstreams,
        profiles,
        reloads,
        totals,
        generated: SystemTime::now(),
    }
}

fn reload_row(record: crate::reload::ReloadRecord) -> ReloadRow {
    let trigger = serde_json::to_value(record.trigger)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default();
    let (applied, summary, diagnostics) = match record.outcome {
        ReloadOutcome::Applied {
            upstreams_started,
            upstreams_restarted,
            upstreams_stopped,
            upstreams_kept,
            warnings,
            needs_restart,
        } => {
            let mut parts = Vec::new();
            for (what, list) in [
                ("started", &upstreams_started),
                ("restarted", &upstreams_restarted),
                ("stopped", &upstreams_stopped),
            ] {
                if !list.is_empty() {
                    parts.push(format!("{what} {}", list.join(", ")));
                }
            }
            parts.push(format!("{upstreams_kept} kept"));
            parts.extend(needs_restart);
            (true, parts.join("; "), warnings)
        }
        ReloadOutcome::Rejected {
            errors, rendered, ..
        } => (
            false,
            format!("rejected with {errors} error(s); the previous routes kept serving"),
            rendered,
        ),
    };
    ReloadRow {
        at: record.at,
        trigger,
        applied,
        summary: format!("{summary} ({:.0} ms)", record.duration_ms),
        diagnostics,
    }
}

/// Where an upstream is, without anything that may be a secret.
fn target(transport: &TransportSpec) -> String {
    match transport {
        TransportSpec::Stdio { command, .. } => format!("stdio {command}"),
        TransportSpec::Http { url } => format!("http {}", bare_url(url)),
        TransportSpec::Sse { url, .. } => format!("sse {}", bare_url(url)),
    }
}

fn bare_url(url: &url::Url) -> String {
    let host = url.host_str().unwrap_or_default();
    let port = url.port().map(|p| format!(":{p}")).unwrap_or_default();
    format!("{}://{host}{port}{}", url.scheme(), url.path())
}

/// Sums the samples of `metric` in a Prometheus text exposition, only those labelled
/// `upstream="…"` when `upstream` is given.
fn sum(text: Option<&str>, metric: &str, upstream: Option<&str>) -> u64 {
    let Some(text) = text else {
        return 0;
    };
    let wanted = upstream.map(|u| {
        let escaped = u.replace('\\', "\\\\").replace('"', "\\\"");
        format!("upstream=\"{escaped}\"")
    });
    text.lines()
        .filter(|line| {
            line.strip_prefix(metric)
                .is_some_and(|rest| rest.starts_with('{') || rest.starts_with(' '))
        })
        .filter(|line| wanted.as_ref().is_none_or(|w| line.contains(w.as_str())))
        .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
        .map(|v| v as u64)
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_are_summed_per_upstream() {
        let text = "# TYPE mcp2_requests_total counter\n\
            mcp2_requests_total{upstream=\"a\",outcome=\"ok\"} 3\n\
            mcp2_requests_total{upstream=\"a\",outcome=\"timeout\"} 2\n\
            mcp2_requests_total{upstream=\"ab\",outcome=\"ok\"} 7\n\
            mcp2_requests_total_other{upstream=\"a\"} 100\n";
        assert_eq!(sum(Some(text), "mcp2_requests_total", Some("a")), 5);
        assert_eq!(sum(Some(text), "mcp2_requests_total", None), 12);
        assert_eq!(sum(None, "mcp2_requests_total", None), 0);
    }

    #[test]
    fn targets_never_show_queries_or_user_info() {
        let url = url::Url::parse("https://user:pw@api.example.com:8443/mcp?token=s3cret").unwrap();
        assert_eq!(
            target(&TransportSpec::Http { url }),
            "http https://api.example.com:8443/mcp"
        );
    }
}
