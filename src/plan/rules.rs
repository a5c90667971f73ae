//! A profile's rule table and the one pure decision function over it.
//!
//! [`RuleTable::decide`] answers, for one item an upstream offers (a tool, prompt or resource) and
//! one caller, whether the caller may see and use it, under which public name and description,
//! and which rule decided. The hub calls it to filter and rename lists, the call path calls it to
//! guard calls, and `mcp2 explain` calls it with a tracer to print every rule it consulted. There
//! is no second implementation of the rules anywhere.
//!
//! Semantics: filter rules of the item's kind are tried in the order written; the first whose
//! target matches decides. When none matches, the item is denied if the profile has an `allow`
//! rule of that kind whose upstream pattern covers the item's upstream (an allow-list was
//! declared for it), and allowed otherwise.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use globset::GlobMatcher;
use regex::Regex;
use serde::{Serialize, Serializer};

use super::UpstreamId;
use super::authz::{CallerClass, CallerCondition};
use crate::source::Location;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ItemKind {
    Tool,
    Prompt,
    Resource,
}

impl ItemKind {
    pub const ALL: [ItemKind; 3] = [ItemKind::Tool, ItemKind::Prompt, ItemKind::Resource];

    pub fn keyword(self) -> &'static str {
        match self {
            ItemKind::Tool => "tool",
            ItemKind::Prompt => "prompt",
            ItemKind::Resource => "resource",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for ItemKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.keyword())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    Allow,
    Deny,
}

/// A compiled `UPSTREAM/NAME` or `UPSTREAM matching /regex/` target.
#[derive(Debug, Clone)]
pub struct Matcher {
    upstream: GlobMatcher,
    name: NameMatcher,
    /// The target as written, for `explain` and `config`.
    text: Arc<str>,
}

#[derive(Debug, Clone)]
pub enum NameMatcher {
    Glob(GlobMatcher),
    Regex(Regex),
}

impl Matcher {
    pub fn new(upstream: GlobMatcher, name: NameMatcher, text: impl Into<Arc<str>>) -> Self {
        Self {
            upstream,
            name,
            text: text.into(),
        }
    }

    pub fn matches_upstream(&self, upstream: &str) -> bool {
        self.upstream.is_match(upstream)
    }

    pub fn matches(&self, upstream: &str, name: &str) -> bool {
        self.matches_upstream(upstream)
            && match &self.name {
                NameMatcher::Glob(g) => g.is_match(name),
                NameMatcher::Regex(r) => r.is_match(name),
            }
    }

    pub fn text(&self) -> &str {
        &self.text
    }

    pub fn upstream_glob(&self) -> &str {
        self.upstream.glob().glob()
    }

    pub fn name_matcher(&self) -> &NameMatcher {
        &self.name
    }
}

impl Serialize for Matcher {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.text)
    }
}

/// Identifies a rule for traces: its position in the profile and where it was written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RuleRef {
    /// The rule as a reader would write it (`deny tool files/*write*`).
    pub text: Arc<str>,
    pub origin: Location,
}

#[derive(Debug, Clone, Serialize)]
pub struct FilterRule {
    pub action: Action,
    pub kind: ItemKind,
    pub matcher: Matcher,
    /// `when …` / `unless …`: the rule applies only to callers for whom this holds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub condition: Option<CallerCondition>,
    pub rule: RuleRef,
}

impl FilterRule {
    /// Whether this rule decides for this item and caller.
    pub fn applies(&self, item: ItemRef<'_>, caller: Caller<'_>) -> bool {
        self.matcher.matches(item.upstream, item.name)
            && self.condition.as_ref().is_none_or(|c| c.holds(caller))
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Rename {
    pub to: Arc<str>,
    pub rule: RuleRef,
}

#[derive(Debug, Clone, Serialize)]
pub struct Describe {
    pub text: Arc<str>,
    pub rule: RuleRef,
}

/// Who is asking. Rules may depend on it (identity-based rules); lists are cached per upstream
/// and filtered per caller, so a caller never multiplies upstream calls.
#[derive(Debug, Clone, Copy, Default)]
pub struct Caller<'a> {
    /// The endpoint path the request came in on.
    pub endpoint: &'a str,
    /// The name (never the value) of the API key the caller presented.
    pub api_key: Option<&'a str>,
    /// Verified token claims.
    pub claims: Option<&'a serde_json::Value>,
}

/// One item an upstream offers, by its original name (or URI, for resources).
#[derive(Debug, Clone, Copy)]
pub struct ItemRef<'a> {
    pub kind: ItemKind,
    pub upstream: &'a str,
    pub name: &'a str,
}

