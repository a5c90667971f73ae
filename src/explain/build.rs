//! Building an [`Explanation`] from a plan, a [`Question`] and (live) the lists a view was
//! built from. Pure: no I/O, so the server can log one per request and tests can compare it
//! with what the serving code does.

use crate::gateway::limits::{self, LimitTarget};
use crate::gateway::{Binding, CachePolicy, UpstreamLists, View, fmt_duration};
use crate::plan::rules::{Caller, ItemKind};
use crate::plan::{EndpointAuth, Plan, Profile, TransportSpec, UpstreamId};
use crate::serve::http::select_traced;

use super::model::*;
use super::names;

/// Live lists: what the endpoint's view was built from, and the view itself.
pub struct Lists<'a> {
    /// The endpoint's upstreams and their lists, in priority order.
    pub inputs: Vec<(UpstreamId, UpstreamLists)>,
    pub view: &'a View,
    /// Per upstream: whether its lists were cached before this explanation looked.
    pub cached: Vec<(UpstreamId, bool)>,
    pub policy: CachePolicy,
}

/// The endpoint a request would reach, tried exactly as the server tries them.
pub fn choose_endpoint(plan: &Plan, q: &Question) -> (EndpointTrace, Option<Binding>) {
    let mut headers = http::HeaderMap::new();
    let mut names = Vec::new();
    for (name, value) in &q.headers {
        if let (Ok(n), Ok(v)) = (
            http::HeaderName::from_bytes(name.trim().as_bytes()),
            http::HeaderValue::from_str(value.trim()),
        ) {
            names.push(n.as_str().to_string());
            headers.append(n, v);
        }
    }
    let mut considered = Vec::new();
    let chosen = select_traced(plan, &q.endpoint, &headers, &mut |e, matched| {
        considered.push(EndpointCheck {
            profile: e.profile.to_string(),
            only_upstream: e.only_upstream.as_ref().map(ToString::to_string),
            condition: e.when.as_ref().map(ToString::to_string),
            matched,
            origin: e.origin.to_string(),
        })
    });
    let reason = match chosen {
        None if considered.is_empty() => format!("no endpoint is served at {}", q.endpoint),
        None => format!(
            "endpoints are declared at {}, but the condition of none holds for these headers",
            q.endpoint
        ),
        Some(e) if e.origin.line == 0 => format!(
            "no endpoint is declared, so {} serves the default profile",
            e.path
        ),
        Some(e) => match &e.when {
            Some(c) => format!(
                "the first endpoint at {} whose condition holds ({c})",
                e.path
            ),
            None if considered.len() > 1 => format!(
                "no earlier condition at {} held; this endpoint has none",
                e.path
            ),
            None => format!("the only endpoint at {}", e.path),
        },
    };
    let binding = chosen.map(|e| Binding {
        profile: e.profile.clone(),
        only_upstream: e.only_upstream.clone(),
    });
    let trace = EndpointTrace {
        path: q.endpoint.clone(),
        headers: names,
        considered,
        chosen: chosen.map(|e| ChosenEndpoint {
            profile: e.profile.to_string(),
            only_upstream: e.only_upstream.as_ref().map(ToString::to_string),
            auth: (!e.auth.is_empty()).then(|| {
                e.auth
                    .iter()
                    .map(EndpointAuth::kind)
                    .collect::<Vec<_>>()
                    .join(", ")
            }),
            origin: e.origin.to_string(),
        }),
        reason,
        known_paths: match chosen {
            Some(_) => Vec::new(),
            None => {
                let mut paths: Vec<String> =
                    plan.endpoints.iter().map(|e| e.path.clone()).collect();
                paths.dedup();
                paths
            }
        },
    };
    (trace, binding)
}

/// Explains `q` on `plan`: offline when `lists` is `None`.
pub fn build(plan: &Plan, q: &Question, lists: Option<&Lists<'_>>, source: Source) -> Explanation {
    let (endpoint, binding) = choose_endpoint(plan, q);
    build_for(plan, q, endpoint, binding.as_ref(), lists, source)
}

