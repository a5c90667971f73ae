//! `servers:` → [`ast::Upstream`]s, plus each server's `rateLimit` (which the profiles that use
//! the server turn into limits, see [`super::profile`]).

use crate::diag::{Diag, codes, did_you_mean, with_article};
use crate::source::{Span, Spanned};
use crate::syntax::ast::{self, Limit, LimitScope, Str, Transport};
use crate::syntax::yaml::keys::Place;
use crate::syntax::yaml::read::{Fields, Reader};
use crate::syntax::yaml::schema;
use crate::syntax::yaml::tree::{Node, Pair, Value};

/// A server's `rateLimit`, to be copied into every profile that uses the server.
#[derive(Debug, Clone)]
pub struct ServerLimit {
    pub upstream: Str,
    pub limit: Limit,
}

pub struct Servers {
    pub upstreams: Vec<ast::Upstream>,
    pub limits: Vec<ServerLimit>,
}

/// The transport kinds; `schema::Transport` has one variant each (a unit test keeps them equal).
const KINDS: [&str; 3] = ["stdio", "http", "sse"];

/// Keys that belong under `transport:` but are sometimes written beside it.
const FLAT_TRANSPORT_KEYS: [&str; 6] = ["transportType", "type", "kind", "url", "command", "args"];

pub fn servers(r: &mut Reader, node: &Node) -> Servers {
    let mut out = Servers {
        upstreams: Vec::new(),
        limits: Vec::new(),
    };
    for (name, pair) in r.named(node, "a mapping of server names to servers") {
        let (upstream, limit) = server(r, name.clone(), pair);
        out.upstreams.push(upstream);
        if let Some(limit) = limit {
            out.limits.push(ServerLimit {
                upstream: name,
                limit,
            });
        }
    }
    out
}

/// Always yields the upstream, even a broken one, so that profiles naming it still resolve.
fn server(r: &mut Reader, name: Str, pair: &Pair) -> (ast::Upstream, Option<Limit>) {
    let mut up = ast::Upstream {
        name: name.clone(),
        transport: None,
        headers: Vec::new(),
        env: Vec::new(),
        cwd: None,
        timeout: None,
        connect_timeout: None,
        session: None,
        protocol: None,
        auth: None,
        span: pair.span().into(),
    };
    let Some(f) = r.fields(&pair.value, Place::Server) else {
        return (up, None);
    };
    // Transport keys written at the server level (the Go prototype's `transportType`, a
    // client's `command`) already get their own help; "needs `transport`" would only repeat it.
    let misplaced_transport = FLAT_TRANSPORT_KEYS.iter().any(|k| pair.value.has_key(k));
    match f.get("transport") {
        Some(t) => transport(r, &mut up, t),
        None if misplaced_transport => {}
        None => r.missing(
            name.span,
            "transport",
            &format!("server `{}`", name.node),
            "add `transport: { kind: http, url: \"http://127.0.0.1:3000/mcp\" }` \
             or `transport: { kind: stdio, command: npx, args: [...] }`",
        ),
    }
    up.timeout = f
        .value("timeout")
        .and_then(|n| r.string(n, "a duration such as `30s`"));
    up.connect_timeout = f
        .value("connectTimeout")
        .and_then(|n| r.string(n, "a duration such as `10s`"));
    // One spelling in the AST: YAML's camelCase value is the route language's `per-client`.
    up.session = f
        .value("session")
        .and_then(|n| r.string(n, "`shared` or `perClient`"))
        .map(|mode| match mode.node.as_str() {
            "perClient" => Spanned::new("per-client".to_string(), mode.span),
            _ => mode,
        });
    up.protocol = f
        .value("protocol")
        .and_then(|n| r.string(n, "`auto`, `initialize` or `2026-07-28`"));
    up.auth = f.get("auth").and_then(|p| auth(r, p));
    let limit = f.get("rateLimit").and_then(|p| rate_limit(r, &name, p));
    (up, limit)
}

