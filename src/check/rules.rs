//! Pass 4: a profile's rules → its [`RuleTable`], with rule analysis.
//!
//! Compiles targets into [`Matcher`]s (globs with `globset`, `*` crossing `/`; regexes with
//! `regex`, unanchored), records each rule's text and origin for `explain`, and reports what can
//! be known before any upstream is asked: filter rules an earlier rule shadows (warning), two
//! renames onto one public name, an item renamed or described twice, and renames or describes of
//! upstreams outside the profile. Unknown upstream names were reported by `resolve`; rules that
//! name one are skipped here.

use globset::{GlobBuilder, GlobMatcher};
use regex::Regex;

use super::declare::Decls;
use super::{Cx, cover, errors};
use crate::plan::UpstreamId;
use crate::plan::rules::{
    Action, Describe, FilterRule, ItemKind, Matcher, NameMatcher, NameRule, Rename, RuleRef,
    RuleTable,
};
use crate::source::Span;
use crate::syntax::ast;

/// Whether an upstream reference is a glob over names rather than one name.
pub fn is_pattern(s: &str) -> bool {
    s.contains(['*', '?', '[', ']', '{', '}', '\\'])
}

pub(super) fn item_kind(kind: ast::ItemKind) -> ItemKind {
    match kind {
        ast::ItemKind::Tool => ItemKind::Tool,
        ast::ItemKind::Prompt => ItemKind::Prompt,
        ast::ItemKind::Resource => ItemKind::Resource,
    }
}

/// The profile a rule list belongs to.
pub(super) struct Scope<'p> {
    pub profile: &'p str,
    pub upstreams: &'p [UpstreamId],
    /// Whether the profile's `use` names an upstream that is not declared (reported by
    /// `resolve`). Then "the profile does not use X" is not reported: X is most likely the name
    /// that was misspelt, and the reader has already been told.
    pub unresolved_uses: bool,
}

impl Scope<'_> {
    fn uses(&self, upstream: &str) -> bool {
        self.upstreams.iter().any(|u| u.as_str() == upstream)
    }

    /// Reports `upstream` (declared, named at `at`) as outside the profile, unless that would
    /// only repeat an unknown name in `use`.
    pub(super) fn not_in_profile(&self, upstream: &str, at: Span, is_error: bool, cx: &mut Cx<'_>) {
        if !self.unresolved_uses {
            cx.push(errors::upstream_not_in_profile(
                upstream,
                self.profile,
                at,
                is_error,
            ));
        }
    }
}

/// A filter rule with what the analysis needs from its source.
struct Compiled<'a> {
    rule: FilterRule,
    target: &'a ast::Target,
    span: Span,
}

