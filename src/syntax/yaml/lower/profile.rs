//! `profiles:` → [`ast::Profile`]s: which servers each uses, and their filter, rename, describe
//! and limit rules.
//!
//! A server's filter is "its `allow` list, minus its `deny` list". Rules are first-match-wins,
//! so each filter becomes its `deny` rules first, then its `allow` rules, all targeting exactly
//! that server. Every profile that uses a server also gets that server's `rateLimit`.

use super::condition;
use super::server::ServerLimit;
use crate::diag::{Diag, codes};
use crate::source::{Span, Spanned};
use crate::syntax::ast::{
    self, Action, ItemKind, Limit, LimitScope, Meta, NamePattern, Rule, RuleBody, Str, Target,
};
use crate::syntax::yaml::events::Style;
use crate::syntax::yaml::keys::Place;
use crate::syntax::yaml::read::Reader;
use crate::syntax::yaml::tree::{Node, Pair, Value};

pub fn profiles(
    r: &mut Reader,
    node: &Node,
    limits: &[ServerLimit],
    declared: &[Str],
) -> Vec<ast::Profile> {
    r.named(node, "a mapping of profile names to profiles")
        .into_iter()
        .map(|(name, pair)| profile(r, name, pair, limits, declared))
        .collect()
}

/// The profile a file with `servers` but no `profiles` serves: every server, unfiltered.
pub fn implicit_default(span: Span, limits: &[ServerLimit], declared: &[Str]) -> ast::Profile {
    ast::Profile {
        name: Spanned::new("default".to_string(), span),
        meta: Meta::default(),
        uses: Vec::new(),
        prefix: None,
        rules: Vec::new(),
        limits: server_limits(limits, &[], declared),
        span: span.into(),
    }
}

fn profile(
    r: &mut Reader,
    name: Str,
    pair: &Pair,
    limits: &[ServerLimit],
    declared: &[Str],
) -> ast::Profile {
    let mut p = ast::Profile {
        name,
        meta: Meta::default(),
        uses: Vec::new(),
        prefix: None,
        rules: Vec::new(),
        limits: Vec::new(),
        span: pair.span().into(),
    };
    let Some(f) = r.fields(&pair.value, Place::Profile) else {
        return p;
    };
    if let Some(m) = f
        .value("metadata")
        .and_then(|n| r.fields(n, Place::Metadata))
    {
        p.meta.name = m.value("name").and_then(|n| r.string(n, "a name"));
        p.meta.version = m.value("version").and_then(|n| r.string(n, "a version"));
        p.meta.description = m
            .value("description")
            .and_then(|n| r.string(n, "a description"));
    }
    let description = f
        .value("description")
        .and_then(|n| r.string(n, "a description"));
    p.meta.description = p.meta.description.take().or(description);
    p.prefix = f
        .value("prefix")
        .and_then(|n| r.string(n, "a prefix such as `{upstream}__`"));
    let mut own_limits = Vec::new();
    if let Some(servers) = f.value("servers") {
        if let Value::Seq(_) = servers.value {
            p.uses = r.list(servers, "a list of server names", |r, n| {
                r.string(n, "a server name")
            });
        } else {
            for (server, entry) in r.named(
                servers,
                "a mapping of server names to what the profile takes from each",
            ) {
                server_entry(r, &server, &entry.value, &mut p.rules, &mut own_limits);
                p.uses.push(server);
            }
        }
    }
    p.limits = server_limits(limits, &p.uses, declared);
    p.limits.append(&mut own_limits);
    p
}

/// The `rateLimit`s of the servers a profile uses (all declared servers when `uses` is empty).
fn server_limits(limits: &[ServerLimit], uses: &[Str], declared: &[Str]) -> Vec<Limit> {
    let order = if uses.is_empty() { declared } else { uses };
    order
        .iter()
        .filter_map(|u| limits.iter().find(|l| l.upstream.node == u.node))
        .map(|l| l.limit.clone())
        .collect()
}

fn server_entry(
    r: &mut Reader,
    server: &Str,
    node: &Node,
    rules: &mut Vec<Rule>,
    limits: &mut Vec<Limit>,
) {
    let Some(f) = r.fields(node, Place::ProfileServer) else {
        return;
    };
    for (key, pair) in f.iter() {
        match key {
            "tools" => filter(r, server, ItemKind::Tool, &pair.value, rules),
            "prompts" => filter(r, server, ItemKind::Prompt, &pair.value, rules),
            "resources" => filter(r, server, ItemKind::Resource, &pair.value, rules),
            "rename" | "describe" => per_kind(r, server, key == "rename", &pair.value, rules),
            _ => limit_rules(r, server, &pair.value, limits),
        }
    }
}

