//! Declarations and references: duplicates, unknown names, the default profile.

use super::{Routes, http_upstreams, http_upstreams_text};
use crate::diag::codes;
use crate::syntax::ast::Item;

#[test]
fn duplicate_upstream_across_files_shows_both_places() {
    let mut r = Routes::new();
    r.file("a.mcproute", &http_upstreams_text(&["github"]), |s| {
        http_upstreams(s, &["github"])
    });
    let text = format!("# second file\n{}", http_upstreams_text(&["github"]));
    r.file("b.mcproute", &text, |s| http_upstreams(s, &["github"]));
    let c = r.compile(&[]);
    let d = c.one(codes::DUPLICATE);
    assert!(d.is_error());
    assert_eq!(c.underlined(d), "github");
    let primary = d.primary.as_ref().unwrap().span;
    assert_eq!(c.sources.location(primary).to_string(), "b.mcproute:2:10");
    assert_eq!(c.text(d.secondary[0].span), "github");
    assert_eq!(
        c.sources.location(d.secondary[0].span).to_string(),
        "a.mcproute:1:10"
    );
    let out = c.rendered();
    assert!(
        out.contains("a.mcproute") && out.contains("b.mcproute"),
        "{out}"
    );
    assert!(c.compiled.plan.is_none());
}

#[test]
fn a_global_setting_given_in_two_files_is_an_error_with_both_places() {
    let mut r = Routes::new();
    r.file("a.mcproute", "listen 127.0.0.1:1\n", |s| {
        vec![s.listen("127.0.0.1:1")]
    });
    r.file("b.mcproute", "listen 127.0.0.1:2\n", |s| {
        vec![s.listen("127.0.0.1:2")]
    });
    let c = r.compile(&[]);
    let d = c.one(codes::DUPLICATE_SETTING_ACROSS_FILES);
    assert_eq!(c.underlined(d), "listen 127.0.0.1:2");
    assert_eq!(c.text(d.secondary[0].span), "listen 127.0.0.1:1");
    assert_eq!(d.secondary[0].span.file.0, 0);
}

#[test]
fn unknown_upstream_in_use_suggests_the_close_name() {
    let text = format!(
        "{}profile p {{\n  use githb\n}}\n",
        http_upstreams_text(&["github"])
    );
    let mut r = Routes::new();
    r.file("r.mcproute", &text, |s| {
        let mut items = http_upstreams(s, &["github"]);
        let mut p = s.profile("p");
        s.span("use");
        p.uses.push(s.word("githb"));
        items.push(Item::Profile(p));
        items
    });
    let c = r.compile(&[]);
    let d = c.one(codes::UNKNOWN_UPSTREAM);
    assert_eq!(c.underlined(d), "githb");
    assert_eq!(d.help.as_deref(), Some("did you mean `github`?"));
    assert!(c.compiled.plan.is_none());
    assert!(
        c.with_code(codes::EMPTY_PROFILE).is_empty(),
        "no cascade: {}",
        c.rendered()
    );
}

#[test]
fn rule_targets_renames_and_limits_must_name_declared_upstreams_but_globs_need_not() {
    let text = format!(
        "{}profile p {{\n  allow tool gihub/x\n  deny tool git*/y\n  rename tool fils/a -> b\n  limit nope 1/s\n}}\n",
        http_upstreams_text(&["github", "files"])
    );
    let mut r = Routes::new();
    r.file("r.mcproute", &text, |s| {
        let mut items = http_upstreams(s, &["github", "files"]);
        let mut p = s.profile("p");
        p.rules.push(s.filter("allow", "tool", "gihub", "x"));
        p.rules.push(s.filter("deny", "tool", "git*", "y"));
        p.rules.push(s.rename("tool", "fils", "a", "b"));
        p.limits.push(s.limit("nope", "1/s", None));
        items.push(Item::Profile(p));
        items
    });
    let c = r.compile(&[]);
    let found: Vec<&str> = c
        .with_code(codes::UNKNOWN_UPSTREAM)
        .iter()
        .map(|d| c.underlined(d))
        .collect();
    assert_eq!(found, ["gihub", "fils", "nope"], "{}", c.rendered());
    let fils = c.with_code(codes::UNKNOWN_UPSTREAM)[1];
    assert_eq!(fils.help.as_deref(), Some("did you mean `files`?"));
}

