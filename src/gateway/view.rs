//! A view: what one profile (or one upstream of it) shows one caller, and how public names route
//! back.
//!
//! A [`View`] is built from the upstreams' cached lists and the profile's [`RuleTable`], by
//! calling `decide()` on every item. It holds the public lists, ready to send, and the maps from
//! public name (or URI) back to the upstream and original name, so a call is a map lookup. Views
//! are pure data: building one does no I/O, which is what lets `explain` and the property tests
//! check the very decisions the server makes.

use std::collections::HashMap;
use std::sync::Arc;

use std::sync::OnceLock;

use rmcp::model::{
    ListPromptsResult, ListResourceTemplatesResult, ListResourcesResult, ListToolsResult, Prompt,
    Resource, ResourceTemplate, ServerResult, Tool,
};
use serde_json::value::RawValue;

use crate::plan::UpstreamId;
use crate::plan::rules::{Caller, ItemKind, ItemRef, RuleRef, RuleTable, render_prefix};

/// Where a public name goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    pub upstream: UpstreamId,
    /// The name (or URI) the upstream knows.
    pub original: Arc<str>,
}

/// One upstream's lists, as fetched (possibly partially: a kind the upstream failed to list is
/// `None`).
#[derive(Debug, Clone, Default)]
pub struct UpstreamLists {
    pub tools: Option<Arc<Vec<Tool>>>,
    pub prompts: Option<Arc<Vec<Prompt>>>,
    pub resources: Option<Arc<Vec<Resource>>>,
    pub templates: Option<Arc<Vec<ResourceTemplate>>>,
}

/// A public name two upstreams wanted; the earlier upstream kept it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Collision {
    pub kind: ItemKind,
    pub name: String,
    pub kept: UpstreamId,
    pub moved: UpstreamId,
    /// The later upstream's own name (URI) for the item that lost the name.
    pub original: String,
    /// The name the later upstream's item got instead (`None` if it had to be hidden).
    pub moved_to: Option<String>,
}

#[derive(Debug, Default)]
pub struct View {
    pub tools: Vec<Tool>,
    pub prompts: Vec<Prompt>,
    pub resources: Vec<Resource>,
    pub templates: Vec<ResourceTemplate>,
    pub tool_routes: HashMap<Arc<str>, Route>,
    pub prompt_routes: HashMap<Arc<str>, Route>,
    pub resource_routes: HashMap<Arc<str>, Route>,
    /// Template URI patterns in upstream order, for reads of URIs no list mentioned.
    pub template_routes: Vec<(UpstreamTemplate, UpstreamId)>,
    pub collisions: Vec<Collision>,
    /// How fresh each of its lists is (by [`ListKind::index`](super::ListKind::index)), from
    /// the upstream lists it was built from (see `lists::Hint`).
    pub freshness: [Freshness; 4],
    /// Each list as the result of its list request, serialised on first use (see
    /// [`View::list_json`]).
    serialised: [OnceLock<Option<Box<RawValue>>>; 4],
    /// Items hidden from this caller, by kind and the public name they would have had: where
    /// they would route and the rule that hid them (for the audit trail; never shown).
    pub denied: HashMap<(ItemKind, Arc<str>), (Route, Option<RuleRef>)>,
    /// For visible items a rule decided: that rule, by kind and public name.
    pub decided: HashMap<(ItemKind, Arc<str>), RuleRef>,
}

/// Until when a view may be served as fresh, and whether it may be cached across users:
/// the earliest expiry and the most private scope of the lists it was built from.
#[derive(Debug, Clone, Copy, Default)]
pub struct Freshness {
    pub expires: Option<std::time::Instant>,
    pub private: bool,
}

impl Freshness {
    /// Adds one list's expiry and scope.
    pub fn and(self, expires: std::time::Instant, private: bool) -> Freshness {
        Freshness {
            expires: Some(self.expires.map_or(expires, |e| e.min(expires))),
            private: self.private || private,
        }
    }

    /// The `ttlMs` and `cacheScope` the hub gives 2026-07-28 clients for this view.
    pub fn hints(&self) -> (u64, rmcp::model::CacheScope) {
        let ttl = self.expires.map_or(0, |e| {
            e.saturating_duration_since(std::time::Instant::now())
                .as_millis()
                .try_into()
                .unwrap_or(u64::MAX)
        });
        let scope = match self.private {
            true => rmcp::model::CacheScope::Private,
            false => rmcp::model::CacheScope::Public,
        };
        (ttl, scope)
    }
}

/// A list a view can serve serialised.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListJson {
    Tools,
    Prompts,
    Resources,
    Templates,
}

impl ListJson {
    pub fn method(self) -> &'static str {
        match self {
            ListJson::Tools => "tools/list",
            ListJson::Prompts => "prompts/list",
            ListJson::Resources => "resources/list",
            ListJson::Templates => "resources/templates/list",
        }
    }
}

/// A resource template's URI pattern, compiled for matching concrete URIs (RFC 6570 level 1:
/// each `{var}` matches one or more characters other than `/`; `{+var}`/`{#var}` any).
#[derive(Debug, Clone)]
pub struct UpstreamTemplate {
    pub pattern: String,
    regex: Option<regex::Regex>,
}