/// The outcome for one item and one caller.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Decision {
    pub visible: bool,
    /// The name clients see (after rename or prefix). Resources keep their URI.
    pub public_name: String,
    /// A replacement description, when a `describe` rule applies.
    pub description: Option<Arc<str>>,
    /// The filter rule that decided; `None` when the default decided.
    pub decided_by: Option<RuleRef>,
    pub renamed_by: Option<RuleRef>,
    pub described_by: Option<RuleRef>,
}

/// One thing `decide` looked at, in order, for `explain`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "step", rename_all = "snake_case")]
pub enum Step {
    /// A filter rule was tried.
    Rule {
        rule: RuleRef,
        matched: bool,
        action: Action,
    },
    /// No rule matched; the default applied.
    Default { allowed: bool, reason: String },
    /// The public name came from a rename rule.
    Renamed { rule: RuleRef, to: String },
    /// The public name came from the profile's prefix.
    Prefixed { prefix: String, to: String },
    /// A describe rule replaced the description.
    Described { rule: RuleRef },
}

/// What the table knows about one upstream of the profile, precomputed so that a decision is a
/// few map lookups.
#[derive(Debug, Clone, Default, Serialize)]
struct UpstreamRules {
    /// Per kind: original name → rename.
    renames: [HashMap<String, Rename>; 3],
    /// Per kind: original name → describe.
    describes: [HashMap<String, Describe>; 3],
    /// Per kind: whether some `allow` rule covers this upstream (its default is then deny).
    allow_listed: [bool; 3],
    /// The rendered prefix (`{upstream}__` → `github__`), when the profile prefixes names.
    prefix: Option<Arc<str>>,
}

/// A profile's compiled rules. Built once by `check`; read-only afterwards.
#[derive(Debug, Clone, Default, Serialize)]
pub struct RuleTable {
    /// Filter rules per kind, in the order written.
    filters: [Vec<FilterRule>; 3],
    upstreams: HashMap<UpstreamId, UpstreamRules>,
    /// The prefix template as written.
    prefix_template: Option<Arc<str>>,
    /// Every caller condition of the table, in rule order (for [`RuleTable::caller_class`]).
    #[serde(skip)]
    conditions: Vec<CallerCondition>,
}

/// A rename or describe rule, as `check` hands it to [`RuleTable::new`].
pub struct NameRule<T> {
    pub kind: ItemKind,
    pub upstream: UpstreamId,
    pub name: String,
    pub value: T,
}

impl RuleTable {
    /// Builds a table. `upstreams` are the profile's upstreams (used to precompute prefixes and
    /// which upstreams have allow-lists).
    pub fn new(
        filters: Vec<FilterRule>,
        renames: Vec<NameRule<Rename>>,
        describes: Vec<NameRule<Describe>>,
        prefix_template: Option<String>,
        upstreams: &[UpstreamId],
    ) -> Self {
        let mut per: HashMap<UpstreamId, UpstreamRules> = upstreams
            .iter()
            .map(|u| {
                let prefix = prefix_template
                    .as_deref()
                    .map(|t| Arc::from(render_prefix(t, u.as_str())));
                (
                    u.clone(),
                    UpstreamRules {
                        prefix,
                        ..Default::default()
                    },
                )
            })
            .collect();
        let mut by_kind: [Vec<FilterRule>; 3] = Default::default();
        for rule in filters {
            if rule.action == Action::Allow {
                for (up, rules) in per.iter_mut() {
                    if rule.matcher.matches_upstream(up.as_str()) {
                        rules.allow_listed[rule.kind.index()] = true;
                    }
                }
            }
            by_kind[rule.kind.index()].push(rule);
        }
        let conditions = by_kind
            .iter()
            .flatten()
            .filter_map(|r| r.condition.clone())
            .collect();
        for r in renames {
            per.entry(r.upstream).or_default().renames[r.kind.index()].insert(r.name, r.value);
        }
        for d in describes {
            per.entry(d.upstream).or_default().describes[d.kind.index()].insert(d.name, d.value);
        }
        Self {
            filters: by_kind,
            upstreams: per,
            prefix_template: prefix_template.map(Arc::from),
            conditions,
        }
    }

    /// Whether any rule depends on the caller.
    pub fn has_conditions(&self) -> bool {
        !self.conditions.is_empty()
    }

    /// The caller's class under this table: callers of equal classes get equal decisions for
    /// every item, so they can share one view.
    pub fn caller_class(&self, caller: Caller<'_>) -> CallerClass {
        CallerClass::new(self.conditions.iter().map(|c| c.holds(caller)).collect())
    }

    /// The claims (top-level names) the table's conditions read.
    pub fn claims_read(&self) -> Vec<&str> {
        let mut names: Vec<&str> = self
            .conditions
            .iter()
            .filter_map(|c| c.claim_root())
            .collect();
        names.sort_unstable();
        names.dedup();
        names
    }

