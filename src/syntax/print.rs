//! AST → canonical `.mcproute` text (`mcp2 convert`, and a future `fmt`).
//!
//! The output parses back to the same AST (spans aside) for every AST: a value is written bare
//! only when the grammar reads that exact bare token back ([`mcproute::lexes_as`]), and quoted
//! otherwise, with every character a string cannot hold escaped. Layout: two-space indents,
//! one setting per line, a blank line around blocks and between groups of one-line items.
//! Items keep their order; in a profile, rules keep theirs and limits follow them.

mod auth;
mod serving;

pub(crate) use auth::condition;

use std::fmt::Write as _;

use super::ast::{self, Item, Str};
use super::mcproute::{Bare, lexes_as, unescape_regex};

/// Prints a whole file.
pub fn print(file: &ast::File) -> String {
    let mut out = String::new();
    let mut prev: Option<Group> = None;
    for item in &file.items {
        let group = Group::of(item);
        if prev.is_some_and(|p| p != group || group == Group::Block) {
            out.push('\n');
        }
        prev = Some(group);
        item_to(&mut out, item);
    }
    out
}

/// Items printed without a blank line between them when they follow each other.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Group {
    Global,
    Endpoint,
    Block,
}

impl Group {
    fn of(item: &Item) -> Group {
        match item {
            Item::Listen(_) | Item::DefaultProfile(_) => Group::Global,
            Item::Endpoint(_) => Group::Endpoint,
            Item::Upstream(_)
            | Item::Profile(_)
            | Item::Logging(_)
            | Item::Admin(_)
            | Item::Limits(_)
            | Item::Cluster(_)
            | Item::OAuth(_)
            | Item::Audit(_) => Group::Block,
        }
    }
}

fn item_to(out: &mut String, item: &Item) {
    match item {
        Item::Listen(listen) => {
            let mut text = format!("listen {}", bare_or_quoted(Bare::ListenAddr, &listen.addr));
            if !listen.origins.is_empty() {
                text.push_str(" allow-origin");
                for origin in &listen.origins {
                    let _ = write!(text, " {}", quote(origin));
                }
            }
            line(out, 0, &text)
        }
        Item::DefaultProfile(name) => {
            line(out, 0, &format!("default-profile {}", self::name(name)))
        }
        Item::Endpoint(endpoint) => line(out, 0, &endpoint_line(endpoint)),
        Item::Upstream(up) => block(
            out,
            &format!("upstream {}", name(&up.name)),
            &upstream_lines(up),
        ),
        Item::Profile(profile) => block(
            out,
            &format!("profile {}", name(&profile.name)),
            &profile_lines(profile),
        ),
        Item::Logging(logging) => block(out, "logging", &logging_lines(logging)),
        Item::Admin(admin) => block(out, "admin", &admin_lines(admin)),
        Item::Limits(limits) => block(out, "limits", &serving::limits_lines(limits)),
        Item::Cluster(cluster) => block(out, "cluster", &serving::cluster_lines(cluster)),
        Item::OAuth(server) => block(
            out,
            &format!("oauth {}", name(&server.name)),
            &auth::oauth_lines(server),
        ),
        Item::Audit(audit) => block(out, "audit", &auth::audit_lines(audit)),
    }
}

fn line(out: &mut String, indent: usize, text: &str) {
    let _ = writeln!(out, "{:indent$}{text}", "", indent = indent * 2);
}

fn block(out: &mut String, head: &str, lines: &[String]) {
    if lines.is_empty() {
        line(out, 0, &format!("{head} {{}}"));
        return;
    }
    line(out, 0, &format!("{head} {{"));
    for l in lines {
        line(out, 1, l);
    }
    line(out, 0, "}");
}

fn endpoint_line(endpoint: &ast::Endpoint) -> String {
    let ast::Endpoint {
        path,
        profile,
        when,
        auth,
        sse,
        span: _,
    } = endpoint;
    let mut text = format!("endpoint {} -> {}", quote(path), name(profile));
    match when {
        Some(ast::Condition::HeaderEquals { name: n, value, .. }) => {
            let _ = write!(text, " when header {} == {}", name(n), quote(value));
        }
        Some(ast::Condition::HeaderPresent { name: n, .. }) => {
            let _ = write!(text, " when header {}", name(n));
        }
        None => {}
    }
    if let Some(path) = sse {
        let _ = write!(text, " sse {}", quote(path));
    }
    for a in auth {
        text.push(' ');
        text.push_str(&auth::endpoint_auth(a));
    }
    text
}