impl UpstreamTemplate {
    pub fn new(pattern: &str) -> Self {
        let mut re = String::from("^");
        let mut rest = pattern;
        while let Some(open) = rest.find('{') {
            re.push_str(&regex::escape(&rest[..open]));
            let Some(close) = rest[open..].find('}') else {
                re.push_str(&regex::escape(&rest[open..]));
                rest = "";
                break;
            };
            let var = &rest[open + 1..open + close];
            re.push_str(if var.starts_with('+') || var.starts_with('#') {
                ".+"
            } else {
                "[^/]+"
            });
            rest = &rest[open + close + 1..];
        }
        re.push_str(&regex::escape(rest));
        re.push('$');
        Self {
            pattern: pattern.to_string(),
            regex: regex::Regex::new(&re).ok(),
        }
    }

    pub fn matches(&self, uri: &str) -> bool {
        self.regex.as_ref().is_some_and(|r| r.is_match(uri))
    }
}

/// The upstream lists a view is built from, in the profile's priority order.
pub type Inputs<'a> = [(&'a UpstreamId, &'a UpstreamLists)];

impl View {
    pub fn build(rules: &RuleTable, inputs: &Inputs<'_>, caller: Caller<'_>) -> View {
        let mut view = View::default();
        for (upstream, lists) in inputs {
            let up = upstream.as_str();
            if let Some(tools) = &lists.tools {
                for tool in tools.iter() {
                    if let Some((name, description)) =
                        view.admit(rules, ItemKind::Tool, upstream, &tool.name, caller)
                    {
                        let mut public = tool.clone();
                        public.name = name.to_string().into();
                        if let Some(d) = description {
                            public.description = Some(d.to_string().into());
                        }
                        view.tools.push(public);
                    }
                }
            }
            if let Some(prompts) = &lists.prompts {
                for prompt in prompts.iter() {
                    if let Some((name, description)) =
                        view.admit(rules, ItemKind::Prompt, upstream, &prompt.name, caller)
                    {
                        let mut public = prompt.clone();
                        public.name = name.to_string();
                        if let Some(d) = description {
                            public.description = Some(d.to_string());
                        }
                        view.prompts.push(public);
                    }
                }
            }
            if let Some(resources) = &lists.resources {
                for resource in resources.iter() {
                    if let Some((uri, description)) =
                        view.admit(rules, ItemKind::Resource, upstream, &resource.uri, caller)
                    {
                        let mut public = resource.clone();
                        public.uri = uri.to_string();
                        if let Some(d) = description {
                            public.description = Some(d.to_string());
                        }
                        view.resources.push(public);
                    }
                }
            }
            if let Some(templates) = &lists.templates {
                for template in templates.iter() {
                    let pattern = &template.uri_template;
                    let decision = rules.decide(
                        ItemRef {
                            kind: ItemKind::Resource,
                            upstream: up,
                            name: pattern,
                        },
                        caller,
                    );
                    if decision.visible {
                        view.templates.push(template.clone());
                        view.template_routes
                            .push((UpstreamTemplate::new(pattern), (*upstream).clone()));
                    }
                }
            }
        }
        view
    }

    /// Decides one item and claims its public name; returns the name and any new description.
    fn admit(
        &mut self,
        rules: &RuleTable,
        kind: ItemKind,
        upstream: &UpstreamId,
        original: &str,
        caller: Caller<'_>,
    ) -> Option<(Arc<str>, Option<Arc<str>>)> {
        let decision = rules.decide(
            ItemRef {
                kind,
                upstream: upstream.as_str(),
                name: original,
            },
            caller,
        );
        if !decision.visible {
            let route = Route {
                upstream: upstream.clone(),
                original: original.into(),
            };
            self.denied
                .entry((kind, decision.public_name.into()))
                .or_insert((route, decision.decided_by));
            return None;
        }
        let decided_by = decision.decided_by;
        let routes = match kind {
            ItemKind::Tool => &mut self.tool_routes,
            ItemKind::Prompt => &mut self.prompt_routes,
            ItemKind::Resource => &mut self.resource_routes,
        };
        let mut name: Arc<str> = decision.public_name.into();
        if let Some(kept) = routes.get(&name) {
            // Deterministic: the earlier upstream keeps the name; the later one is exposed under
            // the default prefix, or hidden if that is taken too (resources keep URIs: hidden).
            let kept = kept.upstream.clone();
            let alternative: Option<Arc<str>> = match kind {
                ItemKind::Resource => None,
                _ => Some(
                    format!(
                        "{}{original}",
                        render_prefix(DEFAULT_PREFIX, upstream.as_str())
                    )
                    .into(),
                ),
            }
            .filter(|alt| !routes.contains_key(alt));
            self.collisions.push(Collision {
                kind,
                name: name.to_string(),
                kept,
                moved: upstream.clone(),
                original: original.to_string(),
                moved_to: alternative.as_ref().map(|a| a.to_string()),
            });
            name = alternative?;
        }
        routes.insert(
            name.clone(),
            Route {
                upstream: upstream.clone(),
                original: original.into(),
            },
        );
        if let Some(rule) = decided_by {
            self.decided.insert((kind, name.clone()), rule);
        }
        Some((name, decision.description))
    }

