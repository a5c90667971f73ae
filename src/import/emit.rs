//! Imported servers → the route AST (for `.mcproute`, via the printer) or the YAML format.
//!
//! The AST has no source behind it, so every span is empty; the printer does not need them.
//! The YAML is built as a value and serialized, in the layout of `docs/routes.md`.

use yaml_serde::{Mapping, Value};

use super::{ClientServer, ClientTransport};
use crate::source::{FileId, Span, Spanned};
use crate::syntax::ast::{self, Item, KeyValue, Str, Transport};

/// The servers as upstream declarations (no profile: every upstream is served by `default`).
pub fn ast(servers: &[ClientServer]) -> ast::File {
    ast::File {
        items: servers
            .iter()
            .map(|s| Item::Upstream(upstream(s)))
            .collect(),
    }
}

fn nowhere() -> Span {
    Span::new(FileId(0), 0, 0)
}

fn s(text: &str) -> Str {
    Spanned::new(text.to_string(), nowhere())
}

fn key_values(pairs: &[(String, String)]) -> Vec<KeyValue> {
    pairs
        .iter()
        .map(|(k, v)| KeyValue {
            key: s(k),
            value: s(v),
            span: nowhere().into(),
        })
        .collect()
}

fn upstream(server: &ClientServer) -> ast::Upstream {
    let ClientServer {
        name,
        transport,
        env,
        headers,
        cwd,
    } = server;
    let transport = match transport {
        ClientTransport::Stdio { command, args } => Transport::Stdio {
            command: s(command),
            args: args.iter().map(|a| s(a)).collect(),
        },
        ClientTransport::Http { url } => Transport::Http { url: s(url) },
        ClientTransport::Sse { url } => Transport::Sse { url: s(url) },
    };
    ast::Upstream {
        name: s(name),
        transport: Some(Spanned::new(transport, nowhere())),
        headers: key_values(headers),
        env: key_values(env),
        cwd: cwd.as_deref().map(s),
        timeout: None,
        connect_timeout: None,
        session: None,
        protocol: None,
        auth: None,
        span: nowhere().into(),
    }
}

/// The servers in the YAML format (`servers:` only; the implicit `default` profile serves them).
pub fn yaml(servers: &[ClientServer]) -> String {
    let mut list = Mapping::new();
    for server in servers {
        list.insert(y(&server.name), yaml_server(server));
    }
    let mut doc = Mapping::new();
    doc.insert(y("servers"), Value::Mapping(list));
    yaml_serde::to_string(&doc).unwrap_or_default()
}

fn y(text: &str) -> Value {
    Value::String(text.to_string())
}

fn yaml_server(server: &ClientServer) -> Value {
    let ClientServer {
        name: _,
        transport,
        env,
        headers,
        cwd,
    } = server;
    let table = |pairs: &[(String, String)]| -> Value {
        Value::Mapping(pairs.iter().map(|(k, v)| (y(k), y(v))).collect())
    };
    let mut t = Mapping::new();
    match transport {
        ClientTransport::Stdio { command, args } => {
            t.insert(y("kind"), y("stdio"));
            t.insert(y("command"), y(command));
            if !args.is_empty() {
                t.insert(
                    y("args"),
                    Value::Sequence(args.iter().map(|a| y(a)).collect()),
                );
            }
            if !env.is_empty() {
                t.insert(y("env"), table(env));
            }
            if let Some(cwd) = cwd {
                t.insert(y("cwd"), y(cwd));
            }
        }
        ClientTransport::Http { url } | ClientTransport::Sse { url } => {
            let kind = if matches!(transport, ClientTransport::Sse { .. }) {
                "sse"
            } else {
                "http"
            };
            t.insert(y("kind"), y(kind));
            t.insert(y("url"), y(url));
            if !headers.is_empty() {
                t.insert(y("headers"), table(headers));
            }
        }
    }
    let mut server = Mapping::new();
    server.insert(y("transport"), Value::Mapping(t));
    Value::Mapping(server)
}
