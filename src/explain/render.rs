//! The human format of an [`Explanation`]: numbered steps, one fact a line. Plain ASCII unless
//! the caller asks for colour and Unicode (a terminal).

use std::fmt::Write;

use super::model::*;
use crate::plan::rules::{Action, Step};

/// How to draw.
#[derive(Debug, Clone, Copy, Default)]
pub struct Style {
    pub color: bool,
    pub unicode: bool,
}

impl Style {
    fn paint(&self, code: &str, text: &str) -> String {
        if self.color {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_string()
        }
    }
    fn ok(&self, t: &str) -> String {
        self.paint("32", t)
    }
    fn bad(&self, t: &str) -> String {
        self.paint("31", t)
    }
    fn dim(&self, t: &str) -> String {
        self.paint("2", t)
    }
    fn bold(&self, t: &str) -> String {
        self.paint("1", t)
    }
    fn arrow(&self) -> &'static str {
        if self.unicode { "→" } else { "->" }
    }
    fn bullet(&self) -> &'static str {
        if self.unicode { "•" } else { "-" }
    }
}

/// Renders the explanation for people.
pub fn render(e: &Explanation, style: Style) -> String {
    let mut out = String::new();
    let s = &style;
    let target = e
        .target
        .as_deref()
        .map(|t| format!(" {t}"))
        .unwrap_or_default();
    let source = match e.source {
        Source::Offline => "offline: from the routes alone; no upstream contacted",
        Source::Live => "live: upstreams connected for this explanation",
        Source::Server => "server: asked the running mcp2",
    };
    let _ = writeln!(
        out,
        "{} ({source})",
        s.bold(&format!("explain {}{target}", e.method))
    );
    let mut n = 0;
    let mut step = |out: &mut String, title: &str| {
        n += 1;
        let _ = writeln!(out, "\n{}", s.bold(&format!("{n}. {title}")));
    };

    step(&mut out, &format!("endpoint {}", e.endpoint.path));
    if !e.endpoint.headers.is_empty() {
        let _ = writeln!(out, "   headers given: {}", e.endpoint.headers.join(", "));
    }
    for c in &e.endpoint.considered {
        let when = c
            .condition
            .as_deref()
            .map(|w| format!(" when {w}"))
            .unwrap_or_default();
        let only = c
            .only_upstream
            .as_deref()
            .map(|u| format!(" (only `{u}`)"))
            .unwrap_or_default();
        let verdict = if c.matched {
            s.ok("matched")
        } else {
            s.dim("no match")
        };
        let _ = writeln!(
            out,
            "   {} {} -> {}{only}{when}  [{}]  {verdict}",
            s.bullet(),
            e.endpoint.path,
            c.profile,
            origin(&c.origin)
        );
    }
    let _ = writeln!(out, "   {} {}", s.arrow(), e.endpoint.reason);
    if !e.endpoint.known_paths.is_empty() {
        let _ = writeln!(
            out,
            "   served paths: {}",
            e.endpoint.known_paths.join(", ")
        );
    }
    if let Some(auth) = e.endpoint.chosen.as_ref().and_then(|c| c.auth.as_ref()) {
        let _ = writeln!(out, "   requires credential: {auth} (value <redacted>)");
    }

    if let Some(p) = &e.profile {
        step(&mut out, &format!("profile {}", p.name));
        let _ = writeln!(out, "   declared at {}", p.origin);
        let _ = writeln!(
            out,
            "   upstreams, in priority order: {}",
            p.upstreams.join(", ")
        );
        if let Some(prefix) = &p.prefix {
            let _ = writeln!(out, "   prefix: {prefix}");
        }
        for policy in &p.policies {
            let _ = writeln!(out, "   upstream {}:", policy.upstream);
            for r in &policy.rules {
                let _ = writeln!(out, "     {} {}  [{}]", s.bullet(), r.rule, r.origin);
            }
            let _ = writeln!(
                out,
                "     {} otherwise: {}",
                s.bullet(),
                if policy.default_visible {
                    "shown (no allow rule covers this upstream)"
                } else {
                    "hidden (this upstream has an allow-list)"
                }
            );
            if let Some(prefix) = &policy.prefix {
                let _ = writeln!(
                    out,
                    "     {} public names: `{prefix}` + original name",
                    s.bullet()
                );
            }
            for r in &policy.renames {
                let _ = writeln!(
                    out,
                    "     {} rename {} {} {}  [{}]",
                    s.bullet(),
                    r.original,
                    s.arrow(),
                    r.public,
                    r.origin
                );
            }
        }
    }

    if !e.items.is_empty() {
        step(&mut out, "decisions");
        for item in &e.items {
            render_item(&mut out, item, s, e.target.is_some());
        }
    }

    step(&mut out, "outcome");
    render_outcome(&mut out, &e.outcome, s);

    if let Some(u) = &e.upstream {
        step(&mut out, &format!("upstream {}", u.upstream));
        let _ = writeln!(out, "   transport: {}  [{}]", u.transport, u.origin);
        let _ = writeln!(
            out,
            "   timeout: {} per request (restarts on progress); connect timeout {}",
            u.timeout, u.connect_timeout
        );
        let _ = writeln!(out, "   session: {}", u.session);
        if u.headers.is_empty() {
            let _ = writeln!(out, "   headers injected: none");
        } else {
            for h in &u.headers {
                let _ = writeln!(out, "   header injected: {}: {}", h.name, h.value);
            }
        }
        for v in &u.env {
            let _ = writeln!(out, "   environment set: {}={}", v.name, v.value);
        }
        if let Some(c) = &u.credentials {
            let _ = writeln!(out, "   credentials: {c} (sent as `Authorization: Bearer`)");
        }
    }

    if e.upstream.is_some() {
        step(&mut out, "rate limits");
        if e.limits.is_empty() {
            let _ = writeln!(out, "   none declared in this profile");
        }
        for l in &e.limits {
            let verdict = if l.applies {
                s.bad("applies")
            } else {
                s.dim("does not apply")
            };
            let _ = writeln!(
                out,
                "   {} {}  [{}]  {verdict}",
                s.bullet(),
                l.limit,
                l.origin
            );
        }
    }

    if e.profile.is_some() {
        step(&mut out, "cache");
        let _ = writeln!(out, "   {}", e.cache.summary);
        for c in &e.cache.upstreams {
            let _ = writeln!(out, "   {} {}: {}", s.bullet(), c.upstream, c.state);
        }
        if !e.cache.invalidated_by.is_empty() {
            let _ = writeln!(
                out,
                "   invalidated by: {}",
                e.cache.invalidated_by.join("; ")
            );
        }
    }
    out
}