/// [`build`] with the endpoint already chosen (the server, logging a request it serves).
pub(super) fn build_for(
    plan: &Plan,
    q: &Question,
    endpoint: EndpointTrace,
    binding: Option<&Binding>,
    lists: Option<&Lists<'_>>,
    source: Source,
) -> Explanation {
    let mut out = Explanation {
        method: q.method,
        target: q.target.clone(),
        source,
        endpoint,
        profile: None,
        items: Vec::new(),
        outcome: Outcome::NoEndpoint,
        upstream: None,
        limits: Vec::new(),
        cache: cache(q.method, None, lists),
    };
    let Some((binding, profile)) =
        binding.and_then(|b| plan.profile(b.profile.as_str()).map(|p| (b, p)))
    else {
        return out;
    };
    let upstreams: Vec<UpstreamId> = profile
        .upstreams
        .iter()
        .filter(|u| binding.only_upstream.as_ref().is_none_or(|only| only == *u))
        .cloned()
        .collect();
    out.profile = Some(profile_trace(profile, &upstreams, q.method.kind()));
    out.cache = cache(q.method, Some(&upstreams), lists);
    let caller: Caller<'_> = q.identity.caller(&q.endpoint);
    let rules = &profile.rules;
    match (q.method.kind(), q.method.targets_one()) {
        (None, _) => {
            out.outcome = Outcome::Initialize {
                server_name: profile.meta.name.clone(),
                server_version: profile.meta.version.clone(),
                upstreams: upstreams.iter().map(ToString::to_string).collect(),
            }
        }
        (Some(kind), false) => {
            if let Some(lists) = lists {
                out.items = list_items(rules, kind, &upstreams, lists, caller);
                out.outcome = Outcome::List {
                    visible: Some(visible_names(lists.view, kind)),
                };
            } else {
                out.outcome = Outcome::List { visible: None };
            }
        }
        (Some(kind), true) => {
            let public = q.target.as_deref().unwrap_or_default();
            let (items, outcome) = names::resolve(rules, kind, &upstreams, public, lists, caller);
            out.items = items;
            if let Outcome::Routed {
                upstream, original, ..
            } = &outcome
            {
                out.upstream = plan.upstream(upstream).map(|s| upstream_trace(s));
                out.limits = profile
                    .limits
                    .iter()
                    .map(|spec| LimitTrace {
                        limit: limits::describe(spec),
                        origin: spec.origin.to_string(),
                        applies: limits::applies(
                            spec,
                            &LimitTarget {
                                profile: profile.name.as_str(),
                                upstream,
                                tool: (q.method == Method::ToolsCall).then_some(original.as_str()),
                                session: 0,
                                session_name: None,
                                api_key: None,
                            },
                        ),
                    })
                    .collect();
            }
            out.outcome = outcome;
        }
    }
    out
}

fn profile_trace(
    profile: &Profile,
    upstreams: &[UpstreamId],
    kind: Option<ItemKind>,
) -> ProfileTrace {
    let rules = &profile.rules;
    let policies = match kind {
        None => Vec::new(),
        Some(kind) => upstreams
            .iter()
            .map(|u| {
                let mut renames: Vec<RenameLine> = rules
                    .renames(kind)
                    .filter(|(ru, _, _)| *ru == u)
                    .map(|(_, original, r)| RenameLine {
                        original: original.to_string(),
                        public: r.to.to_string(),
                        origin: r.rule.origin.to_string(),
                    })
                    .collect();
                renames.sort_by(|a, b| a.original.cmp(&b.original));
                UpstreamPolicy {
                    upstream: u.to_string(),
                    rules: rules
                        .filters(kind)
                        .iter()
                        .filter(|f| f.matcher.matches_upstream(u.as_str()))
                        .map(|f| RuleLine {
                            rule: f.rule.text.to_string(),
                            origin: f.rule.origin.to_string(),
                        })
                        .collect(),
                    default_visible: rules.default_allows(kind, u.as_str()),
                    prefix: match kind {
                        ItemKind::Resource => None,
                        _ => rules.prefix_of(u.as_str()).map(str::to_string),
                    },
                    renames,
                }
            })
            .collect(),
    };
    ProfileTrace {
        name: profile.name.to_string(),
        origin: profile.origin.to_string(),
        upstreams: upstreams.iter().map(ToString::to_string).collect(),
        prefix: rules.prefix_template().map(str::to_string),
        policies,
    }
}

