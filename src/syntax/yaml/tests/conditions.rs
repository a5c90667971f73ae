//! Rule conditions in YAML (`{ name: P, when: … }`): each form means what the same `.mcproute`
//! rule means, spans point at what was written, and each shape mistake is reported where it is.

use super::{Parsed, parse};
use crate::diag::{Diagnostics, codes};
use crate::source::SourceSet;
use crate::syntax::ast::{Item, Rule, RuleBody, RuleCondition};
use crate::syntax::mcproute;

/// A profile `p` using server `gh` whose tools filter is `filter` (YAML flow or block text).
fn yaml(filter: &str) -> String {
    format!(
        "servers:\n  gh:\n    transport: {{ kind: http, url: \"http://127.0.0.1:1/mcp\" }}\n\
         profiles:\n  p:\n    servers:\n      gh:\n        tools:\n{filter}\n"
    )
}

fn rules(parsed: &Parsed) -> Vec<Rule> {
    parsed
        .file
        .items
        .iter()
        .find_map(|i| match i {
            Item::Profile(p) => Some(p.rules.clone()),
            _ => None,
        })
        .expect("a profile")
}

/// The rules of `profile p { use gh  RULES }` in `.mcproute`.
fn mcproute_rules(rules_text: &str) -> Vec<Rule> {
    let mut sources = SourceSet::new();
    let text = format!("profile p {{\n  use gh\n{rules_text}\n}}\n");
    let id = sources.add("routes.mcproute", text.as_str());
    let mut diags = Diagnostics::new();
    let file = mcproute::parse(&sources.files()[id.0 as usize], &mut diags);
    assert!(diags.is_empty(), "{diags:#?}");
    match file.items.as_slice() {
        [Item::Profile(p)] => p.rules.clone(),
        other => panic!("{other:#?}"),
    }
}

fn clean(text: &str) -> Parsed {
    let parsed = parse(text);
    assert!(parsed.diags.is_empty(), "{:#?}", parsed.diags);
    parsed
}