/// Where something was declared; implied endpoints have no place in a file.
fn origin(o: &str) -> &str {
    if o.starts_with("<built-in>") {
        "implied"
    } else {
        o
    }
}

fn render_item(out: &mut String, item: &ItemTrace, s: &Style, detailed: bool) {
    let head = format!("{}/{}", item.upstream, item.original);
    if item.offered == Some(false) {
        let _ = writeln!(
            out,
            "   {} {head}: {}",
            s.bullet(),
            s.dim(
                item.note
                    .as_deref()
                    .unwrap_or("not offered by the upstream")
            )
        );
        return;
    }
    let verdict = if item.visible {
        s.ok(&format!("visible as `{}`", item.public_name))
    } else {
        s.bad("hidden")
    };
    let assumed = if item.offered.is_none() {
        " (if the upstream offers it)"
    } else {
        ""
    };
    let _ = writeln!(out, "   {} {head}{assumed}: {verdict}", s.bullet());
    if detailed {
        for st in &item.steps {
            let line = match st {
                Step::Rule {
                    rule,
                    matched,
                    action,
                } => {
                    let a = match action {
                        Action::Allow => "allow",
                        Action::Deny => "deny",
                    };
                    let m = if *matched {
                        s.ok(&format!("matched: {a}"))
                    } else {
                        s.dim("no match")
                    };
                    format!("rule `{}`  [{}]  {m}", rule.text, rule.origin)
                }
                Step::Default { allowed, reason } => format!(
                    "default: {} ({reason})",
                    if *allowed { "shown" } else { "hidden" }
                ),
                Step::Renamed { rule, to } => {
                    format!("renamed to `{to}` by `{}`  [{}]", rule.text, rule.origin)
                }
                Step::Prefixed { prefix, to } => format!("prefix `{prefix}` gives `{to}`"),
                Step::Described { rule } => {
                    format!("description replaced by `{}`  [{}]", rule.text, rule.origin)
                }
            };
            let _ = writeln!(out, "       {line}");
        }
    } else if let Some(rule) = &item.decided_by {
        let _ = writeln!(out, "       decided by `{}`  [{}]", rule.text, rule.origin);
    }
    if let Some(c) = &item.collision {
        let _ = writeln!(out, "       collision: {c}");
    }
}

fn render_outcome(out: &mut String, o: &Outcome, s: &Style) {
    let text = match o {
        Outcome::NoEndpoint => s.bad("no endpoint serves this request (HTTP 404)"),
        Outcome::Routed { upstream, original, assumed, fallbacks } => {
            let mut t = s.ok(&format!("routed to upstream `{upstream}` as `{original}`"));
            if *assumed {
                t.push_str(&format!(" (if `{upstream}` offers `{original}`)"));
            }
            for f in fallbacks {
                t.push_str(&format!("\n   otherwise: {f}"));
            }
            t
        }
        Outcome::Hidden { reason, .. } => format!("{}: {reason}", s.bad("not callable")),
        Outcome::Unknown { reason, suggestion } => {
            let mut t = format!("{}: {reason}", s.bad("unknown"));
            if let Some(sugg) = suggestion {
                t.push_str(&format!("\n   did you mean `{sugg}`?"));
            }
            t
        }
        Outcome::List { visible: None } => {
            "the names depend on what the upstreams offer; decided per item by the rules above (use --live or --server to see them)".to_string()
        }
        Outcome::List { visible: Some(names) } if names.is_empty() => "nothing visible".to_string(),
        Outcome::List { visible: Some(names) } => format!("{} visible: {}", names.len(), names.join(", ")),
        Outcome::Initialize { server_name, server_version, upstreams } => format!(
            "serverInfo {server_name} {server_version}; capabilities: the union of {}",
            upstreams.join(", ")
        ),
    };
    let _ = writeln!(out, "   {text}");
}