#[test]
fn unknown_profiles_in_endpoints_and_default_profile() {
    let text = format!(
        "{}profile safe {{\n}}\nprofile ops {{\n}}\ndefault-profile sfe\nendpoint \"/x\" -> opz\n",
        http_upstreams_text(&["a"])
    );
    let mut r = Routes::new();
    r.file("r.mcproute", &text, |s| {
        let mut items = http_upstreams(s, &["a"]);
        items.push(Item::Profile(s.profile("safe")));
        items.push(Item::Profile(s.profile("ops")));
        items.push(s.default_profile("sfe"));
        items.push(Item::Endpoint(s.endpoint("/x", "opz")));
        items
    });
    let c = r.compile(&[]);
    let found: Vec<(&str, Option<&str>)> = c
        .with_code(codes::UNKNOWN_PROFILE)
        .iter()
        .map(|d| (c.underlined(d), d.help.as_deref()))
        .collect();
    assert_eq!(
        found,
        [
            ("opz", Some("did you mean `ops`?")),
            ("sfe", Some("did you mean `safe`?"))
        ]
    );
    assert!(c.with_code(codes::NO_DEFAULT_PROFILE).is_empty());
}

fn two_profiles(
    extra: &str,
    build_extra: impl FnOnce(&mut super::Src) -> Vec<Item>,
) -> super::Checked {
    let text = format!(
        "{}profile safe {{\n}}\nprofile ops {{\n}}\n{extra}",
        http_upstreams_text(&["a"])
    );
    let mut r = Routes::new();
    r.file("r.mcproute", &text, |s| {
        let mut items = http_upstreams(s, &["a"]);
        items.push(Item::Profile(s.profile("safe")));
        items.push(Item::Profile(s.profile("ops")));
        items.extend(build_extra(s));
        items
    });
    r.compile(&[])
}

#[test]
fn several_profiles_without_a_way_to_choose_point_at_each() {
    let c = two_profiles("", |_| vec![]);
    let d = c.one(codes::NO_DEFAULT_PROFILE);
    assert_eq!(c.underlined(d), "safe");
    assert_eq!(c.text(d.secondary[0].span), "ops");
    assert!(d.help.as_deref().unwrap().contains("default-profile"));
    assert!(c.compiled.plan.is_none());

    let c = two_profiles("default-profile ops\n", |s| vec![s.default_profile("ops")]);
    assert_eq!(
        c.compiled.plan.expect("plan").default_profile.as_str(),
        "ops"
    );
}

#[test]
fn a_profile_named_default_is_the_default() {
    let text = format!(
        "{}profile x {{\n}}\nprofile default {{\n}}\n",
        http_upstreams_text(&["a"])
    );
    let mut r = Routes::new();
    r.file("r.mcproute", &text, |s| {
        let mut items = http_upstreams(s, &["a"]);
        items.push(Item::Profile(s.profile("x")));
        items.push(Item::Profile(s.profile("default")));
        items
    });
    let plan = r.compile(&[]).compiled.plan.expect("plan");
    assert_eq!(plan.default_profile.as_str(), "default");
    assert_eq!(plan.endpoints[0].profile.as_str(), "default");
}

#[test]
fn every_problem_is_reported_not_only_the_first_in_reading_order() {
    let text =
        "upstream a {\n}\nupstream b {\n  http \"ftp://b\"\n  timeout 0s\n}\nlisten nowhere\n";
    let mut r = Routes::new();
    r.file("r.mcproute", text, |s| {
        let a = s.upstream("a");
        let mut b = s.upstream("b");
        b.transport = Some(s.http("ftp://b"));
        b.timeout = Some(s.word("0s"));
        vec![Item::Upstream(a), Item::Upstream(b), s.listen("nowhere")]
    });
    let c = r.compile(&[]);
    let sorted: Vec<&str> = c
        .compiled
        .diagnostics
        .sorted()
        .iter()
        .map(|d| d.code)
        .collect();
    assert_eq!(
        sorted,
        [
            codes::MISSING_TRANSPORT,
            codes::BAD_URL,
            codes::BAD_DURATION,
            codes::BAD_LISTEN
        ]
    );
    assert_eq!(c.underlined(c.one(codes::BAD_DURATION)), "0s");
    assert_eq!(c.underlined(c.one(codes::BAD_URL)), "\"ftp://b\"");
    assert!(c.compiled.plan.is_none());
}