fn filter(r: &mut Reader, server: &Str, kind: ItemKind, node: &Node, rules: &mut Vec<Rule>) {
    if let Value::Seq(_) = node.value {
        r.wrong_type_help(
            node,
            "`allow` and/or `deny` lists",
            "write `{ allow: [...] }` to keep only these, or `{ deny: [...] }` to hide them",
        );
        return;
    }
    let Some(f) = r.fields(node, Place::Filter) else {
        return;
    };
    for (key, action) in [("deny", Action::Deny), ("allow", Action::Allow)] {
        let Some(pair) = f.get(key) else {
            continue;
        };
        // A single pattern with a condition counts as a one-item list, as a single name does.
        let entries = match &pair.value.value {
            Value::Map(_) => std::slice::from_ref(&pair.value),
            Value::Seq(items) => items.as_slice(),
            _ if pair.value.is_null() => &[],
            Value::Scalar(_) => std::slice::from_ref(&pair.value),
        };
        for entry in entries {
            let Some((pattern, condition)) = condition::pattern(r, entry) else {
                continue;
            };
            rules.push(Rule {
                kind,
                body: RuleBody::Filter {
                    action: Spanned::new(action, pair.key.span),
                    target: target(server, pattern),
                    condition,
                },
                span: entry.span.into(),
            });
        }
    }
}

/// A name written `/…/` is a regular expression; anything else is a glob.
fn target(server: &Str, pattern: Str) -> Target {
    let span = pattern.span;
    let text = pattern.node.as_str();
    let name = if text.len() >= 2 && text.starts_with('/') && text.ends_with('/') {
        NamePattern::Regex(Spanned::new(text[1..text.len() - 1].to_string(), span))
    } else {
        NamePattern::Glob(pattern)
    };
    Target {
        upstream: server.clone(),
        name,
        span: span.into(),
    }
}

/// `rename: { tools: { old: new } }` and `describe: { tools: { name: "text" } }`.
fn per_kind(r: &mut Reader, server: &Str, rename: bool, node: &Node, rules: &mut Vec<Rule>) {
    let Some(f) = r.fields(node, Place::PerKind) else {
        return;
    };
    for (key, pair) in f.iter() {
        let kind = match key {
            "tools" => ItemKind::Tool,
            "prompts" => ItemKind::Prompt,
            _ => ItemKind::Resource,
        };
        let expected = if rename {
            "a mapping of original names to public names"
        } else {
            "a mapping of names to descriptions"
        };
        for (name, entry) in r.named(&pair.value, expected) {
            let Some(text) = r.string(
                &entry.value,
                if rename {
                    "a new name"
                } else {
                    "a description"
                },
            ) else {
                continue;
            };
            let upstream = server.clone();
            let body = if rename {
                RuleBody::Rename {
                    upstream,
                    name,
                    to: text,
                }
            } else {
                RuleBody::Describe {
                    upstream,
                    name,
                    text,
                }
            };
            rules.push(Rule {
                kind,
                body,
                span: entry.span().into(),
            });
        }
    }
}

/// `limits: { calls: 100/min, tools: { "search_*": 10/s }, per: session }`.
fn limit_rules(r: &mut Reader, server: &Str, node: &Node, limits: &mut Vec<Limit>) {
    let Some(f) = r.fields(node, Place::Limits) else {
        return;
    };
    let per = f
        .value("per")
        .and_then(|n| r.string(n, "who shares the limit: `session` or `key`"));
    if let Some(p) = per
        .as_ref()
        .filter(|p| p.node.starts_with(|c: char| c.is_ascii_digit()))
    {
        r.push(
            Diag::error(codes::YAML_BAD_VALUE, "`per` in `limits` says who shares a limit, not a period")
                .at(p.span, "a period here")
                .help("put the period in the rate (`calls: 100/min`) and write `per: session` or `per: key`, or leave `per` out"),
        );
    }
    for (key, pair) in f.iter() {
        match key {
            "calls" => {
                if let Some(rate) = rate(r, &pair.value) {
                    limits.push(Limit {
                        scope: LimitScope::Upstream(server.clone()),
                        rate,
                        per: per.clone(),
                        span: pair.span().into(),
                    });
                }
            }
            "tools" => {
                for (name, entry) in
                    r.named(&pair.value, "a mapping of tool names or patterns to rates")
                {
                    if let Some(rate) = rate(r, &entry.value) {
                        limits.push(Limit {
                            scope: LimitScope::Tool(target(server, name)),
                            rate,
                            per: per.clone(),
                            span: entry.span().into(),
                        });
                    }
                }
            }
            _ => {}
        }
    }
}

/// A rate such as `100/min`, as written. A bare number is reported: it has no period.
fn rate(r: &mut Reader, node: &Node) -> Option<Str> {
    if let Value::Scalar(s) = &node.value
        && s.style == Style::Plain
        && yaml_serde::from_str::<u64>(&s.text).is_ok()
    {
        r.wrong_type_help(
            node,
            "a rate such as `100/min`",
            &format!("add the period: `{}/min`", s.text),
        );
        return None;
    }
    r.string(node, "a rate such as `100/min`")
}