#[test]
fn every_condition_reads_as_the_same_mcproute_rule() {
    let parsed = clean(&yaml(
        r#"          deny:
            - { name: "delete_*", unless: { scope: admin } }
            - { name: deploy, unless: { claim: groups, contains: eng } }
            - { name: rotate, when: { claim: org.team, equals: "infra ops" } }
            - { name: "/^secret_/", when: { endpoint: /public } }
          allow:
            - { name: "*", when: authenticated }
            - { name: ci_*, when: { key: ci-bot } }
            - { name: audit, when: { claim: "https://example.com/roles" } }
            - plain"#,
    ));
    let expected = mcproute_rules(
        r#"  deny tool gh/delete_* unless scope has "admin"
  deny tool gh/deploy unless claim groups contains "eng"
  deny tool gh/rotate when claim org.team == "infra ops"
  deny tool gh matching /^secret_/ when endpoint "/public"
  allow tool gh/* when authenticated
  allow tool gh/ci_* when key ci-bot
  allow tool gh/audit when claim "https://example.com/roles"
  allow tool gh/plain"#,
    );
    assert_eq!(rules(&parsed), expected);
}

#[test]
fn a_single_pattern_with_a_condition_needs_no_list() {
    let parsed = clean(&yaml(
        "          deny: { name: \"delete_*\", unless: { scope: admin } }",
    ));
    assert_eq!(
        rules(&parsed),
        mcproute_rules("  deny tool gh/delete_* unless scope has \"admin\"")
    );
}

#[test]
fn spans_point_at_the_yaml_that_was_written() {
    let parsed = clean(&yaml(
        "          deny:\n            - name: deploy\n              unless: { claim: groups, contains: eng }\n            - { name: x, when: { scope: admin } }",
    ));
    let rules = rules(&parsed);
    let condition = |r: &Rule| -> RuleCondition {
        match &r.body {
            RuleBody::Filter {
                condition: Some(c), ..
            } => c.clone(),
            other => panic!("{other:#?}"),
        }
    };
    let c = condition(&rules[0]);
    assert!(c.negate);
    assert_eq!(
        parsed.text(c.span),
        "unless: { claim: groups, contains: eng }"
    );
    assert_eq!(parsed.text(c.source.span), "claim");
    assert_eq!(parsed.text(c.subject.expect("a claim").span), "groups");
    let (op, value) = c.test.expect("a test");
    assert_eq!(parsed.text(op.span), "contains");
    assert_eq!(parsed.text(value.span), "eng");
    assert!(parsed.text(rules[0].span).starts_with("name: deploy"));
    let RuleBody::Filter { target, .. } = &rules[0].body else {
        panic!()
    };
    assert_eq!(parsed.text(target.span), "deploy");

    let c = condition(&rules[1]);
    assert_eq!(parsed.text(c.span), "when: { scope: admin }");
    let (op, value) = c.test.expect("a test");
    assert_eq!((op.node.as_str(), parsed.text(op.span)), ("has", "scope"));
    assert_eq!(parsed.text(value.span), "admin");
}

/// The one diagnostic of a file, with the text it underlines and its help.
fn only_error(filter: &str) -> (String, String, String, String) {
    let parsed = parse(&yaml(filter));
    let [d] = parsed.diags.iter().collect::<Vec<_>>()[..] else {
        panic!("expected one diagnostic: {:#?}", parsed.diags)
    };
    assert!(rules(&parsed).is_empty(), "{:#?}", rules(&parsed));
    (
        d.code.to_string(),
        d.message.clone(),
        parsed.underlined(d).to_string(),
        d.help.clone().unwrap_or_default(),
    )
}

#[test]
fn both_when_and_unless_point_at_the_second() {
    let (code, message, at, _) =
        only_error("          allow: [{ name: x, when: authenticated, unless: { key: ci-bot } }]");
    assert_eq!(code, codes::YAML_MISPLACED_KEY);
    assert_eq!(message, "a pattern has `when` or `unless`, not both");
    assert_eq!(at, "unless");
}

#[test]
fn an_unknown_condition_key_suggests_the_close_one() {
    let (code, _, at, help) =
        only_error("          allow: [{ name: x, when: { claims: groups, contains: eng } }]");
    assert_eq!(code, codes::YAML_UNKNOWN_KEY);
    assert_eq!(at, "claims");
    assert!(help.contains("claim: groups"), "{help}");

    let (code, _, at, help) = only_error("          allow: [{ name: x, when: { scop: admin } }]");
    assert_eq!(
        (code.as_str(), at.as_str()),
        (codes::YAML_UNKNOWN_KEY, "scop")
    );
    assert_eq!(help, "did you mean `scope`?");
}

#[test]
fn a_missing_value_is_underlined_where_it_belongs() {
    let (code, message, at, _) =
        only_error("          allow:\n            - name: x\n              when: { claim: }");
    assert_eq!(code, codes::YAML_WRONG_TYPE);
    assert!(message.contains("a claim name"), "{message}");
    assert_eq!(at, "claim");

    let (code, message, at, _) =
        only_error("          allow:\n            - name: x\n              when:");
    assert_eq!(code, codes::YAML_WRONG_TYPE);
    assert_eq!(message, "expected a condition, found an empty value");
    assert_eq!(at, "when");

    let (code, message, at, _) =
        only_error("          allow: [{ name: x, when: { contains: eng } }]");
    assert_eq!(code, codes::YAML_MISSING_KEY);
    assert!(message.contains("`when` needs `claim`"), "{message}");
    assert_eq!(at, "when");

    let (code, _, at, _) = only_error("          allow: [{ when: authenticated }]");
    assert_eq!(code, codes::YAML_MISSING_KEY);
    assert_eq!(at, "{ when: authenticated }");

    let (code, _, _, help) = only_error("          allow: [{ name: x }]");
    assert_eq!(code, codes::YAML_MISSING_KEY);
    assert!(help.contains("write the pattern alone"), "{help}");
}

#[test]
fn a_condition_tests_one_thing() {
    let (code, message, at, _) =
        only_error("          allow: [{ name: x, when: { claim: groups, scope: admin } }]");
    assert_eq!(code, codes::YAML_MISPLACED_KEY);
    assert_eq!(
        message,
        "a condition tests one thing, but this one has `claim` and `scope`"
    );
    assert_eq!(at, "scope");

    let (code, message, at, _) =
        only_error("          allow: [{ name: x, when: { scope: admin, contains: eng } }]");
    assert_eq!(code, codes::YAML_MISPLACED_KEY);
    assert_eq!(message, "`contains` applies to a claim, not to `scope`");
    assert_eq!(at, "contains");

    let (code, _, at, _) =
        only_error("          allow: [{ name: x, when: { claim: g, contains: a, equals: b } }]");
    assert_eq!(
        (code.as_str(), at.as_str()),
        (codes::YAML_MISPLACED_KEY, "equals")
    );
}

#[test]
fn mcproute_text_as_a_condition_gets_the_yaml_form() {
    let (code, message, at, help) =
        only_error("          allow: [{ name: x, when: \"claim groups contains eng\" }]");
    assert_eq!(code, codes::YAML_BAD_VALUE);
    assert_eq!(message, "`claim groups contains eng` is not a condition");
    assert_eq!(at, "\"claim groups contains eng\"");
    assert!(help.contains("{ claim: groups, contains: eng }"), "{help}");

    let (_, _, _, help) = only_error("          allow: [{ name: x, when: authenticatd }]");
    assert_eq!(help, "did you mean `authenticated`?");
}

#[test]
fn a_condition_beside_the_lists_says_where_it_goes() {
    let parsed = parse(&yaml("          allow: [x]\n          when: authenticated"));
    let d = parsed.one(codes::YAML_UNKNOWN_KEY);
    assert_eq!(parsed.underlined(d), "when");
    assert!(
        d.help
            .as_deref()
            .unwrap_or_default()
            .contains("belongs to one pattern"),
        "{d:?}"
    );
}

#[test]
fn keys_in_the_wrong_place_say_where_they_go() {
    let (code, _, at, help) = only_error("          allow: [{ name: x, claim: groups }]");
    assert_eq!(
        (code.as_str(), at.as_str()),
        (codes::YAML_UNKNOWN_KEY, "claim")
    );
    assert!(help.contains("under `when`"), "{help}");

    let (code, _, at, help) = only_error("          allow: [{ name: x, wen: authenticated }]");
    assert_eq!(
        (code.as_str(), at.as_str()),
        (codes::YAML_UNKNOWN_KEY, "wen")
    );
    assert_eq!(help, "did you mean `when`?");

    let (code, _, at, help) =
        only_error("          allow: [{ name: x, when: { scope: s, has: admin } }]");
    assert_eq!(
        (code.as_str(), at.as_str()),
        (codes::YAML_UNKNOWN_KEY, "has")
    );
    assert!(help.contains("{ scope: admin }"), "{help}");
}
