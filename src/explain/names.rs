//! Which upstream item a public name (or URI) is, and what happens to a request for it.
//!
//! Candidates are guesses (the name itself, the name without the upstream's prefix, a rename's
//! original, the name without the collision prefix); every guess is then checked forward, by
//! `decide` and by routing the name through a [`View`] built with [`View::build`], exactly as
//! the server routes it. Offline, the view is built from the guesses themselves ("if the
//! upstream offers it"); live, from the upstreams' real lists.

use std::sync::Arc;

use rmcp::model::{JsonObject, Prompt, Resource, Tool};

use super::build::Lists;
use super::model::{ItemTrace, Outcome};
use crate::diag::did_you_mean;
use crate::gateway::view::{DEFAULT_PREFIX, Inputs};
use crate::gateway::{Route, UpstreamLists, View};
use crate::plan::rules::{Caller, ItemKind, ItemRef, NameMatcher, RuleTable, Step, render_prefix};
use crate::plan::{Decision, UpstreamId};

/// One guess: `original` on an upstream, and whether it is reached only through a collision.
struct Candidate {
    original: String,
    via_collision: bool,
}

fn candidates(rules: &RuleTable, kind: ItemKind, upstream: &str, public: &str) -> Vec<Candidate> {
    // Most specific first: a rename, the name without the prefix, the name itself.
    let mut renamed: Vec<&str> = rules
        .renames(kind)
        .filter(|(u, _, r)| u.as_str() == upstream && &*r.to == public)
        .map(|(_, original, _)| original)
        .collect();
    renamed.sort_unstable();
    let mut guesses: Vec<(String, bool)> = renamed
        .into_iter()
        .map(|o| (o.to_string(), false))
        .collect();
    if kind != ItemKind::Resource
        && let Some(stripped) = rules
            .prefix_of(upstream)
            .and_then(|p| public.strip_prefix(p))
    {
        guesses.push((stripped.to_string(), false));
    }
    guesses.push((public.to_string(), false));
    if kind != ItemKind::Resource
        && let Some(stripped) = public.strip_prefix(&render_prefix(DEFAULT_PREFIX, upstream))
    {
        guesses.push((stripped.to_string(), true));
    }
    let mut out: Vec<Candidate> = Vec::new();
    for (original, via_collision) in guesses {
        if out.iter().any(|c| c.original == original) {
            continue;
        }
        let direct = decide(rules, kind, upstream, &original, Caller::default()).public_name;
        if direct == public || via_collision {
            out.push(Candidate {
                original,
                via_collision: via_collision && direct != public,
            });
        }
    }
    out
}

fn decide(rules: &RuleTable, kind: ItemKind, upstream: &str, name: &str, c: Caller) -> Decision {
    rules.decide(
        ItemRef {
            kind,
            upstream,
            name,
        },
        c,
    )
}

/// Every decision step for one item, as a trace.
pub(super) fn trace_item(
    rules: &RuleTable,
    kind: ItemKind,
    upstream: &str,
    original: &str,
    offered: Option<bool>,
    caller: Caller<'_>,
) -> ItemTrace {
    let mut steps = Vec::new();
    let d = rules.decide_traced(
        ItemRef {
            kind,
            upstream,
            name: original,
        },
        caller,
        &mut |s| steps.push(s),
    );
    ItemTrace {
        upstream: upstream.to_string(),
        original: original.to_string(),
        offered,
        steps,
        visible: d.visible,
        public_name: d.public_name,
        decided_by: d.decided_by,
        collision: None,
        note: None,
    }
}

/// A list holding only these names, of one kind.
fn synthetic(kind: ItemKind, names: &[&str]) -> UpstreamLists {
    let mut lists = UpstreamLists::default();
    match kind {
        ItemKind::Tool => {
            let schema = Arc::new(JsonObject::new());
            lists.tools = Some(Arc::new(
                names
                    .iter()
                    .map(|n| Tool::new(n.to_string(), "", schema.clone()))
                    .collect(),
            ))
        }
        ItemKind::Prompt => {
            lists.prompts = Some(Arc::new(
                names
                    .iter()
                    .map(|n| Prompt::new(n.to_string(), None::<String>, None))
                    .collect(),
            ))
        }
        ItemKind::Resource => {
            lists.resources = Some(Arc::new(
                names.iter().map(|n| Resource::new(*n, *n)).collect(),
            ))
        }
    }
    lists
}

/// Where the view sends a public name of this kind.
pub(super) fn route(view: &View, kind: ItemKind, public: &str) -> Option<Route> {
    match kind {
        ItemKind::Resource => view.resource_route(public),
        _ => view.route(kind, public).cloned(),
    }
}

