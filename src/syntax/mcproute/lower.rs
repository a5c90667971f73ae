//! Pest pairs → AST, one `lower_*` function per construct.
//!
//! The grammar fixes the shape of every pair, so these functions mostly walk children in order.
//! They also report what the grammar cannot see: a setting given twice in a block, a bad escape
//! in a string, a number too large. Catch-all pairs are handed to [`recover`]. A shape the
//! grammar rules out is reported with [`Cx::internal`], never a panic.

use pest::iterators::Pair;

use super::keywords::Place;
use super::{Cx, Rule, blocks, profile, recover, settings, strings};
use crate::diag::{Diag, codes};
use crate::source::{Span, Spanned};
use crate::syntax::ast::{self, Item, Str};

type P<'i> = Pair<'i, Rule>;

/// Lowers the `file` pair: every item in order. `expose-per-upstream` becomes an endpoint of
/// the file's `default-profile` (see [`lower_expose`]).
pub(super) fn lower_file(cx: &mut Cx<'_>, file: P<'_>) -> ast::File {
    let mut items = Vec::new();
    let mut exposes = Vec::new();
    let mut cascade = recover::Cascade::default();
    for pair in file.into_inner() {
        let span = cx.span_of(&pair);
        let rule = pair.as_rule();
        let item = match rule {
            Rule::EOI => continue,
            Rule::bad_item => {
                recover::bad_item(cx, &mut cascade, pair);
                continue;
            }
            Rule::upstream_block => lower_upstream(cx, pair).map(Item::Upstream),
            Rule::profile_block => profile::lower_profile(cx, pair).map(Item::Profile),
            Rule::logging_block => settings::lower_logging(cx, pair).map(Item::Logging),
            Rule::admin_block => settings::lower_admin(cx, pair).map(Item::Admin),
            Rule::limits_block => settings::lower_limits(cx, pair).map(Item::Limits),
            Rule::cluster_block => settings::lower_cluster(cx, pair).map(Item::Cluster),
            Rule::oauth_block => super::auth::lower_oauth(cx, pair).map(Item::OAuth),
            Rule::audit_block => super::auth::lower_audit(cx, pair).map(Item::Audit),
            Rule::listen => lower_listen(cx, pair).map(Item::Listen),
            Rule::default_profile => lower_default_profile(cx, pair).map(Item::DefaultProfile),
            Rule::endpoint => lower_endpoint(cx, pair).map(Item::Endpoint),
            Rule::expose => lower_expose(cx, pair).map(Item::Endpoint),
            _ => None,
        };
        match item {
            Some(item) => {
                if rule == Rule::expose {
                    exposes.push(items.len());
                }
                items.push(item);
            }
            None => cx.internal(span, "item"),
        }
    }
    fill_default_profile(&mut items, &exposes);
    ast::File { items }
}

/// `expose-per-upstream` is served by the default profile: the name written by
/// `default-profile` in the same file, else the profile literally named `default` (the checker
/// reports it if there is none). A `default-profile` in another file is not seen here.
fn fill_default_profile(items: &mut [Item], exposes: &[usize]) {
    let default = items.iter().find_map(|item| match item {
        Item::DefaultProfile(name) => Some(name.node.clone()),
        _ => None,
    });
    let Some(default) = default else { return };
    for &i in exposes {
        if let Some(Item::Endpoint(endpoint)) = items.get_mut(i) {
            endpoint.profile.node = default.clone();
        }
    }
}

// ─── values ──────────────────────────────────────────────────────────────────────────────────

