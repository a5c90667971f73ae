//! Filter patterns that apply to some callers only: `{ name: PATTERN, when: CONDITION }` (or
//! `unless`) in a filter's `allow`/`deny` list → the pattern and its [`ast::RuleCondition`],
//! exactly as `.mcproute` writes `allow tool S/PATTERN when …`:
//!
//! | YAML                                     | `.mcproute`                         |
//! |------------------------------------------|-------------------------------------|
//! | `when: authenticated`                    | `when authenticated`                |
//! | `when: { claim: groups }`                | `when claim groups`                 |
//! | `when: { claim: groups, contains: eng }` | `when claim groups contains "eng"`  |
//! | `when: { claim: org.team, equals: ops }` | `when claim org.team == "ops"`      |
//! | `unless: { scope: admin }`               | `unless scope has "admin"`          |
//! | `when: { key: ci-bot }`                  | `when key ci-bot`                   |
//! | `when: { endpoint: /ops }`               | `when endpoint "/ops"`              |
//!
//! Shapes are checked here, in YAML's terms (both `when` and `unless`, two tests in one
//! condition, `contains` without a claim); what a condition means is the checker's business.

use crate::diag::{Diag, codes, did_you_mean};
use crate::source::Spanned;
use crate::syntax::ast::{RuleCondition, Str};
use crate::syntax::yaml::keys::Place;
use crate::syntax::yaml::read::{Fields, Reader};
use crate::syntax::yaml::tree::{Node, Pair, Value};

/// What a condition mapping may test, one per condition.
const SOURCES: [&str; 4] = ["claim", "scope", "key", "endpoint"];
/// The condition written as a word.
const AUTHENTICATED: &str = "authenticated";

/// One entry of an `allow`/`deny` list: a pattern, or a pattern with its condition. `None`
/// (reported) when it cannot be read, so no rule is made of half an entry.
pub fn pattern(r: &mut Reader, node: &Node) -> Option<(Str, Option<RuleCondition>)> {
    if !matches!(node.value, Value::Map(_)) {
        return r
            .string(node, "a name, glob or /regex/")
            .map(|name| (name, None));
    }
    let f = r.fields(node, Place::Pattern)?;
    let name = match f.value("name") {
        Some(n) => r.string(n, "a name, glob or /regex/"),
        None => {
            r.missing(
                node.span,
                "name",
                "a pattern with a condition",
                "write `{ name: \"deploy\", when: { claim: groups, contains: eng } }`",
            );
            None
        }
    };
    let condition = match (f.get("when"), f.get("unless")) {
        (Some(when), Some(unless)) => {
            let (first, second) = if when.key.span.start <= unless.key.span.start {
                (when, unless)
            } else {
                (unless, when)
            };
            r.push(
                Diag::error(
                    codes::YAML_MISPLACED_KEY,
                    "a pattern has `when` or `unless`, not both",
                )
                .at(second.key.span, "the second condition")
                .also(first.key.span, "the first condition")
                .help(
                    "keep one; to require two things, write two rules (a `deny` with `unless` \
                     before an `allow` with `when`)",
                ),
            );
            return None;
        }
        (Some(pair), None) => condition(r, pair, false)?,
        (None, Some(pair)) => condition(r, pair, true)?,
        // An unknown key (already reported) is most likely the misspelt condition.
        (None, None) if has_unknown_keys(node, &f) => return None,
        (None, None) => {
            r.missing(
                node.span,
                "when` or `unless",
                "a pattern written as a mapping",
                "add `when: { claim: groups, contains: eng }` (or `unless: …`), or write the \
                 pattern alone",
            );
            return None;
        }
    };
    if has_unknown_keys(node, &f) {
        return None;
    }
    Some((name?, Some(condition)))
}