pub(super) fn build_table(
    rules: &[ast::Rule],
    prefix: Option<String>,
    scope: &Scope<'_>,
    decls: &Decls<'_>,
    cx: &mut Cx<'_>,
) -> RuleTable {
    let mut filters: Vec<Compiled<'_>> = Vec::new();
    // With the span of the rule and of its new name.
    let mut renames: Vec<(NameRule<Rename>, Span, Span)> = Vec::new();
    let mut describes: Vec<(NameRule<Describe>, Span)> = Vec::new();
    for rule in rules {
        let ast::Rule { kind, body, span } = rule;
        let text = rule_text(rule);
        let rule_ref = RuleRef {
            text: text.into(),
            origin: cx.location(**span),
        };
        let kind = item_kind(*kind);
        match body {
            ast::RuleBody::Filter {
                action,
                target,
                condition,
            } => {
                let condition = match condition {
                    None => None,
                    Some(c) => match super::auth::condition(c, cx) {
                        Some(c) => Some(c),
                        None => continue,
                    },
                };
                let upstream = &target.upstream.node;
                if !is_pattern(upstream) && !scope.uses(upstream) {
                    if decls.upstreams.contains_key(upstream.as_str()) {
                        scope.not_in_profile(upstream, target.upstream.span, false, cx);
                    }
                    continue;
                }
                let Some(matcher) = compile_target(target, cx) else {
                    continue;
                };
                let action = match action.node {
                    ast::Action::Allow => Action::Allow,
                    ast::Action::Deny => Action::Deny,
                };
                let rule = FilterRule {
                    action,
                    kind,
                    matcher,
                    condition,
                    rule: rule_ref,
                };
                filters.push(Compiled {
                    rule,
                    target,
                    span: **span,
                });
            }
            ast::RuleBody::Rename { upstream, name, to } => {
                if let Some(upstream) = named_upstream(upstream, scope, decls, cx) {
                    let value = Rename {
                        to: to.node.as_str().into(),
                        rule: rule_ref,
                    };
                    let rule = NameRule {
                        kind,
                        upstream,
                        name: name.node.clone(),
                        value,
                    };
                    renames.push((rule, **span, to.span));
                }
            }
            ast::RuleBody::Describe {
                upstream,
                name,
                text,
            } => {
                if let Some(upstream) = named_upstream(upstream, scope, decls, cx) {
                    let value = Describe {
                        text: text.node.as_str().into(),
                        rule: rule_ref,
                    };
                    let rule = NameRule {
                        kind,
                        upstream,
                        name: name.node.clone(),
                        value,
                    };
                    describes.push((rule, **span));
                }
            }
        }
    }
    report_shadowed(&filters, cx);
    check_renames(&renames, cx);
    check_twice(describes.iter().map(|(r, s)| (r, *s)), "describe", cx);
    RuleTable::new(
        filters.into_iter().map(|c| c.rule).collect(),
        renames.into_iter().map(|(r, _, _)| r).collect(),
        describes.into_iter().map(|(r, _)| r).collect(),
        prefix,
        scope.upstreams,
    )
}

/// The upstream of a rename or describe, if declared (else already reported) and in the profile.
fn named_upstream(
    upstream: &ast::Str,
    scope: &Scope<'_>,
    decls: &Decls<'_>,
    cx: &mut Cx<'_>,
) -> Option<UpstreamId> {
    if !decls.upstreams.contains_key(upstream.node.as_str()) {
        return None;
    }
    if !scope.uses(&upstream.node) {
        scope.not_in_profile(&upstream.node, upstream.span, true, cx);
        return None;
    }
    Some(UpstreamId::new(&upstream.node))
}

fn check_renames(renames: &[(NameRule<Rename>, Span, Span)], cx: &mut Cx<'_>) {
    check_twice(renames.iter().map(|(r, s, _)| (r, *s)), "rename", cx);
    let mut seen: Vec<(ItemKind, &str, Span)> = Vec::new();
    for (rule, _, at) in renames {
        let to = &*rule.value.to;
        match seen.iter().find(|(k, t, _)| *k == rule.kind && *t == to) {
            Some((_, _, first)) => cx.push(errors::name_collision(to, *at, *first)),
            None => seen.push((rule.kind, to, *at)),
        }
    }
}