/// Explains a request for one public name on `upstreams` (the endpoint's, in priority order).
pub(super) fn resolve(
    rules: &RuleTable,
    kind: ItemKind,
    upstreams: &[UpstreamId],
    public: &str,
    lists: Option<&Lists<'_>>,
    caller: Caller<'_>,
) -> (Vec<ItemTrace>, Outcome) {
    match lists {
        Some(lists) => resolve_live(rules, kind, upstreams, public, lists, caller),
        None => resolve_offline(rules, kind, upstreams, public, caller),
    }
}

fn offers(lists: &UpstreamLists, kind: ItemKind, name: &str) -> bool {
    match kind {
        ItemKind::Tool => lists
            .tools
            .as_ref()
            .is_some_and(|l| l.iter().any(|t| t.name == name)),
        ItemKind::Prompt => lists
            .prompts
            .as_ref()
            .is_some_and(|l| l.iter().any(|p| p.name == name)),
        ItemKind::Resource => lists
            .resources
            .as_ref()
            .is_some_and(|l| l.iter().any(|r| r.uri == name)),
    }
}

fn resolve_live(
    rules: &RuleTable,
    kind: ItemKind,
    upstreams: &[UpstreamId],
    public: &str,
    lists: &Lists<'_>,
    caller: Caller<'_>,
) -> (Vec<ItemTrace>, Outcome) {
    let mut items = Vec::new();
    for upstream in upstreams {
        let Some((_, upstream_lists)) = lists.inputs.iter().find(|(u, _)| u == upstream) else {
            continue;
        };
        let listed = match kind {
            ItemKind::Tool => upstream_lists.tools.is_some(),
            ItemKind::Prompt => upstream_lists.prompts.is_some(),
            ItemKind::Resource => upstream_lists.resources.is_some(),
        };
        for c in candidates(rules, kind, upstream.as_str(), public) {
            if !offers(upstream_lists, kind, &c.original) {
                let note = (!listed).then(|| {
                    format!("the upstream's {kind} list could not be fetched (down or failing)")
                });
                items.push(ItemTrace {
                    upstream: upstream.to_string(),
                    original: c.original,
                    offered: Some(false),
                    steps: Vec::new(),
                    visible: false,
                    public_name: public.to_string(),
                    decided_by: None,
                    collision: None,
                    note,
                });
                continue;
            }
            let mut item = trace_item(
                rules,
                kind,
                upstream.as_str(),
                &c.original,
                Some(true),
                caller,
            );
            item.collision = collision_note(lists.view, kind, upstream, &item.original);
            items.push(item);
        }
    }
    if let Some(route) = route(lists.view, kind, public) {
        let listed = items
            .iter()
            .any(|i| i.upstream == route.upstream.as_str() && i.original == *route.original);
        if !listed
            && kind == ItemKind::Resource
            && let Some((template, up)) = lists
                .view
                .template_routes
                .iter()
                .find(|(t, u)| *u == route.upstream && t.matches(public))
        {
            items.push(trace_item(
                rules,
                kind,
                up.as_str(),
                &template.pattern,
                Some(true),
                caller,
            ));
        }
        return (items, routed(&route, false, Vec::new()));
    }
    let outcome = hidden(&items).unwrap_or_else(|| Outcome::Unknown {
        reason: format!(
            "no upstream of this endpoint offers a {kind} whose public name is `{public}`"
        ),
        suggestion: did_you_mean(public, lists.view.names(kind)).map(str::to_string),
    });
    (items, outcome)
}

fn collision_note(
    view: &View,
    kind: ItemKind,
    upstream: &UpstreamId,
    original: &str,
) -> Option<String> {
    view.collisions
        .iter()
        .find(|c| c.kind == kind && &c.moved == upstream && c.original == original)
        .map(|c| match &c.moved_to {
            Some(to) => format!(
                "`{}` was taken first by an item of upstream `{}`; published as `{to}`",
                c.name, c.kept
            ),
            None => format!(
                "`{}` was taken first by an item of upstream `{}`, and so was the alternative; hidden",
                c.name, c.kept
            ),
        })
}

fn routed(route: &Route, assumed: bool, fallbacks: Vec<String>) -> Outcome {
    Outcome::Routed {
        upstream: route.upstream.to_string(),
        original: route.original.to_string(),
        assumed,
        fallbacks,
    }
}

