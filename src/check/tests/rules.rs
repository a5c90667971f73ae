//! Rules: matcher compilation, shadowed rules, rename collisions, prefixes.

use super::{Checked, Routes, Src, http_upstreams, http_upstreams_text};
use crate::diag::codes;
use crate::plan::rules::ItemKind;
use crate::syntax::ast::{Item, Profile};

/// Upstreams `files` and `github` and one profile `p` whose body is `body`, built by `f`.
fn profile(body: &str, f: impl FnOnce(&mut Src, &mut Profile)) -> Checked {
    let names = ["files", "github"];
    let text = format!("{}profile p {{\n{body}}}\n", http_upstreams_text(&names));
    let mut r = Routes::new();
    r.file("r.mcproute", &text, |s| {
        let mut items = http_upstreams(s, &names);
        let mut p = s.profile("p");
        f(s, &mut p);
        items.push(Item::Profile(p));
        items
    });
    r.compile(&[])
}

#[test]
fn a_rule_covered_by_an_earlier_one_is_a_warning_naming_both() {
    let c = profile(
        "  allow tool files/*write*\n  deny tool files/*write_file*\n",
        |s, p| {
            p.rules.push(s.filter("allow", "tool", "files", "*write*"));
            p.rules
                .push(s.filter("deny", "tool", "files", "*write_file*"));
        },
    );
    let d = c.one(codes::SHADOWED_RULE);
    assert!(!d.is_error());
    assert_eq!(c.underlined(d), "deny tool files/*write_file*");
    assert_eq!(c.text(d.secondary[0].span), "allow tool files/*write*");
    assert_eq!(d.message, "`deny tool files/*write_file*` can never match");
    assert!(d.help.as_deref().unwrap().contains("move this rule above"));
    assert!(c.compiled.plan.is_some(), "warnings still give a plan");
}

#[test]
fn narrower_earlier_rules_and_other_kinds_do_not_shadow() {
    let c = profile(
        "  allow tool github/search_*\n  deny tool */*\n  deny prompt files/*\n  allow tool files/a?c\n  deny tool files/a*c\n",
        |s, p| {
            p.rules
                .push(s.filter("allow", "tool", "github", "search_*"));
            p.rules.push(s.filter("deny", "tool", "*", "*"));
            p.rules.push(s.filter("deny", "prompt", "files", "*"));
            p.rules.push(s.filter("allow", "tool", "files", "a?c"));
            p.rules.push(s.filter("deny", "tool", "files", "a*c"));
        },
    );
    // `deny tool */*` shadows the last two tool rules; nothing else is shadowed.
    let found: Vec<&str> = c
        .with_code(codes::SHADOWED_RULE)
        .iter()
        .map(|d| c.underlined(d))
        .collect();
    assert_eq!(found, ["allow tool files/a?c", "deny tool files/a*c"]);
}

#[test]
fn identical_regexes_and_match_all_globs_shadow_regex_rules() {
    let c = profile(
        "  deny prompt * matching /^admin_/\n  allow prompt files matching /^admin_/\n  allow tool */*\n  deny tool github matching /x/\n",
        |s, p| {
            p.rules.push(s.filter_re("deny", "prompt", "*", "^admin_"));
            p.rules
                .push(s.filter_re("allow", "prompt", "files", "^admin_"));
            p.rules.push(s.filter("allow", "tool", "*", "*"));
            p.rules.push(s.filter_re("deny", "tool", "github", "x"));
        },
    );
    let found: Vec<&str> = c
        .with_code(codes::SHADOWED_RULE)
        .iter()
        .map(|d| c.underlined(d))
        .collect();
    assert_eq!(
        found,
        [
            "allow prompt files matching /^admin_/",
            "deny tool github matching /x/"
        ]
    );
    let plan = c.compiled.plan.expect("plan");
    let prompts = plan.profiles["p"].rules.filters(ItemKind::Prompt);
    assert_eq!(&*prompts[0].rule.text, "deny prompt * matching /^admin_/");
}

#[test]
fn a_bad_regex_is_reported_where_it_goes_wrong() {
    let c = profile("  deny tool files matching /ab(c/\n", |s, p| {
        p.rules.push(s.filter_re("deny", "tool", "files", "ab(c"));
    });
    let d = c.one(codes::BAD_REGEX);
    assert_eq!(c.underlined(d), "(");
    assert!(
        d.primary.as_ref().unwrap().text.contains("unclosed group"),
        "{}",
        c.rendered()
    );
    assert!(c.compiled.plan.is_none());
}

#[test]
fn a_bad_glob_is_an_error() {
    let c = profile("  deny tool files/a[b\n", |s, p| {
        p.rules.push(s.filter("deny", "tool", "files", "a[b"));
    });
    let d = c.one(codes::BAD_GLOB);
    assert_eq!(c.underlined(d), "a[b");
    assert!(
        d.primary.as_ref().unwrap().text.contains("unclosed"),
        "{}",
        c.rendered()
    );
}

#[test]
fn two_renames_to_one_public_name_collide() {
    let c = profile(
        "  rename tool files/search -> find\n  rename tool github/search -> find\n  rename prompt github/search -> find\n",
        |s, p| {
            p.rules.push(s.rename("tool", "files", "search", "find"));
            p.rules.push(s.rename("tool", "github", "search", "find"));
            p.rules.push(s.rename("prompt", "github", "search", "find"));
        },
    );
    let d = c.one(codes::NAME_COLLISION);
    assert_eq!(c.underlined(d), "find");
    assert_eq!(c.sources.location(d.primary.as_ref().unwrap().span).line, 9);
    assert_eq!(c.sources.location(d.secondary[0].span).line, 8);
    assert!(c.compiled.plan.is_none());
}

#[test]
fn renaming_one_item_twice_is_a_duplicate() {
    let c = profile(
        "  rename tool files/read -> a\n  rename tool files/read -> b\n",
        |s, p| {
            p.rules.push(s.rename("tool", "files", "read", "a"));
            p.rules.push(s.rename("tool", "files", "read", "b"));
        },
    );
    let d = c.one(codes::DUPLICATE);
    assert_eq!(c.underlined(d), "rename tool files/read -> b");
}

#[test]
fn prefix_placeholders_are_only_upstream() {
    let c = profile("  prefix \"{upstrem}__\"\n", |s, p| {
        p.prefix = Some(s.lit("{upstrem}__"))
    });
    let d = c.one(codes::BAD_PREFIX);
    assert_eq!(c.underlined(d), "{upstrem}");
    assert!(
        d.help
            .as_deref()
            .unwrap()
            .starts_with("did you mean `{upstream}`?")
    );
    let c = profile("  prefix \"{upstream}.\"\n", |s, p| {
        p.prefix = Some(s.lit("{upstream}."))
    });
    let plan = c.compiled.plan.expect("plan");
    assert_eq!(
        plan.profiles["p"].rules.prefix_of("github"),
        Some("github.")
    );
}

#[test]
fn tool_limits_compile_their_target() {
    let c = profile("  limit tool github/search_* 10/s per session\n", |s, p| {
        p.limits
            .push(s.limit_tool("github", "search_*", "10/s", Some("session")));
    });
    let plan = c.compiled.plan.expect("plan");
    let limit = &plan.profiles["p"].limits[0];
    let crate::plan::LimitScopeSpec::Tool { matcher } = &limit.scope else {
        panic!("tool limit")
    };
    assert!(matcher.matches("github", "search_code"));
    assert!(!matcher.matches("files", "search_code"));
}
