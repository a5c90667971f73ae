//! Pass 5: endpoint declarations → [`Endpoint`]s.
//!
//! With none declared, `/mcp` serves the default profile. A path with `{upstream}` becomes one
//! endpoint per upstream of its profile, serving only that upstream. An endpoint whose profile
//! the front-end implied (`expose-per-upstream`) serves the default profile. Endpoints are served in
//! order, first match wins, so two on one path under the same condition conflict (error) and a
//! conditional one after an unconditional one is never reached (warning).

use super::declare::Decls;
use super::resolve::{Resolved, implies_default};
use super::{Cx, builtin_location, errors, values};
use crate::diag::{Diag, codes};
use std::sync::Arc;

use indexmap::IndexMap;

use crate::plan::{
    Endpoint, EndpointAuth, EndpointCondition, OAuthSpec, ProfileName, Secret, UpstreamId,
};
use crate::source::Span;
use crate::syntax::ast;

/// The path served when no endpoint is declared.
pub(super) const DEFAULT_PATH: &str = "/mcp";

/// Every `oauth` block by name; `None` for one with errors (reported already).
pub(super) type OAuthServers = IndexMap<String, Option<Arc<OAuthSpec>>>;

pub(super) fn build(
    decls: &Decls<'_>,
    resolved: &Resolved,
    oauth: &OAuthServers,
    cx: &mut Cx<'_>,
) -> Vec<Endpoint> {
    if decls.endpoints.is_empty() {
        return resolved
            .default_profile
            .iter()
            .map(|profile| Endpoint {
                path: DEFAULT_PATH.into(),
                profile: profile.clone(),
                only_upstream: None,
                when: None,
                auth: Vec::new(),
                legacy_sse: None,
                origin: builtin_location(),
            })
            .collect();
    }
    let mut out: Vec<Endpoint> = Vec::new();
    // For each endpoint in `out`: the span of the declaration it came from.
    let mut decl_spans: Vec<Span> = Vec::new();
    let mut reported: Vec<(Span, Span)> = Vec::new();
    for ep in &decls.endpoints {
        for endpoint in expand(decls, ep, resolved, oauth, cx) {
            check_against_earlier(&endpoint, *ep.span, &out, &decl_spans, &mut reported, cx);
            out.push(endpoint);
            decl_spans.push(*ep.span);
        }
    }
    out
}

/// One declaration → its endpoints (several for a `{upstream}` path); none on error.
fn expand(
    decls: &Decls<'_>,
    ep: &ast::Endpoint,
    resolved: &Resolved,
    oauth: &OAuthServers,
    cx: &mut Cx<'_>,
) -> Vec<Endpoint> {
    let ast::Endpoint {
        path,
        profile,
        when,
        auth,
        sse,
        span,
    } = ep;
    let template = match values::parse_endpoint_path(&path.node) {
        Ok(t) => Some(t),
        Err(e) => {
            let at = e.at.map_or(path.span, |r| cx.sub_span(path, r));
            cx.push(errors::bad_path(at, &e.reason));
            None
        }
    };
    let when = match when {
        None => Some(None),
        Some(c) => condition(c, cx).map(Some),
    };
    let credentials: Vec<Option<EndpointAuth>> = auth
        .iter()
        .map(|a| credential(a, &path.node, oauth, cx))
        .collect();
    let auth: Option<Vec<EndpointAuth>> = credentials.into_iter().collect();
    let legacy_sse = match sse {
        None => Some(None),
        Some(p) => match values::parse_endpoint_path(&p.node) {
            Ok(values::PathTemplate::Plain(p)) => Some(Some(p)),
            Ok(values::PathTemplate::PerUpstream { .. }) => {
                cx.push(errors::bad_path(
                    p.span,
                    "a legacy SSE path serves the whole endpoint; it cannot hold `{upstream}`",
                ));
                None
            }
            Err(e) => {
                let at = e.at.map_or(p.span, |r| cx.sub_span(p, r));
                cx.push(errors::bad_path(at, &e.reason));
                None
            }
        },
    };
    // An unknown profile, or no default profile, is reported by `resolve`.
    let profile_name = if implies_default(decls, ep, cx) {
        resolved.default_profile.clone()
    } else {
        Some(ProfileName::new(&profile.node))
    };
    let Some(profile_name) = profile_name else {
        return Vec::new();
    };
    let (Some(template), Some(when), Some(auth), Some(legacy_sse), Some(upstreams)) = (
        template,
        when,
        auth,
        legacy_sse,
        resolved.profiles.get(&profile_name),
    ) else {
        return Vec::new();
    };
    let origin = cx.location(**span);
    let endpoint = |path: String, only: Option<UpstreamId>| Endpoint {
        path,
        profile: profile_name.clone(),
        only_upstream: only,
        when: when.clone(),
        auth: auth.clone(),
        legacy_sse: legacy_sse.clone(),
        origin: origin.clone(),
    };
    if let (values::PathTemplate::PerUpstream { .. }, Some(_), Some(written)) =
        (&template, &legacy_sse, sse)
    {
        cx.push(errors::bad_path(
            written.span,
            "one legacy SSE path cannot serve an endpoint per upstream; declare `sse` on a plain path",
        ));
        return Vec::new();
    }
    match template {
        values::PathTemplate::Plain(p) => vec![endpoint(p, None)],
        values::PathTemplate::PerUpstream { before, after } => upstreams
            .iter()
            .map(|u| endpoint(format!("{before}{u}{after}"), Some(u.clone())))
            .collect(),
    }
}