/// The same item renamed (or described) twice: only one can apply.
fn check_twice<'r, T: 'r>(
    rules: impl Iterator<Item = (&'r NameRule<T>, Span)>,
    verb: &str,
    cx: &mut Cx<'_>,
) {
    let mut seen: Vec<(&NameRule<T>, Span)> = Vec::new();
    for (rule, span) in rules {
        let same = |(r, _): &&(&NameRule<T>, Span)| {
            r.kind == rule.kind && r.upstream == rule.upstream && r.name == rule.name
        };
        match seen.iter().find(same) {
            Some((_, first)) => {
                let what = format!(
                    "a {verb} of {} `{}/{}`",
                    rule.kind, rule.upstream, rule.name
                );
                cx.push(errors::duplicate_entry(&what, span, *first));
            }
            None => seen.push((rule, span)),
        }
    }
}

/// Compiles `UPSTREAM/NAME` or `UPSTREAM matching /regex/`; reports and returns `None` on error.
pub(super) fn compile_target(target: &ast::Target, cx: &mut Cx<'_>) -> Option<Matcher> {
    let ast::Target {
        upstream,
        name,
        span: _,
    } = target;
    let upstream_glob = compile_glob(upstream, cx);
    let name = match name {
        ast::NamePattern::Glob(g) => compile_glob(g, cx).map(NameMatcher::Glob),
        ast::NamePattern::Regex(r) => compile_regex(r, cx).map(NameMatcher::Regex),
    };
    Some(Matcher::new(upstream_glob?, name?, target_text(target)))
}

fn compile_glob(glob: &ast::Str, cx: &mut Cx<'_>) -> Option<GlobMatcher> {
    if let Some(g) = cx.globs.get(&glob.node) {
        return Some(g.clone());
    }
    match GlobBuilder::new(&glob.node)
        .literal_separator(false)
        .build()
    {
        Ok(g) => {
            let m = g.compile_matcher();
            cx.globs.insert(glob.node.clone(), m.clone());
            Some(m)
        }
        Err(e) => {
            cx.push(errors::bad_glob(glob.span, &e.kind().to_string()));
            None
        }
    }
}

fn compile_regex(re: &ast::Str, cx: &mut Cx<'_>) -> Option<Regex> {
    if let Some(r) = cx.regexes.get(&re.node) {
        return Some(r.clone());
    }
    let err = match Regex::new(&re.node) {
        Ok(r) => {
            cx.regexes.insert(re.node.clone(), r.clone());
            return Some(r);
        }
        Err(e) => e,
    };
    // The parser of the regex crate knows where the mistake is; point there when we can.
    let located = match regex_syntax::Parser::new().parse(&re.node) {
        Err(regex_syntax::Error::Parse(e)) => Some((e.kind().to_string(), *e.span())),
        Err(regex_syntax::Error::Translate(e)) => Some((e.kind().to_string(), *e.span())),
        _ => None,
    };
    let (reason, at) = match located {
        Some((reason, span)) => {
            let end = span
                .end
                .offset
                .max(span.start.offset + 1)
                .min(re.node.len());
            (reason, cx.sub_span(re, span.start.offset.min(end)..end))
        }
        None => (
            match err {
                regex::Error::CompiledTooBig(limit) => {
                    format!("compiles to more than {limit} bytes")
                }
                other => other.to_string(),
            },
            re.span,
        ),
    };
    cx.push(errors::bad_regex(at, &reason));
    None
}

/// Warns about each filter rule that an earlier rule of the same kind already decides.
fn report_shadowed(filters: &[Compiled<'_>], cx: &mut Cx<'_>) {
    for (j, later) in filters.iter().enumerate() {
        let earlier = filters[..j].iter().find(|e| {
            e.rule.kind == later.rule.kind
                && e.rule.condition.is_none()
                && target_covers(e.target, later.target)
        });
        if let Some(e) = earlier {
            let lang = cx.lang(later.span);
            cx.push(errors::shadowed_rule(
                &later.rule.rule.text,
                later.span,
                &e.rule.rule.text,
                e.span,
                lang,
            ));
        }
    }
}

fn target_covers(earlier: &ast::Target, later: &ast::Target) -> bool {
    use ast::NamePattern::{Glob, Regex};
    cover::covers(&earlier.upstream.node, &later.upstream.node)
        && match (&earlier.name, &later.name) {
            (Glob(a), Glob(b)) => cover::covers(&a.node, &b.node),
            (Glob(a), Regex(_)) => cover::matches_everything(&a.node),
            (Regex(a), Regex(b)) => a.node == b.node,
            (Regex(_), Glob(_)) => false,
        }
}

/// `files/*write*` or `* matching /^admin_/`.
pub(super) fn target_text(target: &ast::Target) -> String {
    match &target.name {
        ast::NamePattern::Glob(g) => format!("{}/{}", target.upstream.node, g.node),
        ast::NamePattern::Regex(r) => format!("{} matching /{}/", target.upstream.node, r.node),
    }
}

/// The rule as a reader would write it: `deny tool files/*write*`.
pub(super) fn rule_text(rule: &ast::Rule) -> String {
    let kind = rule.kind.keyword();
    match &rule.body {
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
                text.push_str(&crate::syntax::print::condition(c));
            }
            text
        }
        ast::RuleBody::Rename { upstream, name, to } => {
            format!(
                "rename {kind} {}/{} -> {}",
                upstream.node, name.node, to.node
            )
        }
        ast::RuleBody::Describe {
            upstream,
            name,
            text,
        } => format!(
            "describe {kind} {}/{} {:?}",
            upstream.node, name.node, text.node
        ),
    }
}