/// `auth: { oauth: clientCredentials, tokenUrl: …, … }`: the flow and every other key, in
/// the route language's kebab-case spelling. The checker knows which keys each flow takes.
fn auth(r: &mut Reader, pair: &Pair) -> Option<ast::UpstreamAuth> {
    let mut flow = None;
    let mut params = Vec::new();
    for kv in r.key_values(
        &pair.value,
        "a mapping such as `{ oauth: clientCredentials, … }`",
    ) {
        let key = Spanned::new(kebab(&kv.key.node), kv.key.span);
        if key.node == "oauth" {
            flow = Some(Spanned::new(kebab(&kv.value.node), kv.value.span));
        } else {
            params.push(ast::KeyValue { key, ..kv });
        }
    }
    let Some(flow) = flow else {
        r.missing(
            pair.key.span,
            "oauth",
            "`auth`",
            "add `oauth: clientCredentials`",
        );
        return None;
    };
    Some(ast::UpstreamAuth {
        flow,
        params,
        span: pair.span().into(),
    })
}

/// `clientCredentials` → `client-credentials`.
fn kebab(camel: &str) -> String {
    let mut out = String::with_capacity(camel.len() + 4);
    for c in camel.chars() {
        if c.is_ascii_uppercase() {
            out.push('-');
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

fn transport(r: &mut Reader, up: &mut ast::Upstream, pair: &Pair) {
    let Some(f) = r.fields(&pair.value, Place::Transport) else {
        return;
    };
    let Some(kind) = f.value("kind") else {
        r.missing(
            pair.key.span,
            "kind",
            "a transport",
            "add `kind: stdio`, `kind: http` (Streamable HTTP) or `kind: sse` (legacy HTTP+SSE)",
        );
        return;
    };
    let Some(kind) = transport_kind(r, kind) else {
        return;
    };
    let applies = schema::transport_keys(&kind.node);
    let applies: Vec<&str> = applies.iter().map(String::as_str).collect();
    misplaced(r, &f, &applies, &kind);
    let need = |r: &mut Reader, key: &str, example: &str| {
        let what = if key == "url" { "a URL" } else { "a command" };
        let expected = format!("{what} such as `{}`", example.trim_matches('"'));
        let found = f.value(key).and_then(|n| r.string(n, &expected));
        if f.get(key).is_none() {
            r.missing(
                pair.key.span,
                key,
                &format!("{} transport", with_article(&kind.node)),
                &format!("add `{key}: {example}`"),
            );
        }
        found
    };
    let node = match kind.node.as_str() {
        "stdio" => need(r, "command", "npx").map(|command| Transport::Stdio {
            command,
            args: f
                .value("args")
                .map(|n| r.list(n, "a list of arguments", |r, n| r.string(n, "an argument")))
                .unwrap_or_default(),
        }),
        "http" => {
            need(r, "url", "\"http://127.0.0.1:3000/mcp\"").map(|url| Transport::Http { url })
        }
        _ => need(r, "url", "\"http://127.0.0.1:3000/sse\"").map(|url| Transport::Sse { url }),
    };
    up.transport = node.map(|t| Spanned::new(t, pair.value.span));
    if kind.node == "stdio" {
        if let Some(n) = f.value("env") {
            up.env = r.key_values(n, "a mapping of variable names to values");
        }
        up.cwd = f.value("cwd").and_then(|n| r.string(n, "a directory"));
    } else if let Some(n) = f.value("headers") {
        up.headers = r.key_values(n, "a mapping of header names to values");
    }
}

/// The kind as written, if it is one mcp2 knows; otherwise a diagnostic that says what to write.
fn transport_kind(r: &mut Reader, node: &Node) -> Option<Str> {
    let kind = r.string(node, "`stdio`, `http` or `sse`")?;
    if KINDS.contains(&kind.node.as_str()) {
        return Some(kind);
    }
    let lower = kind.node.to_ascii_lowercase().replace(['-', '_', ' '], "");
    let help = match lower.as_str() {
        "streamablehttp" | "streamable" | "https" | "httpstream" | "streamhttp" | "mcp" => {
            "Streamable HTTP is `kind: http`; did you mean `http`?".to_string()
        }
        "websocket" | "ws" | "wss" => "mcp2 does not speak WebSocket; MCP servers are reached \
             with `stdio`, `http` (Streamable HTTP) or `sse` (legacy HTTP+SSE)"
            .to_string(),
        "process" | "command" | "local" | "subprocess" | "exec" => {
            "a local command is `kind: stdio`; did you mean `stdio`?".to_string()
        }
        "eventsource" | "httpsse" | "ssehttp" | "legacysse" => "did you mean `sse`?".to_string(),
        _ => match did_you_mean(&kind.node, KINDS) {
            Some(s) => format!("did you mean `{s}`?"),
            None => {
                "write `stdio`, `http` (Streamable HTTP) or `sse` (legacy HTTP+SSE)".to_string()
            }
        },
    };
    r.push(
        Diag::error(
            codes::YAML_BAD_VALUE,
            format!("`{}` is not a transport kind", kind.node),
        )
        .at(kind.span, "unknown transport kind")
        .help(help),
    );
    None
}

/// Keys of the transport that belong to the other kind (`url` on stdio, `command` on http).
fn misplaced(r: &mut Reader, f: &Fields, applies: &[&str], kind: &Str) {
    for (key, pair) in f.iter() {
        if applies.contains(&key) {
            continue;
        }
        let help = if kind.node == "stdio" {
            "a stdio server is started with `command`, `args`, `env` and `cwd`; \
             `url` and `headers` belong to `http` and `sse`"
        } else {
            "an HTTP server is reached with `url` and `headers`; \
             `command`, `args`, `env` and `cwd` belong to `stdio`"
        };
        r.push(
            Diag::error(
                codes::YAML_MISPLACED_KEY,
                format!(
                    "`{key}` does not apply to {} transport",
                    with_article(&kind.node)
                ),
            )
            .at(pair.key.span, "not used by this transport")
            .also(kind.span, "the transport kind")
            .help(help),
        );
    }
}

/// `rateLimit: { requests: 100, per: 1m }` or `rateLimit: 100/min` → a `limit NAME RATE`.
fn rate_limit(r: &mut Reader, name: &Str, pair: &Pair) -> Option<Limit> {
    let rate = if pair.value.is_null() || matches!(pair.value.value, Value::Map(_)) {
        let f = r.fields(&pair.value, Place::RateLimit)?;
        let requests = f
            .value("requests")
            .and_then(|n| r.integer(n, "a number of requests"));
        let per = f
            .value("per")
            .and_then(|n| r.string(n, "a period such as `1m`"));
        for key in ["requests", "per"] {
            if f.get(key).is_none() {
                r.missing(
                    pair.key.span,
                    key,
                    "`rateLimit`",
                    "write `rateLimit: { requests: 100, per: 1m }` or `rateLimit: 100/min`",
                );
            }
        }
        let (requests, per) = (requests?, per?);
        let span: Span = requests.span.to(per.span);
        Spanned::new(format!("{}/{}", requests.node, per_unit(&per.node)), span)
    } else {
        r.string(
            &pair.value,
            "a rate such as `100/min`, or `{ requests: 100, per: 1m }`",
        )?
    };
    Some(Limit {
        scope: LimitScope::Upstream(name.clone()),
        rate,
        per: None,
        span: pair.span().into(),
    })
}

/// The seed's `per: 1m` as the unit of a rate (`100/min`); other periods stay as written
/// (`100/30s`) for the checker to read.
fn per_unit(per: &str) -> String {
    let p = per.trim().to_ascii_lowercase();
    let unit = match p.trim_start_matches('1') {
        "s" | "sec" | "second" => "s",
        "m" | "min" | "minute" => "min",
        "h" | "hr" | "hour" => "h",
        "d" | "day" => "day",
        _ if p == "60s" => "min",
        _ if p == "60m" || p == "60min" => "h",
        _ if p == "24h" => "day",
        _ => return per.trim().to_string(),
    };
    // `11m` must not become `min`: only a lone leading `1` is the count of one.
    if p.len() - p.trim_start_matches('1').len() > 1 {
        return per.trim().to_string();
    }
    unit.to_string()
}

#[cfg(test)]
mod tests {
    use super::{KINDS, per_unit, schema};

    #[test]
    fn per_periods_of_one_become_rate_units() {
        assert_eq!(per_unit("1m"), "min");
        assert_eq!(per_unit("minute"), "min");
        assert_eq!(per_unit("1s"), "s");
        assert_eq!(per_unit("1h"), "h");
        assert_eq!(per_unit("30s"), "30s");
        assert_eq!(per_unit("11m"), "11m");
    }

    #[test]
    fn the_transport_kinds_are_the_schemas() {
        let mut kinds = KINDS.to_vec();
        kinds.sort();
        assert_eq!(kinds, schema::transport_kinds());
        assert!(schema::transport_keys("stdio").contains(&"command".to_string()));
        assert!(schema::transport_keys("sse").contains(&"headers".to_string()));
    }
}
