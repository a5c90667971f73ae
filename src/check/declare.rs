//! Pass 1: collect every declaration across the files of a route set.
//!
//! Names are global across files: an upstream or profile declared twice, or a file-global setting
//! (`listen`, `logging`, `default-profile`) given twice, is an error showing both places. The
//! first declaration is kept so later passes check against it. This pass interprets nothing.

use indexmap::IndexMap;
use indexmap::map::Entry;

use super::{Cx, errors};
use crate::source::Span;
use crate::syntax::ast;

/// Everything declared, in file order and, within a file, in the order written.
pub(super) struct Decls<'a> {
    pub upstreams: IndexMap<&'a str, &'a ast::Upstream>,
    pub profiles: IndexMap<&'a str, &'a ast::Profile>,
    pub endpoints: Vec<&'a ast::Endpoint>,
    pub listen: Option<&'a ast::Listen>,
    pub logging: Option<&'a ast::Logging>,
    pub admin: Option<&'a ast::Admin>,
    pub default_profile: Option<&'a ast::Str>,
    pub oauth: IndexMap<&'a str, &'a ast::OAuthServer>,
    pub audit: Option<&'a ast::Audit>,
    pub limits: Option<&'a ast::Limits>,
    pub cluster: Option<&'a ast::Cluster>,
}

pub(super) fn collect<'a>(files: &'a [ast::File], cx: &mut Cx<'_>) -> Decls<'a> {
    let mut decls = Decls {
        upstreams: IndexMap::new(),
        profiles: IndexMap::new(),
        endpoints: Vec::new(),
        listen: None,
        logging: None,
        admin: None,
        default_profile: None,
        oauth: IndexMap::new(),
        audit: None,
        limits: None,
        cluster: None,
    };
    for ast::File { items } in files {
        for item in items {
            match item {
                ast::Item::Upstream(up) => {
                    declare(&mut decls.upstreams, "upstream", &up.name, up, cx, |u| {
                        u.name.span
                    })
                }
                ast::Item::Profile(p) => {
                    declare(&mut decls.profiles, "profile", &p.name, p, cx, |p| {
                        p.name.span
                    })
                }
                ast::Item::Endpoint(e) => decls.endpoints.push(e),
                ast::Item::Listen(l) => set_once(&mut decls.listen, l, "listen", cx, |l| *l.span),
                ast::Item::Logging(l) => {
                    set_once(&mut decls.logging, l, "logging", cx, |l| *l.span)
                }
                ast::Item::Admin(a) => set_once(&mut decls.admin, a, "admin", cx, |a| *a.span),
                ast::Item::OAuth(o) => {
                    declare(&mut decls.oauth, "oauth", &o.name, o, cx, |o| o.name.span)
                }
                ast::Item::Audit(a) => set_once(&mut decls.audit, a, "audit", cx, |a| *a.span),
                ast::Item::Limits(l) => set_once(&mut decls.limits, l, "limits", cx, |l| *l.span),
                ast::Item::Cluster(c) => {
                    set_once(&mut decls.cluster, c, "cluster", cx, |c| *c.span)
                }
                ast::Item::DefaultProfile(name) => set_once(
                    &mut decls.default_profile,
                    name,
                    "default-profile",
                    cx,
                    |n| n.span,
                ),
            }
        }
    }
    decls
}

fn declare<'a, T>(
    map: &mut IndexMap<&'a str, &'a T>,
    kind: &str,
    name: &'a ast::Str,
    item: &'a T,
    cx: &mut Cx<'_>,
    name_span: impl Fn(&T) -> Span,
) {
    match map.entry(name.node.as_str()) {
        Entry::Occupied(first) => {
            let lang = cx.lang(name.span);
            cx.push(errors::duplicate_declaration(
                kind,
                &name.node,
                name.span,
                name_span(first.get()),
                lang,
            ))
        }
        Entry::Vacant(slot) => {
            slot.insert(item);
        }
    }
}

fn set_once<'a, T>(
    slot: &mut Option<&'a T>,
    value: &'a T,
    setting: &str,
    cx: &mut Cx<'_>,
    span: impl Fn(&T) -> Span,
) {
    match slot {
        Some(first) => cx.push(errors::duplicate_global(setting, span(value), span(first))),
        None => *slot = Some(value),
    }
}
