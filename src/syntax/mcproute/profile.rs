//! Lowering of `profile` blocks: `meta`, `use`, `prefix`, the filter/rename/describe rules
//! with their targets, and `limit`s. Rules keep the order they were written in.

use pest::iterators::Pair;

use super::keywords::Place;
use super::lower::{str_of, value_of};
use super::{Cx, Rule, blocks, strings};
use crate::source::Spanned;
use crate::syntax::ast::{self, Str};

type P<'i> = Pair<'i, Rule>;

pub(super) fn lower_profile(cx: &mut Cx<'_>, pair: P<'_>) -> Option<ast::Profile> {
    let span = cx.span_of(&pair);
    let mut it = pair.into_inner();
    let kw = it.next()?;
    let name = str_of(cx, it.next()?);
    let mut block = blocks::Block::new(cx.span_of(&kw).to(name.span), "profile");
    let mut profile = ast::Profile {
        name,
        meta: ast::Meta::default(),
        uses: Vec::new(),
        prefix: None,
        rules: Vec::new(),
        limits: Vec::new(),
        span: span.into(),
    };
    for p in it {
        let at = cx.span_of(&p);
        match p.as_rule() {
            Rule::meta => lower_meta(cx, &mut block, &mut profile.meta, p),
            Rule::use_list => {
                let names = p
                    .into_inner()
                    .skip(1)
                    .filter(|n| n.as_rule() != Rule::comma);
                let names: Vec<Str> = names.map(|n| str_of(cx, n)).collect();
                if block.first(cx, "use".into(), "`use`", at) {
                    profile.uses = names;
                }
            }
            Rule::prefix => block.set(cx, &mut profile.prefix, "prefix", p),
            Rule::filter_rule => {
                let rule = lower_filter(cx, p);
                push_or_report(cx, &mut profile.rules, rule, at);
            }
            Rule::rename_rule | Rule::describe_rule => {
                let rule = lower_rename_or_describe(cx, p);
                push_or_report(cx, &mut profile.rules, rule, at);
            }
            Rule::limit => {
                let limit = lower_limit(cx, p);
                push_or_report(cx, &mut profile.limits, limit, at);
            }
            _ => block.other(cx, p, Place::Profile),
        }
    }
    Some(profile)
}

/// Keeps a lowered rule or limit; a shape the grammar rules out is reported, not fatal.
fn push_or_report<T>(cx: &mut Cx<'_>, list: &mut Vec<T>, item: Option<T>, at: crate::source::Span) {
    match item {
        Some(item) => list.push(item),
        None => cx.internal(at, "rule"),
    }
}

/// `meta name "…" version "…"`: each key at most once per profile, across `meta` lines.
fn lower_meta(cx: &mut Cx<'_>, block: &mut blocks::Block, meta: &mut ast::Meta, pair: P<'_>) {
    for meta_pair in pair.into_inner().skip(1) {
        let at = cx.span_of(&meta_pair);
        let mut kv = meta_pair.into_inner();
        let (Some(key), Some(value)) = (kv.next(), kv.next()) else {
            cx.internal(at, "meta entry");
            continue;
        };
        let (slot, word) = match key.as_rule() {
            Rule::kw_name => (&mut meta.name, "name"),
            Rule::kw_version => (&mut meta.version, "version"),
            _ => (&mut meta.description, "description"),
        };
        let value = str_of(cx, value);
        if block.first(cx, format!("meta {word}"), &format!("`meta {word}`"), at) {
            *slot = Some(value);
        }
    }
}

fn lower_kind(pair: &P<'_>) -> ast::ItemKind {
    match pair.clone().into_inner().next().map(|k| k.as_rule()) {
        Some(Rule::kw_prompt) => ast::ItemKind::Prompt,
        Some(Rule::kw_resource) => ast::ItemKind::Resource,
        _ => ast::ItemKind::Tool,
    }
}

