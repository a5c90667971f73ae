//! Pass 4 (per profile): profile declarations → [`Profile`]s.
//!
//! Meta defaults, the prefix template (only `{upstream}`), the rule table ([`super::rules`]) and
//! rate limits. With no profile declared, a `default` profile serving every upstream is
//! synthesized, so a file with only upstreams serves them all.

use std::sync::Arc;

use indexmap::IndexMap;

use super::declare::Decls;
use super::resolve::{DEFAULT_PROFILE, Resolved};
use super::rules::{Scope, build_table, compile_target, is_pattern};
use super::{Cx, builtin_location, errors, values};
use crate::diag::did_you_mean;
use crate::plan::{
    LimitKey, LimitScopeSpec, LimitSpec, Meta, Profile, ProfileName, RuleTable, UpstreamId,
};
use crate::syntax::ast;

pub(super) fn build(
    decls: &Decls<'_>,
    resolved: &Resolved,
    cx: &mut Cx<'_>,
) -> IndexMap<ProfileName, Arc<Profile>> {
    let mut out = IndexMap::new();
    if decls.profiles.is_empty() {
        let name = ProfileName::new(DEFAULT_PROFILE);
        let upstreams = resolved.profiles.get(&name).cloned().unwrap_or_default();
        let rules = RuleTable::new(vec![], vec![], vec![], None, &upstreams);
        let profile = Profile {
            name: name.clone(),
            meta: Meta::default(),
            upstreams,
            rules,
            limits: vec![],
            origin: builtin_location(),
        };
        out.insert(name, Arc::new(profile));
        return out;
    }
    for profile in decls.profiles.values() {
        let name = ProfileName::new(&profile.name.node);
        let upstreams = resolved.profiles.get(&name).cloned().unwrap_or_default();
        let profile = build_one(profile, upstreams, decls, cx);
        out.insert(name, Arc::new(profile));
    }
    out
}

fn build_one(
    profile: &ast::Profile,
    upstreams: Vec<UpstreamId>,
    decls: &Decls<'_>,
    cx: &mut Cx<'_>,
) -> Profile {
    let ast::Profile {
        name,
        meta,
        uses,
        prefix,
        rules,
        limits,
        span,
    } = profile;
    // Unknown names in `use` are reported by `resolve`; an empty result is worth a warning only
    // when it is not the consequence of those errors.
    let all_unknown = !uses.is_empty()
        && uses
            .iter()
            .all(|u| !decls.upstreams.contains_key(u.node.as_str()));
    if upstreams.is_empty() && !all_unknown {
        let lang = cx.lang(name.span);
        cx.push(errors::empty_profile(&name.node, name.span, lang));
    }
    let prefix = prefix
        .as_ref()
        .filter(|p| check_prefix(p, cx))
        .map(|p| p.node.clone());
    let scope = Scope {
        profile: &name.node,
        upstreams: &upstreams,
        unresolved_uses: uses
            .iter()
            .any(|u| !decls.upstreams.contains_key(u.node.as_str())),
    };
    let rules = build_table(rules, prefix, &scope, decls, cx);
    let limits = limits
        .iter()
        .filter_map(|l| build_limit(l, &scope, decls, cx))
        .collect();
    Profile {
        name: ProfileName::new(&name.node),
        meta: build_meta(meta),
        upstreams,
        rules,
        limits,
        origin: cx.location(**span),
    }
}

fn build_meta(meta: &ast::Meta) -> Meta {
    let ast::Meta {
        name,
        version,
        description,
    } = meta;
    let defaults = Meta::default();
    Meta {
        name: name.as_ref().map_or(defaults.name, |n| n.node.clone()),
        version: version
            .as_ref()
            .map_or(defaults.version, |v| v.node.clone()),
        description: description
            .as_ref()
            .map(|d| d.node.clone())
            .or(defaults.description),
    }
}

/// Only `{upstream}` may appear in braces.
fn check_prefix(prefix: &ast::Str, cx: &mut Cx<'_>) -> bool {
    let text = &prefix.node;
    let mut i = 0;
    while let Some(open) = text[i..].find(['{', '}']).map(|o| i + o) {
        if text[open..].starts_with('}') {
            let at = cx.sub_span(prefix, open..open + 1);
            cx.push(errors::bad_prefix(at, "`}` without `{`", None));
            return false;
        }
        let Some(close) = text[open..].find('}').map(|c| open + c) else {
            let at = cx.sub_span(prefix, open..text.len());
            cx.push(errors::bad_prefix(at, "`{` is never closed", None));
            return false;
        };
        let word = &text[open + 1..close];
        if word != "upstream" {
            let at = cx.sub_span(prefix, open..close + 1);
            let suggestion = did_you_mean(word, ["upstream"]).map(|_| "{upstream}");
            let reason = format!("`{{{word}}}` is not a placeholder");
            cx.push(errors::bad_prefix(at, &reason, suggestion));
            return false;
        }
        i = close + 1;
    }
    true
}

fn build_limit(
    limit: &ast::Limit,
    scope: &Scope<'_>,
    decls: &Decls<'_>,
    cx: &mut Cx<'_>,
) -> Option<LimitSpec> {
    let ast::Limit {
        scope: limit_scope,
        rate,
        per,
        span,
    } = limit;
    let scope_spec = match limit_scope {
        ast::LimitScope::Upstream(up) => {
            if !decls.upstreams.contains_key(up.node.as_str()) {
                None // reported by `resolve`
            } else if !scope.upstreams.iter().any(|u| u.as_str() == up.node) {
                scope.not_in_profile(&up.node, up.span, true, cx);
                None
            } else {
                Some(LimitScopeSpec::Upstream {
                    upstream: UpstreamId::new(&up.node),
                })
            }
        }
        ast::LimitScope::Tool(target) => {
            let concrete = &target.upstream.node;
            if !is_pattern(concrete) && !decls.upstreams.contains_key(concrete.as_str()) {
                None
            } else {
                compile_target(target, cx).map(|matcher| LimitScopeSpec::Tool { matcher })
            }
        }
    };
    let rate = match values::parse_rate(&rate.node) {
        Ok(r) => Some(r),
        Err(e) => {
            cx.push(errors::bad_rate(rate.span, &e.reason));
            None
        }
    };
    let per = match per {
        None => Some(LimitKey::Global),
        Some(word) => limit_key(word, cx),
    };
    Some(LimitSpec {
        scope: scope_spec?,
        rate: rate?,
        per: per?,
        origin: cx.location(**span),
    })
}

/// `client` or `session` (one bucket per downstream session), `key` (per API key). Accepts the
/// word with or without its `per `.
fn limit_key(word: &ast::Str, cx: &mut Cx<'_>) -> Option<LimitKey> {
    let w = word.node.trim();
    let w = w.strip_prefix("per ").map_or(w, str::trim);
    match w {
        "client" | "session" => Some(LimitKey::Session),
        "key" => Some(LimitKey::Key),
        other => {
            let suggestion = did_you_mean(other, ["client", "session", "key"]);
            let lang = cx.lang(word.span);
            cx.push(errors::bad_limit_key(other, word.span, suggestion, lang));
            None
        }
    }
}