/// `when: …` / `unless: …` (the pair, so the condition's span covers the keyword).
fn condition(r: &mut Reader, pair: &Pair, negate: bool) -> Option<RuleCondition> {
    let node = &pair.value;
    let cond = |source: Str, subject: Option<Str>, test: Option<(Str, Str)>| RuleCondition {
        negate,
        source,
        subject,
        test,
        span: pair.span().into(),
    };
    if !matches!(node.value, Value::Map(_)) {
        return word(r, node).map(|source| cond(source, None, None));
    }
    let f = r.fields(node, Place::Condition)?;
    let source = single_source(r, &f, pair)?;
    if has_unknown_keys(node, &f) {
        // Reported; a rule missing part of what its writer meant would decide wrongly.
        return None;
    }
    let kind = key_text(source);
    let expected = match kind {
        "claim" => "a claim name such as `groups` or `org.team`",
        "scope" => "a scope",
        "key" => "the name of an API key",
        _ => "an endpoint path such as `/ops`",
    };
    let value = r.string(&source.value, expected)?;
    let word = |p: &Pair, text: &str| Spanned::new(text.to_string(), p.key.span);
    let tests: Vec<&Pair> = ["contains", "equals"]
        .iter()
        .filter_map(|k| f.get(k))
        .collect();
    if kind != "claim"
        && let Some(test) = tests.first()
    {
        r.push(
            Diag::error(
                codes::YAML_MISPLACED_KEY,
                format!("`{}` applies to a claim, not to `{kind}`", key_text(test)),
            )
            .at(test.key.span, "only with `claim`")
            .also(source.key.span, format!("this condition tests `{kind}`"))
            .help(match kind {
                "scope" => "`{ scope: admin }` already asks that the token grant `admin`",
                _ => "remove it; `key` and `endpoint` compare the name or path they are given",
            }),
        );
        return None;
    }
    if let [first, second, ..] = tests.as_slice() {
        r.push(
            Diag::error(
                codes::YAML_MISPLACED_KEY,
                "a claim condition has `contains` or `equals`, not both",
            )
            .at(second.key.span, "the second test")
            .also(first.key.span, "the first test")
            .help("keep one; to require both, write two rules"),
        );
        return None;
    }
    Some(match kind {
        "claim" => {
            let test = match tests.first() {
                Some(t) => {
                    let op = if key_text(t) == "equals" {
                        "=="
                    } else {
                        "contains"
                    };
                    Some((word(t, op), r.string(&t.value, "the value compared")?))
                }
                None => None,
            };
            cond(word(source, "claim"), Some(value), test)
        }
        "scope" => cond(
            word(source, "scope"),
            None,
            Some((word(source, "has"), value)),
        ),
        other => cond(word(source, other), Some(value), None),
    })
}

/// The one key of [`SOURCES`] a condition mapping has; none or several are reported.
fn single_source<'n>(r: &mut Reader, f: &Fields<'n>, owner: &Pair) -> Option<&'n Pair> {
    let found: Vec<&Pair> = SOURCES.iter().filter_map(|k| f.get(k)).collect();
    match found.as_slice() {
        [one] => Some(one),
        // An unknown key (already reported) is most likely the misspelt test.
        [] if has_unknown_keys(&owner.value, f) => None,
        [] => {
            r.missing(
                owner.key.span,
                "claim`, `scope`, `key` or `endpoint",
                &format!("`{}`", key_text(owner)),
                "write `{ claim: groups, contains: eng }`, `{ scope: admin }`, `{ key: ci-bot }`, \
                 `{ endpoint: /ops }`, or `authenticated`",
            );
            None
        }
        [first, second, ..] => {
            r.push(
                Diag::error(
                    codes::YAML_MISPLACED_KEY,
                    format!(
                        "a condition tests one thing, but this one has `{}` and `{}`",
                        key_text(first),
                        key_text(second)
                    ),
                )
                .at(second.key.span, "a second test")
                .also(first.key.span, "the first test")
                .help(
                    "keep one; to require both, write two rules (a `deny` with `unless` before \
                     an `allow` with `when`)",
                ),
            );
            None
        }
    }
}

/// `when: authenticated`; any other word is reported, with the YAML form of what it seems to
/// mean.
fn word(r: &mut Reader, node: &Node) -> Option<Str> {
    let text = match &node.value {
        Value::Scalar(s) if !node.is_null() => s.text.as_str(),
        _ => {
            r.wrong_type_help(
                node,
                "a condition",
                "write `authenticated`, or a mapping such as `{ claim: groups, contains: eng }`",
            );
            return None;
        }
    };
    if text == AUTHENTICATED {
        return Some(Spanned::new(text.to_string(), node.span));
    }
    let first = text.split_whitespace().next().unwrap_or_default();
    let help = if SOURCES.contains(&first) {
        format!(
            "in YAML a condition is a mapping: `{{ {first}: … }}` (for example `{{ claim: groups, \
             contains: eng }}` or `{{ scope: admin }}`), not `.mcproute` text"
        )
    } else if did_you_mean(text, [AUTHENTICATED]).is_some() {
        "did you mean `authenticated`?".to_string()
    } else {
        "write `authenticated`, or a mapping: `{ claim: groups, contains: eng }`, `{ scope: admin }`, \
         `{ key: ci-bot }` or `{ endpoint: /ops }`"
            .to_string()
    };
    r.push(
        Diag::error(
            codes::YAML_BAD_VALUE,
            format!("`{text}` is not a condition"),
        )
        .at(node.span, "not a condition")
        .help(help),
    );
    None
}

/// Whether the mapping has keys [`Reader::fields`] did not know (and so already reported).
fn has_unknown_keys(node: &Node, f: &Fields<'_>) -> bool {
    match &node.value {
        Value::Map(pairs) => pairs.len() > f.iter().count(),
        _ => false,
    }
}

fn key_text(pair: &Pair) -> &str {
    match &pair.key.value {
        Value::Scalar(s) => s.text.as_str(),
        _ => "",
    }
}