    pub fn filters(&self, kind: ItemKind) -> &[FilterRule] {
        &self.filters[kind.index()]
    }

    /// How many rules the table holds (filters, renames and describes), for summaries.
    pub fn rule_count(&self) -> usize {
        let filters: usize = self.filters.iter().map(Vec::len).sum();
        let named: usize = self
            .upstreams
            .values()
            .map(|u| {
                let renames: usize = u.renames.iter().map(HashMap::len).sum();
                let describes: usize = u.describes.iter().map(HashMap::len).sum();
                renames + describes
            })
            .sum();
        filters + named
    }

    pub fn prefix_template(&self) -> Option<&str> {
        self.prefix_template.as_deref()
    }

    /// The rendered prefix of one upstream, if the profile prefixes names.
    pub fn prefix_of(&self, upstream: &str) -> Option<&str> {
        self.upstreams
            .get(upstream)
            .and_then(|u| u.prefix.as_deref())
    }

    /// Every rename of one kind, as (upstream, original name, rename).
    pub fn renames(&self, kind: ItemKind) -> impl Iterator<Item = (&UpstreamId, &str, &Rename)> {
        self.upstreams.iter().flat_map(move |(u, rules)| {
            rules.renames[kind.index()]
                .iter()
                .map(move |(n, r)| (u, n.as_str(), r))
        })
    }

    /// Whether an item of this kind from this upstream is shown when no filter rule matches it:
    /// `false` once some `allow` rule of that kind covers the upstream (an allow-list).
    pub fn default_allows(&self, kind: ItemKind, upstream: &str) -> bool {
        !self
            .upstreams
            .get(upstream)
            .is_some_and(|p| p.allow_listed[kind.index()])
    }

    /// The decision for one item and caller.
    pub fn decide(&self, item: ItemRef<'_>, caller: Caller<'_>) -> Decision {
        self.decide_inner(item, caller, &mut Tracer(None))
    }

    /// [`decide`](Self::decide), reporting each step to `trace` (for `explain`).
    pub fn decide_traced(
        &self,
        item: ItemRef<'_>,
        caller: Caller<'_>,
        trace: &mut dyn FnMut(Step),
    ) -> Decision {
        self.decide_inner(item, caller, &mut Tracer(Some(trace)))
    }

    fn decide_inner(
        &self,
        item: ItemRef<'_>,
        caller: Caller<'_>,
        trace: &mut Tracer<'_>,
    ) -> Decision {
        let per = self.upstreams.get(item.upstream);
        let (visible, decided_by) = self.filter(item, caller, trace);
        let k = item.kind.index();
        let rename = per.and_then(|p| p.renames[k].get(item.name));
        let describe = per.and_then(|p| p.describes[k].get(item.name));
        let public_name = match (rename, item.kind) {
            (Some(r), _) => {
                trace.emit(|| Step::Renamed {
                    rule: r.rule.clone(),
                    to: r.to.to_string(),
                });
                r.to.to_string()
            }
            (None, ItemKind::Resource) => item.name.to_string(),
            (None, _) => match per.and_then(|p| p.prefix.as_deref()) {
                Some(prefix) => {
                    let to = format!("{prefix}{}", item.name);
                    trace.emit(|| Step::Prefixed {
                        prefix: prefix.to_string(),
                        to: to.clone(),
                    });
                    to
                }
                None => item.name.to_string(),
            },
        };
        if let Some(d) = describe {
            trace.emit(|| Step::Described {
                rule: d.rule.clone(),
            });
        }
        Decision {
            visible,
            public_name,
            description: describe.map(|d| d.text.clone()),
            decided_by,
            renamed_by: rename.map(|r| r.rule.clone()),
            described_by: describe.map(|d| d.rule.clone()),
        }
    }

    fn filter(
        &self,
        item: ItemRef<'_>,
        caller: Caller<'_>,
        trace: &mut Tracer<'_>,
    ) -> (bool, Option<RuleRef>) {
        for rule in self.filters(item.kind) {
            let matched = rule.applies(item, caller);
            trace.emit(|| Step::Rule {
                rule: rule.rule.clone(),
                matched,
                action: rule.action,
            });
            if matched {
                return (rule.action == Action::Allow, Some(rule.rule.clone()));
            }
        }
        let listed = !self.default_allows(item.kind, item.upstream);
        trace.emit(|| Step::Default {
            allowed: !listed,
            reason: if listed {
                format!(
                    "no rule matched, and `{}` has an allow-list for {}s, so anything not allowed is hidden",
                    item.upstream, item.kind
                )
            } else {
                format!(
                    "no rule matched, and no allow rule covers {}s of `{}`, so everything is visible",
                    item.kind, item.upstream
                )
            },
        });
        (!listed, None)
    }
}