fn upstream_lines(up: &ast::Upstream) -> Vec<String> {
    let ast::Upstream {
        name: _,
        transport,
        headers,
        env,
        cwd,
        timeout,
        connect_timeout,
        session,
        protocol,
        auth,
        span: _,
    } = up;
    let mut lines = Vec::new();
    if let Some(transport) = transport {
        lines.push(match &transport.node {
            ast::Transport::Http { url } => format!("http {}", quote(url)),
            ast::Transport::Sse { url } => format!("sse {}", quote(url)),
            ast::Transport::Stdio { command, args } => {
                let mut text = format!("stdio {}", quote(command));
                for arg in args {
                    let _ = write!(text, " {}", quote(arg));
                }
                text
            }
        });
    }
    for kv in headers {
        lines.push(format!("header {} = {}", name(&kv.key), quote(&kv.value)));
    }
    for kv in env {
        lines.push(format!("env {} = {}", name(&kv.key), quote(&kv.value)));
    }
    if let Some(cwd) = cwd {
        lines.push(format!("cwd {}", quote(cwd)));
    }
    if let Some(t) = timeout {
        lines.push(format!("timeout {}", bare_or_quoted(Bare::Duration, t)));
    }
    if let Some(t) = connect_timeout {
        lines.push(format!(
            "connect-timeout {}",
            bare_or_quoted(Bare::Duration, t)
        ));
    }
    if let Some(mode) = session {
        lines.push(format!("session {}", name(mode)));
    }
    if let Some(p) = protocol {
        lines.push(format!("protocol {}", name(p)));
    }
    if let Some(auth) = auth {
        let mut text = format!("auth oauth {}", name(&auth.flow));
        for kv in &auth.params {
            let _ = write!(text, " {} {}", name(&kv.key), quote(&kv.value));
        }
        lines.push(text);
    }
    lines
}

fn profile_lines(profile: &ast::Profile) -> Vec<String> {
    let ast::Profile {
        name: _,
        meta,
        uses,
        prefix,
        rules,
        limits,
        span: _,
    } = profile;
    let mut lines = meta_lines(meta);
    if !uses.is_empty() {
        let names: Vec<String> = uses.iter().map(name).collect();
        lines.push(format!("use {}", names.join(", ")));
    }
    if let Some(prefix) = prefix {
        lines.push(format!("prefix {}", quote(prefix)));
    }
    lines.extend(rules.iter().map(rule_line));
    lines.extend(limits.iter().map(limit_line));
    lines
}

/// One `meta` line when it is short, else one line per key.
fn meta_lines(meta: &ast::Meta) -> Vec<String> {
    let ast::Meta {
        name,
        version,
        description,
    } = meta;
    let pairs: Vec<String> = [
        ("name", name),
        ("version", version),
        ("description", description),
    ]
    .into_iter()
    .filter_map(|(key, value)| value.as_ref().map(|v| format!("{key} {}", quote(v))))
    .collect();
    let one = format!("meta {}", pairs.join(" "));
    if pairs.is_empty() {
        Vec::new()
    } else if one.len() <= 96 {
        vec![one]
    } else {
        pairs.into_iter().map(|p| format!("meta {p}")).collect()
    }
}

fn rule_line(rule: &ast::Rule) -> String {
    let ast::Rule {
        kind,
        body,
        span: _,
    } = rule;
    let kind = kind.keyword();
    match body {
        ast::RuleBody::Filter {
            action,
            target,
            condition,
        } => {
            let action = match action.node {
                ast::Action::Allow => "allow",
                ast::Action::Deny => "deny",
            };
            let mut text = format!("{action} {kind} {}", target_text(target));
            if let Some(c) = condition {
                text.push(' ');
                text.push_str(&auth::condition(c));
            }
            text
        }
        ast::RuleBody::Rename { upstream, name, to } => format!(
            "rename {kind} {} -> {}",
            item_ref(upstream, name),
            bare_or_quoted(Bare::Word, to)
        ),
        ast::RuleBody::Describe {
            upstream,
            name,
            text,
        } => format!(
            "describe {kind} {} {}",
            item_ref(upstream, name),
            quote(text)
        ),
    }
}