fn condition(c: &ast::Condition, cx: &mut Cx<'_>) -> Option<EndpointCondition> {
    let name = match c {
        ast::Condition::HeaderEquals { name, .. } | ast::Condition::HeaderPresent { name, .. } => {
            name
        }
    };
    let lower = match values::parse_header_name(&name.node) {
        Ok(n) => n,
        Err(e) => {
            let at = e.at.map_or(name.span, |r| cx.sub_span(name, r));
            cx.push(errors::bad_header_name(at, &e.reason));
            return None;
        }
    };
    match c {
        ast::Condition::HeaderEquals {
            name: _,
            value,
            span: _,
        } => Some(EndpointCondition::HeaderEquals {
            name: lower,
            value: value.node.clone(),
        }),
        ast::Condition::HeaderPresent { name: _, span: _ } => {
            Some(EndpointCondition::HeaderPresent { name: lower })
        }
    }
}

/// `auth bearer "…"` / `auth key [NAME] "…"` / `auth oauth NAME`: the kind checked, the
/// secret expanded, the oauth block looked up.
fn credential(
    a: &ast::EndpointAuth,
    path: &str,
    oauth: &OAuthServers,
    cx: &mut Cx<'_>,
) -> Option<EndpointAuth> {
    let ast::EndpointAuth {
        kind,
        name,
        value,
        span: _,
    } = a;
    if kind.node == "oauth" {
        return oauth_credential(name.as_ref().unwrap_or(value), oauth, cx);
    }
    let used_in = format!("the auth of endpoint `{path}`");
    let expanded = super::env::expand(cx, value, &used_in)?;
    if expanded.value.is_empty() {
        cx.push(
            Diag::error(codes::BAD_AUTH, "an endpoint credential may not be empty")
                .at(value.span, "empty after expansion")
                .help("set the variable, or remove `auth` to serve without a credential"),
        );
        return None;
    }
    let secret = Secret::new(expanded.value, expanded.vars);
    match (kind.node.as_str(), name) {
        ("bearer", None) => Some(EndpointAuth::Bearer { secret }),
        ("key", name) => Some(EndpointAuth::Key {
            name: name.as_ref().map_or("key", |n| n.node.as_str()).to_string(),
            secret,
        }),
        ("bearer", Some(n)) => {
            cx.push(
                Diag::error(codes::BAD_AUTH, "a bearer secret has no name")
                    .at(n.span, "a name here")
                    .help("name API keys with `auth key NAME \"…\"`; `auth bearer \"…\"` takes only the secret"),
            );
            None
        }
        (other, _) => {
            cx.push(
                Diag::error(codes::BAD_AUTH, format!("unknown auth kind `{other}`"))
                    .at(kind.span, "expected `bearer`, `key` or `oauth`")
                    .help("`auth bearer \"${TOKEN}\"` (Authorization: Bearer), `auth key NAME \"${KEY}\"` (X-API-Key) or `auth oauth NAME` (access tokens from `oauth NAME { … }`)"),
            );
            None
        }
    }
}

fn oauth_credential(
    name: &ast::Str,
    oauth: &OAuthServers,
    cx: &mut Cx<'_>,
) -> Option<EndpointAuth> {
    if let Some(spec) = oauth.get(name.node.as_str()) {
        return spec.clone().map(EndpointAuth::OAuth);
    }
    let mut diag = Diag::error(
        codes::UNKNOWN_OAUTH,
        format!("no `oauth {} {{ … }}` block is declared", name.node),
    )
    .at(name.span, "unknown authorization server");
    diag = match crate::diag::did_you_mean(&name.node, oauth.keys().map(String::as_str)) {
        Some(s) => diag.help(format!("did you mean `{s}`?")),
        None => diag.help(format!(
            "declare it: `oauth {} {{ issuer \"https://auth.example.com\" }}`",
            name.node
        )),
    };
    cx.push(diag);
    None
}

/// Reports a conflict or shadowing with an earlier endpoint on the same path, once per pair of
/// declarations (a `{upstream}` path would otherwise repeat it for every upstream).
fn check_against_earlier(
    endpoint: &Endpoint,
    decl: Span,
    earlier: &[Endpoint],
    earlier_decls: &[Span],
    reported: &mut Vec<(Span, Span)>,
    cx: &mut Cx<'_>,
) {
    for (e, &e_decl) in earlier.iter().zip(earlier_decls) {
        if e.path != endpoint.path || e_decl == decl || reported.contains(&(e_decl, decl)) {
            continue;
        }
        let diag = if e.when == endpoint.when {
            errors::endpoint_conflict(&endpoint.path, decl, e_decl)
        } else if e.when.is_none() {
            errors::shadowed_endpoint(&endpoint.path, decl, e_decl)
        } else {
            continue;
        };
        reported.push((e_decl, decl));
        cx.push(diag);
        return;
    }
}