fn lower_filter(cx: &mut Cx<'_>, pair: P<'_>) -> Option<ast::Rule> {
    let span = cx.span_of(&pair);
    let mut it = pair.into_inner();
    let action = it.next()?;
    let action = Spanned::new(
        match action.as_rule() {
            Rule::kw_deny => ast::Action::Deny,
            _ => ast::Action::Allow,
        },
        cx.span_of(&action),
    );
    let kind = lower_kind(&it.next()?);
    let target = lower_target(cx, it.next()?)?;
    let condition = match it.next() {
        Some(c) => Some(lower_rule_condition(cx, c)?),
        None => None,
    };
    Some(ast::Rule {
        kind,
        body: ast::RuleBody::Filter {
            action,
            target,
            condition,
        },
        span: span.into(),
    })
}

/// `when|unless SOURCE [SUBJECT] [OP VALUE]`.
fn lower_rule_condition(cx: &mut Cx<'_>, pair: P<'_>) -> Option<ast::RuleCondition> {
    let span = cx.span_of(&pair);
    let mut it = pair.into_inner();
    let negate = it.next()?.as_rule() == Rule::kw_unless;
    let source = str_of(cx, it.next()?.into_inner().next()?);
    let (mut subject, mut test) = (None, None);
    while let Some(part) = it.next() {
        match part.as_rule() {
            Rule::cond_subject => subject = Some(str_of(cx, part.into_inner().next()?)),
            Rule::cond_op => {
                let op = Spanned::new(part.as_str().to_owned(), cx.span_of(&part));
                test = Some((op, str_of(cx, it.next()?)));
            }
            _ => return None,
        }
    }
    Some(ast::RuleCondition {
        negate,
        source,
        subject,
        test,
        span: span.into(),
    })
}

/// `UPSTREAM/NAME` (globs) or `UPSTREAM matching /REGEX/`.
fn lower_target(cx: &mut Cx<'_>, pair: P<'_>) -> Option<ast::Target> {
    let span = cx.span_of(&pair);
    let rule = pair.as_rule();
    let mut it = pair.into_inner();
    let upstream = str_of(cx, it.next()?);
    let pattern = it.nth(1)?;
    let name = match rule {
        Rule::regex_target => ast::NamePattern::Regex(regex_of(cx, pattern)),
        _ => ast::NamePattern::Glob(str_of(cx, pattern)),
    };
    Some(ast::Target {
        upstream,
        name,
        span: span.into(),
    })
}

/// `rename KIND UPSTREAM/NAME -> NEW` and `describe KIND UPSTREAM/NAME "text"`.
fn lower_rename_or_describe(cx: &mut Cx<'_>, pair: P<'_>) -> Option<ast::Rule> {
    let span = cx.span_of(&pair);
    let rule = pair.as_rule();
    let mut it = pair.into_inner().skip(1);
    let kind = lower_kind(&it.next()?);
    let mut item = it.next()?.into_inner();
    let upstream = str_of(cx, item.next()?);
    let name = str_of(cx, item.nth(1)?);
    let body = if rule == Rule::rename_rule {
        let to = str_of(cx, it.nth(1)?);
        ast::RuleBody::Rename { upstream, name, to }
    } else {
        let text = str_of(cx, it.next()?);
        ast::RuleBody::Describe {
            upstream,
            name,
            text,
        }
    };
    Some(ast::Rule {
        kind,
        body,
        span: span.into(),
    })
}

fn lower_limit(cx: &mut Cx<'_>, pair: P<'_>) -> Option<ast::Limit> {
    let span = cx.span_of(&pair);
    let form = pair.into_inner().nth(1)?;
    let tool = form.as_rule() == Rule::limit_tool;
    let mut it = form.into_inner();
    let scope = if tool {
        ast::LimitScope::Tool(lower_target(cx, it.nth(1)?)?)
    } else {
        ast::LimitScope::Upstream(str_of(cx, it.next()?))
    };
    let rate = str_of(cx, it.next()?);
    let per = match it.next() {
        Some(per) => Some(value_of(cx, per)?),
        None => None,
    };
    Some(ast::Limit {
        scope,
        rate,
        per,
        span: span.into(),
    })
}

/// A regex: a `/…/` literal (only `\/` is unescaped) or a quoted string.
fn regex_of(cx: &mut Cx<'_>, pair: P<'_>) -> Str {
    let span = cx.span_of(&pair);
    if pair.as_rule() != Rule::regex {
        return str_of(cx, pair);
    }
    let inner = pair.into_inner().next().map_or("", |p| p.as_str());
    Spanned::new(strings::unescape_regex(inner), span)
}
