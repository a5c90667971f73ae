//! Pass 2a: upstream declarations → [`UpstreamSpec`]s.
//!
//! Expands `${VAR}` in URLs, commands, arguments, working directories, headers and env values,
//! validates each value, and turns header and env values into [`crate::plan::Secret`]s. An
//! upstream with any error is left out of the result (its errors are reported); other passes
//! still see its declaration, so references to it do not cascade into "unknown upstream". An
//! upstream with no transport is reported only when the front-end found nothing wrong inside it:
//! an unreadable transport (a bad YAML `kind`, an unterminated URL) is already reported there.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use indexmap::IndexMap;

use super::declare::Decls;
use super::env::{Expanded, Origin, expand};
use super::{Cx, errors, upauth, values};
use crate::diag::{Diag, codes, did_you_mean};
use crate::plan::{ProtocolMode, Secret, SessionMode, TransportSpec, UpstreamId, UpstreamSpec};
use crate::source::Span;
use crate::syntax::ast;

pub(super) fn build(decls: &Decls<'_>, cx: &mut Cx<'_>) -> IndexMap<UpstreamId, Arc<UpstreamSpec>> {
    decls
        .upstreams
        .values()
        .filter_map(|up| build_one(up, cx))
        .map(|spec| (spec.id.clone(), Arc::new(spec)))
        .collect()
}

fn build_one(up: &ast::Upstream, cx: &mut Cx<'_>) -> Option<UpstreamSpec> {
    let ast::Upstream {
        name,
        transport,
        headers,
        env,
        cwd,
        timeout,
        connect_timeout,
        session,
        protocol,
        auth,
        span,
    } = up;
    let errors_before = cx.error_count();
    let name = name.node.as_str();
    let transport_written = transport.as_ref();
    let transport = match transport {
        None => {
            if !cx.front_end_reported(**span) {
                cx.push(errors::missing_transport(name, **span));
            }
            None
        }
        Some(t) => build_transport(name, &t.node, env, cwd.as_ref(), cx),
    };
    // Judged on what was written, so a bad URL does not hide a misplaced `env`.
    let kind = transport_written.map(|t| match &t.node {
        ast::Transport::Stdio { .. } => "stdio",
        ast::Transport::Http { .. } => "http",
        ast::Transport::Sse { .. } => "sse",
    });
    match kind {
        None => {}
        Some("stdio") => {
            for kv in headers {
                cx.push(errors::setting_not_for_transport(
                    "header", "stdio", *kv.span,
                ));
            }
            if let Some(auth) = auth {
                cx.push(
                    Diag::error(
                        codes::BAD_UPSTREAM_AUTH,
                        "`auth oauth` is for HTTP upstreams",
                    )
                    .at(*auth.span, "a stdio upstream sends no HTTP requests")
                    .help("pass credentials to a stdio server with `env NAME = \"${VAR}\"`"),
                );
            }
        }
        Some(kind) => {
            for kv in env {
                cx.push(errors::setting_not_for_transport("env", kind, *kv.span));
            }
            if let Some(cwd) = cwd {
                cx.push(errors::setting_not_for_transport("cwd", kind, cwd.span));
            }
        }
    }
    let auth = match (auth, kind) {
        (Some(a), Some(k)) if k != "stdio" => upauth::build(name, a, headers, cx),
        _ => None,
    };
    let headers = build_headers(name, headers, cx);
    let timeout = positive_duration(timeout.as_ref(), UpstreamSpec::DEFAULT_TIMEOUT, cx);
    let connect_timeout = positive_duration(
        connect_timeout.as_ref(),
        UpstreamSpec::DEFAULT_CONNECT_TIMEOUT,
        cx,
    );
    let session = session_mode(session.as_ref(), cx);
    let protocol = protocol_mode(protocol.as_ref(), cx);
    if cx.error_count() > errors_before {
        return None;
    }
    Some(UpstreamSpec {
        id: UpstreamId::new(name),
        transport: transport?,
        headers,
        auth,
        timeout: timeout?,
        connect_timeout: connect_timeout?,
        session: session?,
        protocol: protocol?,
        origin: cx.location(**span),
    })
}

