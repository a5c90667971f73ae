//! What the subcommands share about output: how to draw diagnostics, and the plan summary.
//!
//! Reports are drawn in colour with Unicode art only when stderr is a terminal (and `NO_COLOR`
//! is unset); otherwise plain ASCII at a fixed width, so piped output and CI logs are
//! deterministic.

use std::io::{IsTerminal, Write};

use crate::diag::{Diagnostics, RenderOptions, render_all};
use crate::plan::{Endpoint, Plan};
use crate::source::SourceSet;

/// Drawing options for stderr.
pub fn stderr_render_options() -> RenderOptions {
    if std::io::stderr().is_terminal() {
        let width = std::env::var("COLUMNS")
            .ok()
            .and_then(|c| c.parse().ok())
            .unwrap_or(100);
        RenderOptions {
            color: std::env::var_os("NO_COLOR").is_none(),
            unicode: true,
            width,
        }
    } else {
        RenderOptions {
            color: false,
            unicode: false,
            width: 80,
        }
    }
}

/// Writes to stdout. A closed pipe (`mcp2 check … | head -1`) ends the output quietly instead
/// of panicking as `println!` would.
pub fn out(text: impl AsRef<str>) {
    let _ = std::io::stdout().lock().write_all(text.as_ref().as_bytes());
}

/// Writes to stderr, quietly giving up if it is closed.
pub fn err(text: impl AsRef<str>) {
    let _ = std::io::stderr().lock().write_all(text.as_ref().as_bytes());
}

/// Prints every diagnostic to stderr, in file and position order.
pub fn print_diagnostics(diags: &Diagnostics, sources: &SourceSet) {
    if !diags.is_empty() {
        err(format!(
            "{}\n",
            render_all(diags, sources, stderr_render_options())
        ));
    }
}

/// `1 warning`, `2 warnings`.
pub fn count(n: usize, what: &str) -> String {
    if n == 1 {
        format!("{n} {what}")
    } else {
        format!("{n} {what}s")
    }
}

fn endpoint_text(e: &Endpoint) -> String {
    let mut s = format!("{} -> {}", e.path, e.profile);
    if let Some(only) = &e.only_upstream {
        s.push_str(&format!(" (only {only})"));
    }
    if let Some(when) = &e.when {
        s.push_str(&format!(" when {when}"));
    }
    s
}

/// A few lines saying what the plan serves, for people.
pub fn summary_lines(plan: &Plan) -> Vec<String> {
    let upstreams: Vec<String> = plan
        .upstreams
        .values()
        .map(|u| format!("{} {}", u.id, u.transport.kind()))
        .collect();
    let profiles: Vec<String> = plan
        .profiles
        .values()
        .map(|p| {
            format!(
                "{}: {}, {}",
                p.name,
                count(p.upstreams.len(), "upstream"),
                count(p.rules.rule_count(), "rule")
            )
        })
        .collect();
    let endpoints: Vec<String> = plan.endpoints.iter().map(endpoint_text).collect();
    vec![
        format!(
            "listen {}, default profile {}",
            plan.listen, plan.default_profile
        ),
        listed(plan.upstreams.len(), "upstream", &upstreams, ", "),
        listed(plan.profiles.len(), "profile", &profiles, "; "),
        listed(plan.endpoints.len(), "endpoint", &endpoints, ", "),
    ]
}

/// `2 upstreams (a http, b sse)`, or `0 upstreams`.
fn listed(n: usize, what: &str, items: &[String], sep: &str) -> String {
    if items.is_empty() {
        count(n, what)
    } else {
        format!("{} ({})", count(n, what), items.join(sep))
    }
}

/// The same summary for tools.
pub fn summary_json(plan: &Plan) -> serde_json::Value {
    serde_json::json!({
        "listen": plan.listen.to_string(),
        "default_profile": plan.default_profile,
        "upstreams": plan.upstreams.values().map(|u| serde_json::json!({
            "name": u.id,
            "transport": u.transport.kind(),
        })).collect::<Vec<_>>(),
        "profiles": plan.profiles.values().map(|p| serde_json::json!({
            "name": p.name,
            "upstreams": p.upstreams,
            "rules": p.rules.rule_count(),
        })).collect::<Vec<_>>(),
        "endpoints": plan.endpoints.iter().map(|e| serde_json::json!({
            "path": e.path,
            "profile": e.profile,
            "only_upstream": e.only_upstream,
            "when": e.when.as_ref().map(ToString::to_string),
        })).collect::<Vec<_>>(),
    })
}
