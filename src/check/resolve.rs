//! Pass 3: every name used is declared; each profile's upstreams; the default profile.
//!
//! Reports unknown upstreams (in `use`, in rule targets that name one upstream rather than a
//! glob, in rename, describe and limit) and unknown profiles (in endpoints and
//! `default-profile`), each with a "did you mean". Unknown names are left out of the result, so
//! later passes see only declared ones and do not report them again.

use indexmap::IndexMap;

use super::declare::Decls;
use super::rules::is_pattern;
use super::{Cx, errors};
use crate::diag::did_you_mean;
use crate::plan::{ProfileName, UpstreamId};
use crate::source::Span;
use crate::syntax::ast;

/// The name of the profile synthesized when none is declared, and preferred as the default.
pub(super) const DEFAULT_PROFILE: &str = "default";

pub(super) struct Resolved {
    /// Every profile of the plan (a synthesized `default` when none is declared) with its
    /// upstreams in priority order.
    pub profiles: IndexMap<ProfileName, Vec<UpstreamId>>,
    /// `None` only when that is an error (reported).
    pub default_profile: Option<ProfileName>,
}

pub(super) fn resolve(decls: &Decls<'_>, cx: &mut Cx<'_>) -> Resolved {
    let all: Vec<UpstreamId> = decls.upstreams.keys().map(UpstreamId::new).collect();
    let mut profiles = IndexMap::new();
    for (name, profile) in &decls.profiles {
        profiles.insert(
            ProfileName::new(name),
            profile_upstreams(decls, profile, &all, cx),
        );
        check_rule_names(decls, profile, cx);
    }
    if decls.profiles.is_empty() {
        profiles.insert(ProfileName::new(DEFAULT_PROFILE), all);
    }
    for ep in &decls.endpoints {
        if !implies_default(decls, ep, cx) {
            check_profile(decls, &ep.profile, cx);
        }
    }
    let default_profile = default_profile(decls, &profiles, cx);
    Resolved {
        profiles,
        default_profile,
    }
}

fn profile_upstreams(
    decls: &Decls<'_>,
    profile: &ast::Profile,
    all: &[UpstreamId],
    cx: &mut Cx<'_>,
) -> Vec<UpstreamId> {
    if profile.uses.is_empty() {
        return all.to_vec();
    }
    let mut out: Vec<UpstreamId> = Vec::new();
    let mut seen: Vec<(&str, Span)> = Vec::new();
    for name in &profile.uses {
        if let Some((_, first)) = seen.iter().find(|(n, _)| *n == name.node) {
            let what = format!("upstream `{}` in `use`", name.node);
            cx.push(errors::duplicate_entry(&what, name.span, *first));
            continue;
        }
        seen.push((&name.node, name.span));
        if check_upstream(decls, name, cx) {
            out.push(UpstreamId::new(&name.node));
        }
    }
    out
}

/// Names in rules that must be declared upstreams: concrete rule targets, renames, describes and
/// limits.
fn check_rule_names(decls: &Decls<'_>, profile: &ast::Profile, cx: &mut Cx<'_>) {
    for rule in &profile.rules {
        match &rule.body {
            ast::RuleBody::Filter { target, .. } => check_target(decls, target, cx),
            ast::RuleBody::Rename { upstream, .. } | ast::RuleBody::Describe { upstream, .. } => {
                check_upstream(decls, upstream, cx);
            }
        }
    }
    for limit in &profile.limits {
        match &limit.scope {
            ast::LimitScope::Upstream(upstream) => {
                check_upstream(decls, upstream, cx);
            }
            ast::LimitScope::Tool(target) => check_target(decls, target, cx),
        }
    }
}

fn check_target(decls: &Decls<'_>, target: &ast::Target, cx: &mut Cx<'_>) {
    if !is_pattern(&target.upstream.node) {
        check_upstream(decls, &target.upstream, cx);
    }
}

/// Whether `name` is a declared upstream; reports it when not.
fn check_upstream(decls: &Decls<'_>, name: &ast::Str, cx: &mut Cx<'_>) -> bool {
    if decls.upstreams.contains_key(name.node.as_str()) {
        return true;
    }
    let suggestion = did_you_mean(&name.node, decls.upstreams.keys().copied());
    let lang = cx.lang(name.span);
    cx.push(errors::unknown_upstream(
        &name.node, name.span, suggestion, lang,
    ));
    false
}

fn check_profile(decls: &Decls<'_>, name: &ast::Str, cx: &mut Cx<'_>) -> bool {
    if decls.profiles.contains_key(name.node.as_str())
        || (decls.profiles.is_empty() && name.node == DEFAULT_PROFILE)
    {
        return true;
    }
    let suggestion = did_you_mean(&name.node, decls.profiles.keys().copied());
    let lang = cx.lang(name.span);
    cx.push(errors::unknown_profile(
        &name.node, name.span, suggestion, lang,
    ));
    false
}

/// Whether an endpoint is served by "the default profile" without naming one: front-ends write
/// `default` for `expose-per-upstream` (YAML `exposePerServer`, a `hub` without `profile`), at
/// the span of the keyword rather than of a name. When no profile is literally named `default`,
/// such an endpoint serves the plan's default profile, whichever way that was chosen.
pub(super) fn implies_default(decls: &Decls<'_>, ep: &ast::Endpoint, cx: &Cx<'_>) -> bool {
    ep.profile.node == DEFAULT_PROFILE
        && !decls.profiles.contains_key(DEFAULT_PROFILE)
        && cx.written(ep.profile.span) != Some(DEFAULT_PROFILE)
}

/// `default-profile` if given; else the only profile; else one named `default`; else the profile
/// of an unconditional `endpoint "/mcp"`; else an error naming the candidates.
fn default_profile(
    decls: &Decls<'_>,
    profiles: &IndexMap<ProfileName, Vec<UpstreamId>>,
    cx: &mut Cx<'_>,
) -> Option<ProfileName> {
    if let Some(name) = decls.default_profile {
        return check_profile(decls, name, cx).then(|| ProfileName::new(&name.node));
    }
    if profiles.len() == 1 {
        return profiles.keys().next().cloned();
    }
    if profiles.contains_key(DEFAULT_PROFILE) {
        return Some(ProfileName::new(DEFAULT_PROFILE));
    }
    let at_mcp = decls
        .endpoints
        .iter()
        .find(|e| e.path.node == "/mcp" && e.when.is_none() && !implies_default(decls, e, cx));
    if let Some(ep) = at_mcp {
        // An unknown profile here is already reported; no second error about the default.
        return profiles
            .contains_key(ep.profile.node.as_str())
            .then(|| ProfileName::new(&ep.profile.node));
    }
    let candidates: Vec<(&str, Span)> = decls
        .profiles
        .values()
        .map(|p| (p.name.node.as_str(), p.name.span))
        .collect();
    let lang = candidates
        .first()
        .map_or(errors::Lang::Mcproute, |(_, span)| cx.lang(*span));
    cx.push(errors::no_default_profile(&candidates, lang));
    None
}