fn build_transport(
    name: &str,
    transport: &ast::Transport,
    env: &[ast::KeyValue],
    cwd: Option<&ast::Str>,
    cx: &mut Cx<'_>,
) -> Option<TransportSpec> {
    match transport {
        ast::Transport::Stdio { command, args } => {
            let used_in = format!("the command of upstream `{name}`");
            let command_value = expand(cx, command, &used_in).map(|e| e.value);
            if command_value
                .as_deref()
                .is_some_and(|c| c.trim().is_empty())
            {
                let lang = cx.lang(command.span);
                cx.push(errors::empty_command(command.span, lang));
            }
            let args: Vec<Option<String>> = args
                .iter()
                .map(|a| expand(cx, a, &format!("an argument of upstream `{name}`")))
                .map(|e| e.map(|e| e.value))
                .collect();
            let cwd = cwd.map(|c| {
                expand(
                    cx,
                    c,
                    &format!("the working directory of upstream `{name}`"),
                )
                .map(|e| PathBuf::from(e.value))
            });
            let env = build_env(name, env, cx);
            Some(TransportSpec::Stdio {
                command: command_value?,
                args: args.into_iter().collect::<Option<_>>()?,
                env,
                cwd: cwd.map_or(Some(None), |c| c.map(Some))?,
            })
        }
        ast::Transport::Http { url } => Some(TransportSpec::Http {
            url: build_url(name, url, "http", cx)?,
        }),
        ast::Transport::Sse { url } => Some(TransportSpec::Sse {
            url: build_url(name, url, "sse", cx)?,
        }),
    }
}

fn build_url(name: &str, url: &ast::Str, transport: &str, cx: &mut Cx<'_>) -> Option<url::Url> {
    let expanded = expand(cx, url, &format!("the URL of upstream `{name}`"))?;
    match values::parse_http_url(&expanded.value) {
        Ok(u) => Some(u),
        Err(e) => {
            cx.push(errors::bad_url(
                url.span,
                &e.reason,
                transport,
                &expanded.vars,
            ));
            None
        }
    }
}

fn build_headers(name: &str, headers: &[ast::KeyValue], cx: &mut Cx<'_>) -> Vec<(String, Secret)> {
    let mut seen: BTreeMap<String, Span> = BTreeMap::new();
    let mut out = Vec::new();
    for ast::KeyValue {
        key,
        value,
        span: _,
    } in headers
    {
        let header = match values::parse_header_name(&key.node) {
            Ok(h) => h,
            Err(e) => {
                let at = e.at.map_or(key.span, |r| cx.sub_span(key, r));
                cx.push(errors::bad_header_name(at, &e.reason));
                continue;
            }
        };
        if let Some(first) = seen.insert(header.clone(), key.span) {
            let what = format!("header `{}`", key.node);
            cx.push(errors::duplicate_entry(&what, key.span, first));
        }
        if let Some(why) = values::reserved_header(&header) {
            cx.push(errors::reserved_header(&key.node, key.span, why));
        }
        let used_in = format!("header `{}` of upstream `{name}`", key.node);
        let Some(expanded) = expand(cx, value, &used_in) else {
            continue;
        };
        if let Err(e) = values::check_header_value(&expanded.value) {
            let (at, source) = locate_in_value(cx, value, &expanded, e.at.map_or(0, |r| r.start));
            cx.push(errors::bad_header_value(&key.node, at, &source));
            continue;
        }
        out.push((header, expanded.into_secret()));
    }
    out
}

/// Points at the byte of an expanded value that is wrong: the character itself when written
/// literally, the `${VAR}` it came from otherwise. Never quotes the value.
fn locate_in_value(
    cx: &Cx<'_>,
    s: &ast::Str,
    expanded: &Expanded,
    offset: usize,
) -> (Span, String) {
    match expanded.origin(offset) {
        Some(Origin::Literal(at)) => {
            let len = s
                .node
                .get(at..)
                .and_then(|r| r.chars().next())
                .map_or(1, char::len_utf8);
            (cx.sub_span(s, at..at + len), "written here".into())
        }
        Some(Origin::Var(range)) => {
            let var = s
                .node
                .get(range.clone())
                .unwrap_or("the variable")
                .to_string();
            (cx.sub_span(s, range), format!("comes from `{var}`"))
        }
        None => (s.span, "in this value".into()),
    }
}

