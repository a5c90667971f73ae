//! Property: `explain` says what the serving code does. For generated rule tables (allow, deny,
//! rename, prefix over three upstreams, with globs) and generated upstream tool lists, the view
//! the gateway builds (`View::build`, what `tools/list` and `tools/call` serve) is compared with
//! the explanation: the same visible names, each with the upstream and original name the view
//! routes it to; every call the view routes is explained as routed there, and offline explain
//! lists it among the places the name can go; every name the view does not route is explained
//! as hidden (by the rule `decide` names) or unknown.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use mcp2::check;
use mcp2::explain::{self, Lists, Method, Outcome, Question, Source};
use mcp2::gateway::{CachePolicy, UpstreamLists, View};
use mcp2::plan::rules::{Caller, ItemKind, ItemRef};
use mcp2::plan::{Plan, UpstreamId};
use mcp2::source::SourceSet;
use proptest::prelude::*;
use rmcp::model::{JsonObject, Tool};

const UPSTREAMS: [&str; 3] = ["a", "b", "c"];
const NAMES: [&str; 7] = ["x", "xy", "yx", "y", "xyz", "r1", "a__x"];

#[derive(Debug, Clone)]
enum Rule {
    Filter(bool, &'static str, &'static str),
    Rename(&'static str, &'static str, &'static str),
}

fn rule() -> impl Strategy<Value = Rule> {
    let up = prop::sample::select(vec!["a", "b", "c", "*", "{a,b}"]);
    let name = prop::sample::select(vec!["x*", "*y", "xy", "y?", "*", "r1", "*x*"]);
    let rename_up = prop::sample::select(UPSTREAMS.to_vec());
    let rename_name = prop::sample::select(NAMES.to_vec());
    let to = prop::sample::select(vec!["r1", "r2", "x"]);
    prop_oneof![
        3 => (any::<bool>(), up, name).prop_map(|(allow, u, n)| Rule::Filter(allow, u, n)),
        1 => (rename_up, rename_name, to).prop_map(|(u, n, t)| Rule::Rename(u, n, t)),
    ]
}

fn routes(rules: &[Rule], prefix: Option<&str>, order: &[&str]) -> String {
    let mut text = String::new();
    for u in UPSTREAMS {
        text.push_str(&format!("upstream {u} {{\n  stdio \"server-{u}\"\n}}\n"));
    }
    text.push_str(&format!("profile default {{\n  use {}\n", order.join(", ")));
    if let Some(p) = prefix {
        text.push_str(&format!("  prefix \"{p}\"\n"));
    }
    for r in rules {
        match r {
            Rule::Filter(allow, u, n) => {
                let action = if *allow { "allow" } else { "deny" };
                text.push_str(&format!("  {action} tool {u}/{n}\n"));
            }
            Rule::Rename(u, n, t) => text.push_str(&format!("  rename tool {u}/{n} -> {t}\n")),
        }
    }
    text.push_str("}\n");
    text
}

fn compile(text: &str) -> Option<Plan> {
    let mut sources = SourceSet::new();
    sources.add("p.mcproute", text.to_string());
    check::compile(&sources, &HashMap::<String, String>::new()).plan
}

fn lists(names: &BTreeSet<&'static str>) -> UpstreamLists {
    let schema = Arc::new(JsonObject::new());
    UpstreamLists {
        tools: Some(Arc::new(
            names
                .iter()
                .map(|n| Tool::new(n.to_string(), "d", schema.clone()))
                .collect(),
        )),
        ..Default::default()
    }
}

fn question(method: Method, target: Option<&str>) -> Question {
    Question {
        method,
        target: target.map(str::to_string),
        endpoint: "/mcp".into(),
        headers: Vec::new(),
        identity: Default::default(),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn explain_agrees_with_the_served_view(
        rules in prop::collection::vec(rule(), 0..6),
        prefix in prop::option::of(prop::sample::select(vec!["{upstream}__", "p_"])),
        order in Just(UPSTREAMS.to_vec()).prop_shuffle(),
        offered in prop::collection::vec(prop::collection::btree_set(prop::sample::select(NAMES.to_vec()), 0..5), 3),
    ) {
        let text = routes(&rules, prefix, &order);
        let plan = compile(&text);
        prop_assume!(plan.is_some());
        let plan = plan.unwrap();
        let profile = plan.profile("default").unwrap().clone();
        let ids: Vec<UpstreamId> = profile.upstreams.clone();
        let upstream_lists: Vec<UpstreamLists> = ids
            .iter()
            .map(|id| lists(&offered[UPSTREAMS.iter().position(|u| *u == id.as_str()).unwrap()]))
            .collect();
        let inputs: Vec<(&UpstreamId, &UpstreamLists)> = ids.iter().zip(&upstream_lists).collect();
        let caller = Caller { endpoint: "/mcp", api_key: None, claims: None };
        // The serving code: the view `tools/list` and `tools/call` use.
        let view = View::build(&profile.rules, &inputs, caller);
        let live = Lists {
            inputs: ids.iter().cloned().zip(upstream_lists.iter().cloned()).collect(),
            view: &view,
            cached: Vec::new(),
            policy: CachePolicy::default(),
        };

        // tools/list: the same visible names, each decided as the view routes it.
        let e = explain::build(&plan, &question(Method::ToolsList, None), Some(&live), Source::Live);
        let served: Vec<String> = view.tools.iter().map(|t| t.name.to_string()).collect();
        match &e.outcome {
            Outcome::List { visible: Some(v) } => prop_assert_eq!(v, &served),
            other => prop_assert!(false, "{other:?}"),
        }
        let mut explained: Vec<(String, String, String)> = e
            .items
            .iter()
            .filter(|i| i.visible)
            .map(|i| (i.public_name.clone(), i.upstream.clone(), i.original.clone()))
            .collect();
        explained.sort();
        let mut routed: Vec<(String, String, String)> = view
            .tool_routes
            .iter()
            .map(|(p, r)| (p.to_string(), r.upstream.to_string(), r.original.to_string()))
            .collect();
        routed.sort();
        prop_assert_eq!(&explained, &routed, "routes:\n{}", text);

        // tools/call of every public name, every original name and a few others.
        let mut names: BTreeSet<String> = served.iter().cloned().collect();
        names.extend(NAMES.iter().map(|n| n.to_string()));
        for u in UPSTREAMS {
            for n in NAMES {
                names.insert(format!("{u}__{n}"));
                names.insert(format!("p_{n}"));
            }
        }
        for name in &names {
            let q = question(Method::ToolsCall, Some(name));
            let e = explain::build(&plan, &q, Some(&live), Source::Live);
            match (view.route(ItemKind::Tool, name), &e.outcome) {
                (Some(r), Outcome::Routed { upstream, original, .. }) => {
                    prop_assert_eq!(upstream.as_str(), r.upstream.as_str());
                    prop_assert_eq!(original.as_str(), &*r.original);
                    prop_assert!(
                        e.items.iter().any(|i| i.upstream == upstream.as_str()
                            && i.original == original.as_str() && i.visible),
                        "{name}: the routed item has no visible trace\n{text}"
                    );
                    // Offline, from the routes alone, the real route is one of the places
                    // the name can go.
                    let off = explain::build(&plan, &q, None, Source::Offline);
                    let place = format!("{}/{}", r.upstream, r.original);
                    match &off.outcome {
                        Outcome::Routed { upstream, original, fallbacks, .. } => prop_assert!(
                            format!("{upstream}/{original}") == place || fallbacks.contains(&place),
                            "{name}: offline missed {place}: {:?}\n{text}", off.outcome
                        ),
                        other => prop_assert!(false, "{name}: offline said {other:?}, served {place}\n{text}"),
                    }
                }
                (None, Outcome::Hidden { upstream, original, rule, .. }) => {
                    let d = profile.rules.decide(
                        ItemRef { kind: ItemKind::Tool, upstream, name: original },
                        caller,
                    );
                    if rule.is_some() {
                        prop_assert!(!d.visible);
                        prop_assert_eq!(&d.decided_by, rule);
                    }
                }
                (None, Outcome::Unknown { .. }) => {
                    prop_assert!(
                        !e.items.iter().any(|i| i.offered == Some(true) && i.visible
                            && i.public_name == *name),
                        "{name}: explained unknown, yet an offered item is visible under it\n{text}"
                    );
                }
                (served, said) => prop_assert!(false, "{name}: served {served:?}, explained {said:?}\n{text}"),
            }
        }
    }
}