    /// The upstream that serves a resource URI: an exact listed URI, else the first template
    /// that matches.
    pub fn resource_route(&self, uri: &str) -> Option<Route> {
        if let Some(r) = self.resource_routes.get(uri) {
            return Some(r.clone());
        }
        self.template_routes
            .iter()
            .find(|(t, _)| t.matches(uri))
            .map(|(_, up)| Route {
                upstream: up.clone(),
                original: uri.into(),
            })
    }

    pub fn route(&self, kind: ItemKind, public: &str) -> Option<&Route> {
        match kind {
            ItemKind::Tool => self.tool_routes.get(public),
            ItemKind::Prompt => self.prompt_routes.get(public),
            ItemKind::Resource => self.resource_routes.get(public),
        }
    }

    /// The result of a list request for this view, serialised once per view (a view is
    /// immutable and replaced whole when anything changes) and shared by every request after.
    /// The same result the list handlers build, as rmcp sends it to a client before
    /// 2026-07-28.
    pub fn list_json(&self, kind: ListJson) -> Option<&RawValue> {
        let slot = &self.serialised[kind as usize];
        slot.get_or_init(|| {
            let mut result = match kind {
                ListJson::Tools => ServerResult::ListToolsResult(ListToolsResult::with_all_items(
                    self.tools.clone(),
                )),
                ListJson::Prompts => ServerResult::ListPromptsResult(
                    ListPromptsResult::with_all_items(self.prompts.clone()),
                ),
                ListJson::Resources => ServerResult::ListResourcesResult(
                    ListResourcesResult::with_all_items(self.resources.clone()),
                ),
                ListJson::Templates => ServerResult::ListResourceTemplatesResult(
                    ListResourceTemplatesResult::with_all_items(self.templates.clone()),
                ),
            };
            // What rmcp's server does to a result for a client before 2026-07-28 (the only
            // clients the fast path serves).
            result.strip_result_type_for_legacy_peer();
            result.strip_non_object_output_for_legacy_peer();
            serde_json::to_string(&result)
                .ok()
                .and_then(|j| RawValue::from_string(j).ok())
        })
        .as_deref()
    }

    /// Public names of one kind, for "did you mean".
    pub fn names(&self, kind: ItemKind) -> impl Iterator<Item = &str> {
        let routes = match kind {
            ItemKind::Tool => &self.tool_routes,
            ItemKind::Prompt => &self.prompt_routes,
            ItemKind::Resource => &self.resource_routes,
        };
        routes.keys().map(|k| &**k)
    }
}

/// The prefix a colliding item gets when the profile declares none.
pub const DEFAULT_PREFIX: &str = "{upstream}__";

#[cfg(test)]
mod tests {
    use super::*;
    use rmcp::model::JsonObject;

    fn tool(name: &str) -> Tool {
        Tool::new(name.to_string(), "d", Arc::new(JsonObject::new()))
    }

    #[test]
    fn collisions_keep_the_first_upstream_and_prefix_the_later() {
        let a = UpstreamId::new("a");
        let b = UpstreamId::new("b");
        let la = UpstreamLists {
            tools: Some(Arc::new(vec![tool("echo")])),
            ..Default::default()
        };
        let lb = la.clone();
        let rules = RuleTable::new(vec![], vec![], vec![], None, &[a.clone(), b.clone()]);
        let view = View::build(&rules, &[(&a, &la), (&b, &lb)], Caller::default());
        let names: Vec<&str> = view.tools.iter().map(|t| &*t.name).collect();
        assert_eq!(names, ["echo", "b__echo"]);
        assert_eq!(
            view.route(ItemKind::Tool, "b__echo")
                .unwrap()
                .original
                .as_ref(),
            "echo"
        );
        assert_eq!(view.collisions.len(), 1);
    }

    #[test]
    fn templates_match_concrete_uris() {
        let t = UpstreamTemplate::new("test://static/resource/{id}");
        assert!(t.matches("test://static/resource/42"));
        assert!(!t.matches("test://static/resource/4/2"));
        assert!(!t.matches("test://other/1"));
    }
}

#[cfg(test)]
mod freshness_tests {
    use super::Freshness;
    use rmcp::model::CacheScope;
    use std::time::{Duration, Instant};

    #[test]
    fn the_hub_is_never_fresher_or_more_public_than_its_sources() {
        let now = Instant::now();
        let f = Freshness::default()
            .and(now + Duration::from_secs(60), false)
            .and(now + Duration::from_secs(20), true)
            .and(now + Duration::from_secs(300), false);
        let (ttl, scope) = f.hints();
        assert!(ttl <= 20_000 && ttl > 15_000, "{ttl}");
        assert_eq!(scope, CacheScope::Private);
        let (ttl, scope) = Freshness::default().hints();
        assert_eq!((ttl, scope), (0, CacheScope::Public));
    }
}