fn build_env(name: &str, env: &[ast::KeyValue], cx: &mut Cx<'_>) -> BTreeMap<String, Secret> {
    let mut out: BTreeMap<String, Secret> = BTreeMap::new();
    let mut seen: BTreeMap<&str, Span> = BTreeMap::new();
    for ast::KeyValue {
        key,
        value,
        span: _,
    } in env
    {
        let k = key.node.as_str();
        let problem = if k.is_empty() {
            Some("the name is empty")
        } else if k.contains('=') {
            Some("a name cannot contain `=`")
        } else if k.contains('\0') {
            Some("a name cannot contain a NUL character")
        } else {
            None
        };
        if let Some(reason) = problem {
            cx.push(errors::bad_env_name(key.span, reason));
            continue;
        }
        if let Some(first) = seen.insert(k, key.span) {
            cx.push(errors::duplicate_entry(
                &format!("env `{k}`"),
                key.span,
                first,
            ));
            continue;
        }
        let used_in = format!("env `{k}` of upstream `{name}`");
        if let Some(expanded) = expand(cx, value, &used_in) {
            out.insert(k.to_string(), expanded.into_secret());
        }
    }
    out
}

/// A timeout: absent means the default; zero is refused (it would fail every request).
/// A duration longer than zero, or `default` when none is written.
pub(super) fn positive_duration(
    s: Option<&ast::Str>,
    default: Duration,
    cx: &mut Cx<'_>,
) -> Option<Duration> {
    let Some(s) = s else {
        return Some(default);
    };
    match values::parse_duration(&s.node) {
        Ok(d) if d.is_zero() => {
            cx.push(errors::zero_timeout(s.span));
            None
        }
        Ok(d) => Some(d),
        Err(e) => {
            cx.push(errors::bad_duration(s.span, &e.reason));
            None
        }
    }
}

/// `session shared|per-client` (YAML `perClient` arrives as `per-client`); absent: shared.
fn session_mode(written: Option<&ast::Str>, cx: &mut Cx<'_>) -> Option<SessionMode> {
    const MODES: [&str; 2] = ["shared", "per-client"];
    let Some(written) = written else {
        return Some(SessionMode::Shared);
    };
    match written.node.as_str() {
        "shared" => Some(SessionMode::Shared),
        "per-client" => Some(SessionMode::PerClient),
        other => {
            let mut diag = Diag::error(
                codes::BAD_SESSION_MODE,
                format!("unknown session mode `{other}`"),
            )
            .at(written.span, "expected `shared` or `per-client`");
            diag = match did_you_mean(other, MODES) {
                Some(s) => diag.help(format!("did you mean `{s}`? (YAML spells it `perClient`)")),
                None => diag.help(
                    "`shared` (one connection for every client, the default) or `per-client` \
                     (a connection per client, for stateful servers; YAML `perClient`)",
                ),
            };
            cx.push(diag);
            None
        }
    }
}

/// `protocol auto|initialize|2026-07-28`; absent: auto.
fn protocol_mode(written: Option<&ast::Str>, cx: &mut Cx<'_>) -> Option<ProtocolMode> {
    const MODES: [&str; 3] = ["auto", "initialize", "2026-07-28"];
    let Some(written) = written else {
        return Some(ProtocolMode::Auto);
    };
    match written.node.as_str() {
        "auto" => Some(ProtocolMode::Auto),
        "initialize" => Some(ProtocolMode::Initialize),
        "2026-07-28" => Some(ProtocolMode::Modern),
        other => {
            let mut diag = Diag::error(
                codes::BAD_PROTOCOL_MODE,
                format!("unknown protocol `{other}`"),
            )
            .at(
                written.span,
                "expected `auto`, `initialize` or `2026-07-28`",
            );
            diag = match did_you_mean(other, MODES) {
                Some(s) => diag.help(format!("did you mean `{s}`?")),
                None => diag.help(
                    "`auto` (the default: find out when connecting), `initialize` (the \
                     handshake of revisions up to 2025-11-25) or `2026-07-28` (`server/discover`; \
                     for servers that speak only the 2026 revision)",
                ),
            };
            cx.push(diag);
            None
        }
    }
}