/// Every item the upstreams list, decided as the view decided it.
fn list_items(
    rules: &crate::plan::RuleTable,
    kind: ItemKind,
    upstreams: &[UpstreamId],
    lists: &Lists<'_>,
    caller: Caller<'_>,
) -> Vec<super::model::ItemTrace> {
    let mut items = Vec::new();
    for upstream in upstreams {
        let Some((_, l)) = lists.inputs.iter().find(|(u, _)| u == upstream) else {
            continue;
        };
        let originals: Vec<String> = match kind {
            ItemKind::Tool => l
                .tools
                .iter()
                .flat_map(|t| t.iter().map(|t| t.name.to_string()))
                .collect(),
            ItemKind::Prompt => l
                .prompts
                .iter()
                .flat_map(|p| p.iter().map(|p| p.name.clone()))
                .collect(),
            ItemKind::Resource => l
                .resources
                .iter()
                .flat_map(|r| r.iter().map(|r| r.uri.clone()))
                .chain(
                    l.templates
                        .iter()
                        .flat_map(|t| t.iter().map(|t| t.uri_template.clone())),
                )
                .collect(),
        };
        for original in originals {
            let mut item = names::trace_item(
                rules,
                kind,
                upstream.as_str(),
                &original,
                Some(true),
                caller,
            );
            if item.visible
                && let Some(c) =
                    lists.view.collisions.iter().find(|c| {
                        c.kind == kind && &c.moved == upstream && c.original == item.original
                    })
            {
                item.collision = Some(format!(
                    "`{}` was taken first by an item of upstream `{}`",
                    c.name, c.kept
                ));
                match &c.moved_to {
                    Some(to) => item.public_name = to.clone(),
                    None => item.visible = false,
                }
            }
            items.push(item);
        }
    }
    items
}

/// The names the view shows, in the order clients get them.
fn visible_names(view: &View, kind: ItemKind) -> Vec<String> {
    match kind {
        ItemKind::Tool => view.tools.iter().map(|t| t.name.to_string()).collect(),
        ItemKind::Prompt => view.prompts.iter().map(|p| p.name.clone()).collect(),
        ItemKind::Resource => view
            .resources
            .iter()
            .map(|r| r.uri.clone())
            .chain(view.templates.iter().map(|t| t.uri_template.clone()))
            .collect(),
    }
}

fn upstream_trace(spec: &crate::plan::UpstreamSpec) -> UpstreamTrace {
    let transport = match &spec.transport {
        TransportSpec::Stdio { command, .. } => format!("stdio `{command}`"),
        TransportSpec::Http { url } => format!("http {url}"),
        TransportSpec::Sse { url } => format!("sse {url}"),
    };
    UpstreamTrace {
        upstream: spec.id.to_string(),
        transport,
        origin: spec.origin.to_string(),
        timeout: fmt_duration(spec.timeout),
        connect_timeout: fmt_duration(spec.connect_timeout),
        session: spec.session.to_string(),
        credentials: spec.auth.as_ref().map(|a| a.summary()),
        headers: spec
            .headers
            .iter()
            .map(|(name, value)| HeaderLine {
                name: name.clone(),
                value: value.to_string(),
            })
            .collect(),
        env: match &spec.transport {
            TransportSpec::Stdio { env, .. } => env
                .iter()
                .map(|(name, value)| HeaderLine {
                    name: name.clone(),
                    value: value.to_string(),
                })
                .collect(),
            _ => Vec::new(),
        },
    }
}

fn cache(
    method: Method,
    upstreams: Option<&[UpstreamId]>,
    lists: Option<&Lists<'_>>,
) -> CacheTrace {
    let policy = lists.map(|l| l.policy).unwrap_or_default();
    match (method.kind(), method.targets_one()) {
        (None, _) => CacheTrace {
            cached: false,
            summary: "answered by mcp2 itself: the profile's meta and the union of its upstreams' capabilities".into(),
            upstreams: Vec::new(),
            invalidated_by: Vec::new(),
        },
        (Some(_), true) => CacheTrace {
            cached: false,
            summary: "never cached: the request goes to the upstream every time; only the name's route comes from the endpoint's view, rebuilt when a list changes".into(),
            upstreams: Vec::new(),
            invalidated_by: Vec::new(),
        },
        (Some(kind), false) => {
            let lines = upstreams
                .unwrap_or_default()
                .iter()
                .map(|u| CacheLine {
                    upstream: u.to_string(),
                    state: match lists {
                        None => "unknown".into(),
                        Some(l) => match l.cached.iter().find(|(c, _)| c == u) {
                            Some((_, true)) => "hit".into(),
                            Some((_, false)) => "miss".into(),
                            None => "unknown".into(),
                        },
                    },
                })
                .collect();
            CacheTrace {
                cached: true,
                summary: format!(
                    "answered from the endpoint's view, built from each upstream's cached {} (cached per upstream, shared by every profile and client; kept up to {}, a failed fetch {})",
                    method.as_str(),
                    fmt_duration(policy.ttl),
                    fmt_duration(policy.error_ttl)
                ),
                upstreams: lines,
                invalidated_by: vec![
                    format!("the upstream's notifications/{}s/list_changed", kind.keyword()),
                    "the upstream reconnecting or going down".into(),
                    "a reload of the routes (the view is rebuilt)".into(),
                    format!("the cache TTL ({})", fmt_duration(policy.ttl)),
                ],
            }
        }
    }
}