#[test]
fn rename_of_an_upstream_outside_the_profile_is_an_error_a_filter_only_a_warning() {
    let text = format!(
        "{}profile p {{\n  use a\n  deny tool b/x\n  rename tool b/y -> z\n}}\n",
        http_upstreams_text(&["a", "b"])
    );
    let mut r = Routes::new();
    r.file("r.mcproute", &text, |s| {
        let mut items = http_upstreams(s, &["a", "b"]);
        let mut p = s.profile("p");
        s.span("use");
        p.uses.push(s.word("a"));
        p.rules.push(s.filter("deny", "tool", "b", "x"));
        p.rules.push(s.rename("tool", "b", "y", "z"));
        items.push(Item::Profile(p));
        items
    });
    let c = r.compile(&[]);
    let found = c.with_code(codes::UPSTREAM_NOT_IN_PROFILE);
    assert_eq!(found.len(), 2, "{}", c.rendered());
    assert!(!found[0].is_error() && found[1].is_error());
    assert_eq!(c.underlined(found[1]), "b");
    assert!(
        c.rendered()
            .contains("profile `p` does not use upstream `b`")
    );
}

#[test]
fn no_upstreams_at_all_is_a_warning_and_still_a_plan() {
    let mut r = Routes::new();
    r.file("empty.mcproute", "# nothing yet\n", |_| vec![]);
    let c = r.compile(&[]);
    let d = c.one(codes::EMPTY_PLAN);
    assert!(!d.is_error());
    let plan = c.compiled.plan.expect("plan");
    assert_eq!(plan.endpoints[0].path, "/mcp");
}

#[test]
fn profiles_without_upstreams_are_each_warned_about_once() {
    let mut r = Routes::new();
    r.file(
        "p.mcproute",
        "profile a {}\nprofile b {}\ndefault-profile a\n",
        |s| {
            let a = s.profile("a");
            let b = s.profile("b");
            s.span("default-profile");
            vec![
                Item::Profile(a),
                Item::Profile(b),
                Item::DefaultProfile(s.word("a")),
            ]
        },
    );
    let c = r.compile(&[]);
    assert_eq!(
        c.codes(),
        [codes::EMPTY_PROFILE, codes::EMPTY_PROFILE],
        "{}",
        c.rendered()
    );
    assert!(c.compiled.plan.is_some());
}

#[test]
fn locations_in_the_plan_agree_with_the_source_set() {
    let text = "# é comment\r\n\n/* é */ upstream a {\n  http \"https://a.example.com/mcp\"\n}\n";
    let mut r = Routes::new();
    r.file("x.mcproute", text, |s| http_upstreams(s, &["a"]));
    let c = r.compile(&[]);
    let plan = c.compiled.plan.as_ref().expect("plan");
    let span =
        crate::source::Span::new(crate::source::FileId(0), text.find("upstream").unwrap(), 0);
    assert_eq!(plan.upstreams["a"].origin, c.sources.location(span));
    let origin = &plan.upstreams["a"].origin;
    assert_eq!(
        (origin.line, origin.col),
        (3, 9),
        "columns count characters"
    );
}

#[test]
fn after_syntax_errors_names_are_not_resolved_but_values_are_still_checked() {
    // The parser may have dropped a declaration that `use` names: "unknown upstream" would be
    // noise, while a bad URL in a declaration that did parse is still worth showing.
    let text = "upstream a {\n  http \"ftp://a\"\n}\nprofile p {\n  use dropped\n}\n";
    let mut r = Routes::new();
    r.file("r.mcproute", text, |s| {
        let mut a = s.upstream("a");
        a.transport = Some(s.http("ftp://a"));
        let mut p = s.profile("p");
        s.span("use");
        p.uses.push(s.word("dropped"));
        vec![Item::Upstream(a), Item::Profile(p)]
    });
    let c = r.compile_after_syntax_errors(&[]);
    let codes: Vec<&str> = c.compiled.diagnostics.iter().map(|d| d.code).collect();
    assert_eq!(codes, [codes::BAD_URL]);
    assert!(c.compiled.plan.is_none());
    let c = r.compile(&[]);
    assert_eq!(c.with_code(codes::UNKNOWN_UPSTREAM).len(), 1);
}