/// A name or value pair as a string: quoted strings are decoded (bad escapes reported at their
/// place), bare tokens are taken as written. The span is the whole token, quotes included.
pub(super) fn str_of(cx: &mut Cx<'_>, pair: P<'_>) -> Str {
    let span = cx.span_of(&pair);
    if pair.as_rule() != Rule::string {
        return Spanned::new(pair.as_str().to_owned(), span);
    }
    let Some(inner) = pair.into_inner().next() else {
        return Spanned::new(String::new(), span);
    };
    let base = inner.as_span().start();
    let (value, bad) = strings::unescape_string(inner.as_str());
    for b in bad {
        let at = cx.span(base + b.range.start, base + b.range.end);
        let message = match cx.slice(at) {
            written if b.unknown && !written.is_empty() => {
                format!("`{written}` is not an escape sequence")
            }
            _ => format!("bad escape in string: {}", b.why),
        };
        cx.push(
            Diag::error(codes::BAD_ESCAPE, message)
                .at(at, "not a valid escape")
                .help(r#"strings know \" \\ \n \t \r and \u{HEX}; write \\ for a backslash"#),
        );
    }
    Spanned::new(value, span)
}

/// The value after a setting's keyword (`timeout 30s` → `30s`).
pub(super) fn value_of(cx: &mut Cx<'_>, pair: P<'_>) -> Option<Str> {
    let value = pair.into_inner().nth(1)?;
    Some(str_of(cx, value))
}

pub(super) fn number_of(cx: &mut Cx<'_>, pair: P<'_>) -> Option<Spanned<u64>> {
    let value = pair.into_inner().nth(1)?;
    let span = cx.span_of(&value);
    match value.as_str().parse::<u64>() {
        Ok(n) => Some(Spanned::new(n, span)),
        Err(_) => {
            cx.push(
                Diag::error(codes::BAD_NUMBER, "this number is too large")
                    .at(span, "does not fit in 64 bits"),
            );
            None
        }
    }
}

pub(super) fn bool_of(cx: &Cx<'_>, pair: P<'_>) -> Option<Spanned<bool>> {
    let value = pair.into_inner().nth(1)?;
    Some(Spanned::new(value.as_str() == "true", cx.span_of(&value)))
}

// ─── top-level line items ────────────────────────────────────────────────────────────────────

fn lower_listen(cx: &mut Cx<'_>, pair: P<'_>) -> Option<ast::Listen> {
    let span = cx.span_of(&pair);
    let mut it = pair.into_inner().skip(1);
    let addr = str_of(cx, it.next()?);
    let origins = match it.next() {
        Some(origins) => origins
            .into_inner()
            .skip(1)
            .map(|o| str_of(cx, o))
            .collect(),
        None => Vec::new(),
    };
    Some(ast::Listen {
        addr,
        origins,
        span: span.into(),
    })
}

fn lower_default_profile(cx: &mut Cx<'_>, pair: P<'_>) -> Option<Str> {
    value_of(cx, pair)
}

fn lower_endpoint(cx: &mut Cx<'_>, pair: P<'_>) -> Option<ast::Endpoint> {
    let span = cx.span_of(&pair);
    let mut it = pair.into_inner();
    let _kw = it.next()?;
    let path = str_of(cx, it.next()?);
    let _arrow = it.next()?;
    let profile = str_of(cx, it.next()?);
    let (mut when, mut auth, mut sse) = (None, Vec::new(), None);
    for part in it {
        match part.as_rule() {
            Rule::condition => when = Some(lower_condition(cx, part)?),
            Rule::endpoint_sse => sse = part.into_inner().nth(1).map(|p| str_of(cx, p)),
            Rule::endpoint_auth => {
                let span = cx.span_of(&part);
                let parts: Vec<P<'_>> = part.into_inner().skip(1).collect();
                let mut words = parts.into_iter().map(|p| str_of(cx, p));
                let kind = words.next()?;
                let (name, value) = match (words.next()?, words.next()) {
                    (name, Some(value)) => (Some(name), value),
                    (value, None) => (None, value),
                };
                auth.push(ast::EndpointAuth {
                    kind,
                    name,
                    value,
                    span: span.into(),
                });
            }
            _ => {}
        }
    }
    Some(ast::Endpoint {
        path,
        profile,
        when,
        auth,
        sse,
        span: span.into(),
    })
}

fn lower_condition(cx: &mut Cx<'_>, pair: P<'_>) -> Option<ast::Condition> {
    let span = cx.span_of(&pair);
    let mut it = pair.into_inner().skip(2);
    let name = str_of(cx, it.next()?);
    match it.nth(1) {
        Some(value) => Some(ast::Condition::HeaderEquals {
            name,
            value: str_of(cx, value),
            span: span.into(),
        }),
        None => Some(ast::Condition::HeaderPresent {
            name,
            span: span.into(),
        }),
    }
}

/// `expose-per-upstream PATH` is an endpoint of the default profile; the profile name is filled
/// in by [`fill_default_profile`], with the span of the keyword.
fn lower_expose(cx: &mut Cx<'_>, pair: P<'_>) -> Option<ast::Endpoint> {
    let span = cx.span_of(&pair);
    let mut it = pair.into_inner();
    let kw = it.next()?;
    let profile = Spanned::new("default".to_owned(), cx.span_of(&kw));
    let path = str_of(cx, it.next()?);
    Some(ast::Endpoint {
        path,
        profile,
        when: None,
        auth: Vec::new(),
        sse: None,
        span: span.into(),
    })
}

// ─── upstream ────────────────────────────────────────────────────────────────────────────────

fn lower_upstream(cx: &mut Cx<'_>, pair: P<'_>) -> Option<ast::Upstream> {
    let span = cx.span_of(&pair);
    let mut it = pair.into_inner();
    let kw = it.next()?;
    let name = str_of(cx, it.next()?);
    let mut block = blocks::Block::new(cx.span_of(&kw).to(name.span), "upstream");
    let mut up = ast::Upstream {
        name,
        transport: None,
        headers: Vec::new(),
        env: Vec::new(),
        cwd: None,
        timeout: None,
        connect_timeout: None,
        session: None,
        protocol: None,
        auth: None,
        span: span.into(),
    };
    for p in it {
        let at = cx.span_of(&p);
        match p.as_rule() {
            Rule::http | Rule::sse | Rule::stdio => {
                let Some(transport) = lower_transport(cx, p) else {
                    cx.internal(at, "transport");
                    continue;
                };
                if block.first(cx, "transport".into(), "the transport", at) {
                    up.transport = Some(transport);
                }
            }
            Rule::header => {
                let Some(kv) = lower_key_value(cx, p) else {
                    cx.internal(at, "header");
                    continue;
                };
                let key = format!("header {}", kv.key.to_ascii_lowercase());
                if block.first(cx, key, &format!("header `{}`", kv.key.node), at) {
                    up.headers.push(kv);
                }
            }
            Rule::env => {
                let Some(kv) = lower_key_value(cx, p) else {
                    cx.internal(at, "env");
                    continue;
                };
                let key = format!("env {}", kv.key.node);
                if block.first(cx, key, &format!("env `{}`", kv.key.node), at) {
                    up.env.push(kv);
                }
            }
            Rule::cwd => block.set(cx, &mut up.cwd, "cwd", p),
            Rule::timeout => block.set(cx, &mut up.timeout, "timeout", p),
            Rule::connect_timeout => block.set(cx, &mut up.connect_timeout, "connect-timeout", p),
            Rule::session => block.set(cx, &mut up.session, "session", p),
            Rule::protocol => block.set(cx, &mut up.protocol, "protocol", p),
            Rule::upstream_auth => {
                let Some(auth) = lower_upstream_auth(cx, p) else {
                    cx.internal(at, "auth");
                    continue;
                };
                if block.first(cx, "auth".into(), "`auth`", at) {
                    up.auth = Some(auth);
                }
            }
            _ => block.other(cx, p, Place::Upstream),
        }
    }
    Some(up)
}

fn lower_transport(cx: &mut Cx<'_>, pair: P<'_>) -> Option<Spanned<ast::Transport>> {
    let span = cx.span_of(&pair);
    let rule = pair.as_rule();
    let mut values = pair.into_inner().skip(1);
    let first = str_of(cx, values.next()?);
    let transport = match rule {
        Rule::http => ast::Transport::Http { url: first },
        Rule::sse => ast::Transport::Sse { url: first },
        _ => ast::Transport::Stdio {
            command: first,
            args: values.map(|v| str_of(cx, v)).collect(),
        },
    };
    Some(Spanned::new(transport, span))
}

/// `auth oauth FLOW NAME VALUE …` inside an upstream block.
fn lower_upstream_auth(cx: &mut Cx<'_>, pair: P<'_>) -> Option<ast::UpstreamAuth> {
    let span = cx.span_of(&pair);
    let mut it = pair.into_inner().skip(2);
    let flow = str_of(cx, it.next()?);
    let mut params = Vec::new();
    for param in it {
        let at = cx.span_of(&param);
        let mut kv = param.into_inner();
        let key = str_of(cx, kv.next()?);
        let value = str_of(cx, kv.next()?);
        params.push(ast::KeyValue {
            key,
            value,
            span: at.into(),
        });
    }
    Some(ast::UpstreamAuth {
        flow,
        params,
        span: span.into(),
    })
}

fn lower_key_value(cx: &mut Cx<'_>, pair: P<'_>) -> Option<ast::KeyValue> {
    let span = cx.span_of(&pair);
    let mut it = pair.into_inner().skip(1);
    let key = str_of(cx, it.next()?);
    let value = str_of(cx, it.nth(1)?);
    Some(ast::KeyValue {
        key,
        value,
        span: span.into(),
    })
}

/// Sets a once-only setting read by `read`, reporting a second one.
pub(super) fn set_with<'i, T>(
    cx: &mut Cx<'_>,
    block: &mut blocks::Block,
    slot: &mut Option<T>,
    word: &str,
    pair: P<'i>,
    read: impl FnOnce(&mut Cx<'_>, P<'i>) -> Option<T>,
) {
    let at: Span = cx.span_of(&pair);
    let Some(value) = read(cx, pair) else { return };
    if block.first(cx, word.to_owned(), &format!("`{word}`"), at) {
        *slot = Some(value);
    }
}