/// The first offered item that a rule, the default or a collision hid.
fn hidden(items: &[ItemTrace]) -> Option<Outcome> {
    let item = items
        .iter()
        .filter(|i| i.offered != Some(false))
        .find(|i| !i.visible || i.collision.is_some())?;
    let reason = match (&item.decided_by, item.visible) {
        (Some(rule), false) => format!("hidden by `{}` ({})", rule.text, rule.origin),
        (None, false) => {
            let why = item.steps.iter().find_map(|s| match s {
                Step::Default { reason, .. } => Some(reason.as_str()),
                _ => None,
            });
            format!("hidden by default: {}", why.unwrap_or("no rule allows it"))
        }
        (_, true) => format!(
            "the name belongs to another item: {}",
            item.collision.as_deref().unwrap_or("a collision")
        ),
    };
    Some(Outcome::Hidden {
        upstream: item.upstream.clone(),
        original: item.original.clone(),
        rule: if item.visible {
            None
        } else {
            item.decided_by.clone()
        },
        reason,
    })
}

fn resolve_offline(
    rules: &RuleTable,
    kind: ItemKind,
    upstreams: &[UpstreamId],
    public: &str,
    caller: Caller<'_>,
) -> (Vec<ItemTrace>, Outcome) {
    let mut items = Vec::new();
    let mut scenarios: Vec<Route> = Vec::new();
    for (index, upstream) in upstreams.iter().enumerate() {
        for c in candidates(rules, kind, upstream.as_str(), public) {
            let mut item = trace_item(rules, kind, upstream.as_str(), &c.original, None, caller);
            if c.via_collision {
                item.collision = Some(format!(
                    "reached as `{public}` only when an item listed before it (of an earlier upstream, or its own) takes `{}`",
                    item.public_name
                ));
            }
            // The scenario: this upstream offers the candidate and, for a collision, every
            // upstream up to it (itself included, listed first) offers what would take the
            // candidate's own public name; the name is routed as the server would route it.
            let scenario: Vec<UpstreamLists> = upstreams[..=index]
                .iter()
                .enumerate()
                .map(|(i, up)| {
                    let mut names: Vec<String> = match c.via_collision {
                        true => candidates(rules, kind, up.as_str(), &item.public_name)
                            .into_iter()
                            .filter(|t| !t.via_collision && (i < index || t.original != c.original))
                            .map(|t| t.original)
                            .collect(),
                        false => Vec::new(),
                    };
                    if i == index {
                        names.push(c.original.clone());
                    }
                    synthetic(kind, &names.iter().map(String::as_str).collect::<Vec<_>>())
                })
                .collect();
            let inputs: Vec<(&UpstreamId, &UpstreamLists)> =
                upstreams[..=index].iter().zip(&scenario).collect();
            let view = View::build(rules, &inputs as &Inputs<'_>, caller);
            if let Some(r) = route(&view, kind, public)
                && r.upstream == *upstream
                && *r.original == *c.original
            {
                scenarios.push(r);
            }
            items.push(item);
        }
    }
    if let Some((first, rest)) = scenarios.split_first() {
        let fallbacks = rest
            .iter()
            .map(|r| format!("{}/{}", r.upstream, r.original))
            .collect();
        return (items, routed(first, true, fallbacks));
    }
    let outcome = hidden(&items).unwrap_or_else(|| Outcome::Unknown {
        reason: format!(
            "no upstream of this endpoint can offer a {kind} under the public name `{public}` (no prefix, rename or name fits)"
        ),
        suggestion: did_you_mean(public, known_names(rules, kind, upstreams).iter().map(String::as_str))
            .map(str::to_string),
    });
    (items, outcome)
}

/// Offline, the public names the routes themselves reveal: rename targets, and the names of
/// allow rules that name one item, when visible.
fn known_names(rules: &RuleTable, kind: ItemKind, upstreams: &[UpstreamId]) -> Vec<String> {
    let mut names = Vec::new();
    for upstream in upstreams {
        let up = upstream.as_str();
        let renamed = rules
            .renames(kind)
            .filter(|(u, _, _)| u.as_str() == up)
            .map(|(_, original, _)| original.to_string());
        let named = rules
            .filters(kind)
            .iter()
            .filter(|f| f.matcher.matches_upstream(up))
            .filter_map(|f| match f.matcher.name_matcher() {
                NameMatcher::Glob(g) if is_literal(g.glob().glob()) => {
                    Some(g.glob().glob().to_string())
                }
                _ => None,
            });
        for original in renamed.chain(named).collect::<Vec<_>>() {
            let d = decide(rules, kind, up, &original, Caller::default());
            if d.visible && !names.contains(&d.public_name) {
                names.push(d.public_name);
            }
        }
    }
    names
}

fn is_literal(glob: &str) -> bool {
    !glob.contains(['*', '?', '[', ']', '{', '}', '\\'])
}