/// Builds steps only when someone listens, so the serving path allocates nothing for traces.
struct Tracer<'a>(Option<&'a mut dyn FnMut(Step)>);

impl Tracer<'_> {
    fn emit(&mut self, step: impl FnOnce() -> Step) {
        if let Some(f) = self.0.as_mut() {
            f(step())
        }
    }
}

/// Renders a prefix template for one upstream: `{upstream}` becomes the upstream's name.
pub fn render_prefix(template: &str, upstream: &str) -> String {
    template.replace("{upstream}", upstream)
}

#[cfg(test)]
mod tests {
    use super::*;
    use globset::Glob;

    fn glob(s: &str) -> GlobMatcher {
        Glob::new(s).unwrap().compile_matcher()
    }

    fn rule(action: Action, up: &str, name: &str) -> FilterRule {
        let text = format!("{action:?} tool {up}/{name}").to_lowercase();
        FilterRule {
            action,
            kind: ItemKind::Tool,
            matcher: Matcher::new(
                glob(up),
                NameMatcher::Glob(glob(name)),
                format!("{up}/{name}"),
            ),
            condition: None,
            rule: RuleRef {
                text: text.into(),
                origin: Location {
                    file: "t.mcproute".into(),
                    line: 1,
                    col: 1,
                },
            },
        }
    }

    fn tool<'a>(up: &'a str, name: &'a str) -> ItemRef<'a> {
        ItemRef {
            kind: ItemKind::Tool,
            upstream: up,
            name,
        }
    }

    #[test]
    fn first_match_wins_and_allow_lists_default_to_deny() {
        let ups = [UpstreamId::new("github"), UpstreamId::new("files")];
        let table = RuleTable::new(
            vec![
                rule(Action::Deny, "files", "*write*"),
                rule(Action::Allow, "github", "search_*"),
            ],
            vec![],
            vec![],
            Some("{upstream}__".into()),
            &ups,
        );
        let c = Caller::default();
        assert!(table.decide(tool("github", "search_code"), c).visible);
        assert!(!table.decide(tool("github", "delete_repo"), c).visible);
        assert!(!table.decide(tool("files", "write_file"), c).visible);
        let read = table.decide(tool("files", "read_file"), c);
        assert!(read.visible);
        assert_eq!(read.public_name, "files__read_file");
        assert!(read.decided_by.is_none());
    }

    #[test]
    fn conditional_rules_apply_only_to_their_callers_and_classes_follow_them() {
        use crate::plan::authz::{CallerCondition, CallerTest, ClaimOp};
        let ups = [UpstreamId::new("ops")];
        let mut eng_only = rule(Action::Deny, "ops", "deploy");
        eng_only.condition = Some(CallerCondition {
            negate: true,
            test: CallerTest::Claim {
                path: vec!["groups".into()],
                op: ClaimOp::Contains("eng".into()),
            },
            text: "unless claim groups contains \"eng\"".into(),
        });
        let table = RuleTable::new(vec![eng_only], vec![], vec![], None, &ups);
        let eng = serde_json::json!({"sub": "alice", "groups": ["eng"]});
        let eng2 = serde_json::json!({"sub": "carol", "groups": ["eng", "ops"]});
        let sales = serde_json::json!({"sub": "bob", "groups": ["sales"]});
        let who = |claims| Caller {
            endpoint: "/mcp",
            api_key: None,
            claims: Some(claims),
        };
        let deploy = tool("ops", "deploy");
        assert!(table.decide(deploy, who(&eng)).visible);
        let refused = table.decide(deploy, who(&sales));
        assert!(!refused.visible);
        assert!(refused.decided_by.is_some());
        assert!(!table.decide(deploy, Caller::default()).visible);
        // Other tools are not affected by the condition.
        assert!(table.decide(tool("ops", "status"), who(&sales)).visible);
        // Callers the rules cannot tell apart share a class; others do not.
        assert_eq!(
            table.caller_class(who(&eng)),
            table.caller_class(who(&eng2))
        );
        assert_ne!(
            table.caller_class(who(&eng)),
            table.caller_class(who(&sales))
        );
        assert_eq!(table.claims_read(), ["groups"]);
    }

    #[test]
    fn tracing_reports_every_rule_tried() {
        let ups = [UpstreamId::new("a")];
        let table = RuleTable::new(
            vec![rule(Action::Deny, "a", "x"), rule(Action::Allow, "a", "*")],
            vec![],
            vec![],
            None,
            &ups,
        );
        let mut steps = Vec::new();
        let d = table.decide_traced(tool("a", "y"), Caller::default(), &mut |s| steps.push(s));
        assert!(d.visible);
        assert_eq!(steps.len(), 2);
        assert!(matches!(steps[0], Step::Rule { matched: false, .. }));
        assert!(matches!(steps[1], Step::Rule { matched: true, .. }));
    }
}
