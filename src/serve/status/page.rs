//! The status page's HTML: one self-contained document with inline CSS and no script.
//!
//! Every piece of text goes through [`text`] or [`attr`]; names, descriptions and errors come
//! from upstreams and route files, and must never become markup.

use std::fmt::Write as _;
use std::time::SystemTime;

use super::{Counts, ProfileRow, ReloadRow, Status, UpstreamRow};

const STYLE: &str = "
body{font:14px/1.45 system-ui,-apple-system,'Segoe UI',sans-serif;margin:0;background:#f5f6f8;color:#1d2330}
header{background:#1d2330;color:#fff;padding:14px 28px;display:flex;align-items:baseline;gap:16px}
header h1{font-size:19px;margin:0}header span{color:#aab3c5;font-size:13px}
main{padding:20px 28px;max-width:1200px}
section{background:#fff;border:1px solid #dde1e8;border-radius:8px;padding:14px 18px;margin-bottom:18px}
h2{font-size:16px;margin:0 0 10px}h3{font-size:14px;margin:14px 0 6px}
table{border-collapse:collapse;width:100%}
th,td{text-align:left;padding:6px 10px;border-bottom:1px solid #eceef2;vertical-align:top}
th{font-size:12px;text-transform:uppercase;letter-spacing:.04em;color:#5b6477}
code{font:12.5px ui-monospace,SFMono-Regular,Menlo,monospace}
.cards{display:flex;gap:14px;margin-bottom:18px}
.card{background:#fff;border:1px solid #dde1e8;border-radius:8px;padding:10px 18px;min-width:140px}
.card b{display:block;font-size:22px}.card span{color:#5b6477;font-size:12px}
.state{display:inline-block;padding:1px 9px;border-radius:10px;font-size:12px;font-weight:600}
.connected,.applied{background:#dff5e3;color:#17612a}
.down,.rejected{background:#fde2e1;color:#a11d18}
.connecting,.restarting,.stopped{background:#fff1d6;color:#8a5a00}
.error{color:#a11d18}.muted{color:#7a8294}.nowrap{white-space:nowrap}
td.target code{word-break:break-all}
pre{background:#f5f6f8;border-radius:6px;padding:8px 10px;overflow-x:auto;font-size:12px;margin:6px 0}
";

/// The whole page.
pub fn render(status: &Status) -> String {
    let mut out = String::new();
    out.push_str("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">");
    out.push_str("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">");
    let _ = write!(
        out,
        "<title>mcp2 status</title><style>{STYLE}</style></head><body>"
    );
    out.push_str("<header><h1>mcp2 status</h1>");
    out.push_str("<span>read-only; reload the page to refresh</span></header><main>");
    cards(&mut out, status);
    upstreams(&mut out, &status.upstreams, status.generated);
    for profile in &status.profiles {
        self::profile(&mut out, profile);
    }
    reloads(&mut out, &status.reloads, status.generated);
    out.push_str("</main></body></html>\n");
    out
}

/// Escapes text content.
fn text(s: &str) -> String {
    html_escape::encode_text(s).into_owned()
}

/// Escapes a double-quoted attribute value.
fn attr(s: &str) -> String {
    html_escape::encode_double_quoted_attribute(s).into_owned()
}

fn cards(out: &mut String, status: &Status) {
    let connected = status
        .upstreams
        .iter()
        .filter(|u| u.state == "connected")
        .count();
    out.push_str("<div class=\"cards\">");
    card(
        out,
        &format!("{connected}/{}", status.upstreams.len()),
        "upstreams connected",
    );
    card(out, &status.profiles.len().to_string(), "profiles");
    match &status.totals {
        Some(Counts { requests, errors }) => {
            card(out, &requests.to_string(), "requests");
            card(out, &errors.to_string(), "errors");
        }
        None => card(out, "–", "requests (metrics off)"),
    }
    out.push_str("</div>");
}

fn card(out: &mut String, value: &str, label: &str) {
    let _ = write!(
        out,
        "<div class=\"card\"><b>{}</b><span>{}</span></div>",
        text(value),
        text(label)
    );
}

fn upstreams(out: &mut String, rows: &[UpstreamRow], now: SystemTime) {
    out.push_str("<section id=\"upstreams\"><h2>Upstreams</h2><table>");
    out.push_str("<tr><th>Name</th><th>Transport</th><th>State</th><th>Since</th>");
    out.push_str("<th>Last error</th><th>Requests</th><th>Errors</th></tr>");
    for row in rows {
        let since = row.since.map(|t| ago(t, now)).unwrap_or_default();
        let error = row.last_error.as_deref().map_or_else(
            || "<span class=\"muted\">—</span>".to_string(),
            |e| format!("<span class=\"error\">{}</span>", text(e)),
        );
        let _ = write!(
            out,
            "<tr class=\"upstream\" data-upstream=\"{}\"><td><b>{}</b></td><td class=\"target\"><code>{}</code></td>\
             <td><span class=\"state {}\">{}</span></td><td class=\"nowrap\">{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            attr(&row.name),
            text(&row.name),
            text(&row.target),
            row.state,
            row.state,
            text(&since),
            error,
            row.counts.requests,
            row.counts.errors,
        );
    }
    if rows.is_empty() {
        out.push_str("<tr><td colspan=\"7\" class=\"muted\">no upstreams declared</td></tr>");
    }
    out.push_str("</table></section>");
}

fn profile(out: &mut String, profile: &ProfileRow) {
    let _ = write!(
        out,
        "<section class=\"profile\" data-profile=\"{}\"><h2>Profile <code>{}</code></h2>\
         <p class=\"muted\">uses {}; tools as a caller without credentials sees them</p><table>\
         <tr><th>Tool</th><th>Upstream</th><th>Original name</th><th>Description</th></tr>",
        attr(&profile.name),
        text(&profile.name),
        text(&profile.upstreams.join(", ")),
    );
    for tool in &profile.tools {
        let _ = write!(
            out,
            "<tr class=\"tool\"><td class=\"nowrap\"><code>{}</code></td><td>{}</td>\
             <td class=\"nowrap\"><code>{}</code></td><td>{}</td></tr>",
            text(&tool.public),
            text(&tool.upstream),
            text(&tool.original),
            text(tool.description.as_deref().unwrap_or("")),
        );
    }
    if profile.tools.is_empty() {
        out.push_str(
            "<tr><td colspan=\"4\" class=\"muted\">no tools visible (upstreams down or everything filtered)</td></tr>",
        );
    }
    out.push_str("</table></section>");
}

fn reloads(out: &mut String, rows: &[ReloadRow], now: SystemTime) {
    out.push_str("<section id=\"reloads\"><h2>Recent reloads</h2>");
    if rows.is_empty() {
        out.push_str("<p class=\"muted\">no reload since start</p>");
    }
    for row in rows {
        let outcome = if row.applied { "applied" } else { "rejected" };
        let _ = write!(
            out,
            "<div class=\"reload\"><h3><span class=\"state {outcome}\">{outcome}</span> {} \
             <span class=\"muted\">({})</span></h3><div>{}</div>",
            text(&ago(row.at, now)),
            text(&row.trigger),
            text(&row.summary),
        );
        for d in &row.diagnostics {
            let _ = write!(out, "<pre>{}</pre>", text(d));
        }
        out.push_str("</div>");
    }
    out.push_str("</section>");
}

/// `12s ago`, `5m ago`, `3h ago`, `2d ago`.
fn ago(then: SystemTime, now: SystemTime) -> String {
    let secs = now.duration_since(then).map(|d| d.as_secs()).unwrap_or(0);
    match secs {
        0..60 => format!("{secs}s ago"),
        60..3600 => format!("{}m ago", secs / 60),
        3600..86400 => format!("{}h ago", secs / 3600),
        _ => format!("{}d ago", secs / 86400),
    }
}

#[cfg(test)]
mod tests {
    use super::super::ToolRow;
    use super::*;

    #[test]
    fn upstream_text_never_becomes_markup() {
        let status = Status {
            upstreams: vec![UpstreamRow {
                name: "evil".into(),
                target: "stdio x".into(),
                state: "down",
                since: None,
                last_error: Some("<script>alert(1)</script>".into()),
                counts: Counts::default(),
            }],
            profiles: vec![ProfileRow {
                name: "p\"><b>".into(),
                upstreams: vec!["evil".into()],
                tools: vec![ToolRow {
                    public: "<img src=x onerror=alert(1)>".into(),
                    upstream: "evil".into(),
                    original: "a&b".into(),
                    description: Some("</td></table><h1>pwned</h1>".into()),
                }],
            }],
            reloads: vec![ReloadRow {
                at: SystemTime::now(),
                trigger: "http".into(),
                applied: false,
                summary: "rejected".into(),
                diagnostics: vec!["error: <b>bad</b>".into()],
            }],
            totals: None,
            generated: SystemTime::now(),
        };
        let html = render(&status);
        for raw in ["<script>", "<img", "<h1>pwned", "p\"><b>", "<b>bad"] {
            assert!(!html.contains(raw), "{raw} reached the page unescaped");
        }
        assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
        assert!(html.contains("a&amp;b"));
    }
}