fn limit_line(limit: &ast::Limit) -> String {
    let ast::Limit {
        scope,
        rate,
        per,
        span: _,
    } = limit;
    let scope = match scope {
        ast::LimitScope::Tool(target) => format!("tool {}", target_text(target)),
        // Quoted so that an upstream named `tool` cannot read as the tool form.
        ast::LimitScope::Upstream(up) if up.node == "tool" => quote(up),
        ast::LimitScope::Upstream(up) => name(up),
    };
    let mut text = format!("limit {scope} {}", bare_or_quoted(Bare::Rate, rate));
    if let Some(per) = per {
        let _ = write!(text, " per {}", name(per));
    }
    text
}

fn logging_lines(logging: &ast::Logging) -> Vec<String> {
    let ast::Logging {
        level,
        file,
        max_size_mb,
        max_size_kb,
        max_backups,
        max_age_days,
        compress,
        log_requests,
        log_responses,
        max_body_kb,
        redact_keys,
        span: _,
    } = logging;
    let mut lines = Vec::new();
    if let Some(level) = level {
        lines.push(format!("level {}", bare_or_quoted(Bare::Word, level)));
    }
    if let Some(file) = file {
        lines.push(format!("file {}", quote(file)));
    }
    let numbers = [
        ("max-size-mb", max_size_mb),
        ("max-size-kb", max_size_kb),
        ("max-backups", max_backups),
        ("max-age-days", max_age_days),
        ("max-body-kb", max_body_kb),
    ];
    for (key, n) in numbers {
        if let Some(n) = n {
            lines.push(format!("{key} {}", n.node));
        }
    }
    let flags = [
        ("compress", compress),
        ("log-requests", log_requests),
        ("log-responses", log_responses),
    ];
    for (key, b) in flags {
        if let Some(b) = b {
            lines.push(format!("{key} {}", b.node));
        }
    }
    if !redact_keys.is_empty() {
        let keys: Vec<String> = redact_keys.iter().map(|k| quote(k)).collect();
        lines.push(format!("redact-keys {}", keys.join(" ")));
    }
    lines
}

fn admin_lines(admin: &ast::Admin) -> Vec<String> {
    let ast::Admin {
        listen,
        token,
        span: _,
    } = admin;
    let mut lines = Vec::new();
    if let Some(listen) = listen {
        lines.push(format!(
            "listen {}",
            bare_or_quoted(Bare::ListenAddr, listen)
        ));
    }
    if let Some(token) = token {
        lines.push(format!("token {}", quote(token)));
    }
    lines
}

// ─── values ──────────────────────────────────────────────────────────────────────────────────

fn target_text(target: &ast::Target) -> String {
    let ast::Target {
        upstream,
        name,
        span: _,
    } = target;
    match name {
        ast::NamePattern::Glob(glob) => item_ref(upstream, glob),
        ast::NamePattern::Regex(re) => format!(
            "{} matching {}",
            bare_or_quoted(Bare::UpstreamGlob, upstream),
            regex_literal(re).unwrap_or_else(|| quote(re))
        ),
    }
}

/// `UPSTREAM/NAME`, each half bare when it can be.
fn item_ref(upstream: &Str, name: &Str) -> String {
    format!(
        "{}/{}",
        bare_or_quoted(Bare::UpstreamGlob, upstream),
        bare_or_quoted(Bare::NameGlob, name)
    )
}

fn name(s: &Str) -> String {
    bare_or_quoted(Bare::Name, s)
}

fn bare_or_quoted(kind: Bare, s: &str) -> String {
    if lexes_as(kind, s) {
        s.to_owned()
    } else {
        quote(s)
    }
}

/// A double-quoted string literal that decodes to exactly `s`.
pub(crate) fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// `/…/` for a regex, when a literal can say it exactly (not for an empty regex, a line
/// break, a trailing `\`, or a `\/` the literal would read as `/`).
fn regex_literal(re: &str) -> Option<String> {
    let inner = re.replace('/', "\\/");
    let literal = format!("/{inner}/");
    (lexes_as(Bare::Regex, &literal) && unescape_regex(&inner) == re).then_some(literal)
}

#[cfg(test)]
mod tests;
