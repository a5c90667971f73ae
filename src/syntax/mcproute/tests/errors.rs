//! Mistakes: each yields the expected code, underlines the expected text, and parsing goes on.

use super::{Parsed, parse};
use crate::diag::{Diag, codes};
use crate::syntax::ast::{Item, Transport};

/// The only diagnostic's code, underlined text and help.
fn one(text: &str) -> (Parsed, Diag) {
    let parsed = parse(text);
    let diag = parsed.single().clone();
    (parsed, diag)
}

fn help(diag: &Diag) -> &str {
    diag.help.as_deref().unwrap_or("")
}

#[test]
fn typo_in_a_top_level_keyword_suggests_the_keyword_and_skips_its_block() {
    let (p, d) = one("upstrem github {\n  htp \"u\"\n}\nlisten 1.2.3.4:5\n");
    assert_eq!(d.code, codes::UNKNOWN_KEYWORD);
    assert_eq!(p.underlined(&d), "upstrem");
    assert!(help(&d).contains("did you mean `upstream`?"), "{d:?}");
    assert!(matches!(p.file.items[..], [Item::Listen(_)]));
}

#[test]
fn typo_in_a_setting_suggests_the_setting() {
    let (p, d) = one("upstream g {\n  htp \"u\"\n  timeout 5s\n}\n");
    assert_eq!(d.code, codes::UNKNOWN_KEYWORD);
    assert_eq!(p.underlined(&d), "htp");
    assert!(help(&d).contains("did you mean `http`?"), "{d:?}");
    let Item::Upstream(up) = &p.file.items[0] else {
        panic!("no upstream");
    };
    assert_eq!(up.timeout.as_ref().map(|t| t.node.as_str()), Some("5s"));
}

#[test]
fn unknown_word_lists_what_is_allowed() {
    let (p, d) = one("logging {\n  banana 3\n}\n");
    assert_eq!(d.code, codes::UNKNOWN_KEYWORD);
    assert_eq!(p.underlined(&d), "banana");
    assert!(help(&d).contains("`max-size-mb`"), "{d:?}");
}

#[test]
fn yaml_key_at_top_level_shows_the_mcproute_form() {
    let (p, d) = one("upstream: github\n");
    assert_eq!(d.code, codes::FOREIGN_SYNTAX);
    assert_eq!(p.underlined(&d), "upstream:");
    assert!(help(&d).contains("upstream NAME { … }"), "{d:?}");
}

#[test]
fn a_yaml_document_is_one_diagnostic_not_one_per_line() {
    let text = "servers:\n  github:\n    transport:\n      kind: http\n\n  other:\n    url: x\nlisten 1.2.3.4:5\n";
    let (p, d) = one(text);
    assert_eq!(d.code, codes::FOREIGN_SYNTAX);
    assert_eq!(p.underlined(&d), "servers:");
    assert!(help(&d).contains("upstream NAME"), "{d:?}");
    assert!(matches!(p.file.items[..], [Item::Listen(_)]));
}

#[test]
fn a_bad_line_after_a_skipped_block_is_still_reported() {
    let p = parse("upstrem a {\n  http \"u\"\n}\n  lissten 1.2.3.4:5\n");
    let underlined: Vec<&str> = p.diags.sorted().iter().map(|d| p.underlined(d)).collect();
    assert_eq!(underlined, ["upstrem", "lissten"]);
}

#[test]
fn yaml_key_in_a_block_shows_the_setting_form() {
    let (p, d) = one("upstream g {\n  http \"u\"\n  timeout: 30s\n}\n");
    assert_eq!(d.code, codes::FOREIGN_SYNTAX);
    assert_eq!(p.underlined(&d), "timeout:");
    assert!(help(&d).contains("`timeout 30s`"), "{d:?}");
    let (p, d) = one("upstream g {\n  headers: x\n}\n");
    assert_eq!(p.underlined(&d), "headers:");
    assert!(help(&d).contains("header NAME = \"value\""), "{d:?}");
}

#[test]
fn yaml_colon_inside_a_setting_is_foreign_syntax() {
    let (p, d) = one("upstream g {\n  header Authorization: \"x\"\n}\n");
    assert_eq!(d.code, codes::FOREIGN_SYNTAX);
    assert_eq!(p.underlined(&d), ":");
}

#[test]
fn a_colon_instead_of_a_brace_still_reads_the_block() {
    let (p, d) = one("upstream github:\n  http \"u\"\n");
    assert_eq!(d.code, codes::FOREIGN_SYNTAX);
    assert_eq!(p.underlined(&d), ":");
    let Item::Upstream(up) = &p.file.items[0] else {
        panic!("no upstream");
    };
    assert!(matches!(
        up.transport.as_ref().map(|t| &t.node),
        Some(Transport::Http { .. })
    ));
}

#[test]
fn missing_open_brace_is_reported_once_and_the_block_is_read() {
    let (p, d) = one("upstream github\n  http \"u\"\n}\nlisten 1.2.3.4:5\n");
    assert_eq!(d.code, codes::SYNTAX_ERROR);
    assert_eq!(p.underlined(&d), "upstream github");
    assert!(d.message.contains("expected `{`"), "{d:?}");
    assert_eq!(p.file.items.len(), 2);
}

#[test]
fn unclosed_block_points_at_its_brace_and_at_the_next_item() {
    let (p, d) = one("upstream github {\n  http \"u\"\n\nprofile p {\n  use github\n}\n");
    assert_eq!(d.code, codes::UNCLOSED_BLOCK);
    assert_eq!(p.underlined(&d), "{");
    assert_eq!(d.primary.as_ref().map(|l| l.span.start), Some(16));
    assert_eq!(p.text(d.secondary[0].span), "profile");
    assert_eq!(p.file.items.len(), 2, "both blocks are still read");
}

#[test]
fn unclosed_block_at_end_of_file() {
    let (p, d) = one("profile p {\n  use a\n");
    assert_eq!(d.code, codes::UNCLOSED_BLOCK);
    assert_eq!(p.underlined(&d), "{");
    assert!(d.secondary.is_empty());
}

#[test]
fn duplicate_setting_points_at_both() {
    let (p, d) = one("upstream g {\n  http \"u\"\n  timeout 30s\n  timeout 60s\n}\n");
    assert_eq!(d.code, codes::DUPLICATE_SETTING);
    assert_eq!(p.underlined(&d), "timeout 60s");
    assert_eq!(p.text(d.secondary[0].span), "timeout 30s");
    let Item::Upstream(up) = &p.file.items[0] else {
        panic!("no upstream");
    };
    assert_eq!(up.timeout.as_ref().map(|t| t.node.as_str()), Some("30s"));
}

#[test]
fn duplicates_of_transports_headers_and_meta_keys() {
    let (p, d) = one("upstream g {\n  http \"u\"\n  sse \"v\"\n}\n");
    assert_eq!(d.code, codes::DUPLICATE_SETTING);
    assert_eq!(p.underlined(&d), "sse \"v\"");
    let (p, d) = one("upstream g {\n  header X-Key = \"a\"\n  header x-key = \"b\"\n}\n");
    assert_eq!(d.code, codes::DUPLICATE_SETTING);
    assert_eq!(p.underlined(&d), "header x-key = \"b\"");
    let (p, d) = one("profile p {\n  meta name \"a\"\n  meta version \"1\" name \"b\"\n}\n");
    assert_eq!(d.code, codes::DUPLICATE_SETTING);
    assert_eq!(p.underlined(&d), "name \"b\"");
    assert_eq!(p.text(d.secondary[0].span), "name \"a\"");
}

#[test]
fn rule_without_a_target() {
    let (p, d) = one("profile p {\n  allow tool\n}\n");
    assert_eq!(d.code, codes::SYNTAX_ERROR);
    assert_eq!(p.underlined(&d), "allow tool");
    assert!(d.message.contains("a target"), "{d:?}");
    let (p, d) = one("profile p {\n  deny tool github   # no name\n}\n");
    assert_eq!(p.underlined(&d), "deny tool github");
    assert!(d.message.contains("`/`"), "{d:?}");
    assert!(help(&d).contains("UPSTREAM/NAME"), "{d:?}");
}

#[test]
fn rename_without_arrow() {
    let (p, d) = one("profile p {\n  rename tool github/search_code code_search\n}\n");
    assert_eq!(d.code, codes::SYNTAX_ERROR);
    assert_eq!(p.underlined(&d), "code_search");
    assert!(d.message.contains("expected `->`"), "{d:?}");
    assert!(
        help(&d).contains("rename tool UPSTREAM/NAME -> NEW_NAME"),
        "{d:?}"
    );
}

#[test]
fn wrong_item_kind_suggests_the_right_one() {
    let (p, d) = one("profile p {\n  allow tools github/x\n}\n");
    assert_eq!(p.underlined(&d), "tools");
    assert!(help(&d).contains("did you mean `tool`?"), "{d:?}");
}

#[test]
fn bad_escapes_are_underlined_exactly_and_the_string_is_kept() {
    let (p, d) = one("upstream g {\n  http \"a\\qb\"\n}\n");
    assert_eq!(d.code, codes::BAD_ESCAPE);
    assert_eq!(p.underlined(&d), "\\q");
    assert_eq!(p.file.items.len(), 1);
    let (p, d) = one("default-profile \"x\\u{110000}y\"\n");
    assert_eq!(d.code, codes::BAD_ESCAPE);
    assert_eq!(p.underlined(&d), "\\u{110000}");
}

#[test]
fn unterminated_string() {
    let (p, d) = one("upstream g {\n  http \"https://x\n}\n");
    assert_eq!(d.code, codes::UNTERMINATED_STRING);
    assert_eq!(p.underlined(&d), "\"https://x");
}

#[test]
fn setting_in_the_wrong_block_says_where_it_belongs() {
    let (p, d) = one("profile p {\n  timeout 30s\n}\n");
    assert_eq!(d.code, codes::MISPLACED_SETTING);
    assert_eq!(p.underlined(&d), "timeout");
    assert!(help(&d).contains("upstream NAME"), "{d:?}");
    let (p, d) = one("http \"u\"\n");
    assert_eq!(d.code, codes::MISPLACED_SETTING);
    assert_eq!(p.underlined(&d), "http");
}

#[test]
fn stray_closing_brace() {
    let (p, d) = one("listen 1.2.3.4:5\n}\n");
    assert_eq!(d.code, codes::SYNTAX_ERROR);
    assert_eq!(p.underlined(&d), "}");
}

#[test]
fn values_of_the_wrong_kind() {
    let p = parse(
        "logging {\n  compress yes\n  max-size-mb 100MB\n  max-backups 99999999999999999999999\n}\n",
    );
    let diags = p.diags.sorted();
    assert_eq!(diags.len(), 3, "{diags:#?}");
    assert_eq!(p.underlined(diags[0]), "yes");
    assert!(diags[0].message.contains("`true` or `false`"));
    assert_eq!(p.underlined(diags[1]), "100MB");
    assert!(diags[1].message.contains("whole number"));
    assert_eq!(diags[2].code, codes::BAD_NUMBER);
    assert_eq!(p.underlined(diags[2]), "99999999999999999999999");
}

#[test]
fn single_equals_in_a_condition_suggests_double() {
    let (p, d) = one("endpoint \"/mcp\" -> ops when header X-Team = \"ops\"\n");
    assert_eq!(p.underlined(&d), "= \"ops\"");
    assert!(help(&d).contains("=="), "{d:?}");
}

#[test]
fn incomplete_line_items_underline_what_was_written() {
    let (p, d) = one("listen   # where?\n");
    assert_eq!(p.underlined(&d), "listen");
    assert!(d.message.contains("address"), "{d:?}");
    let (p, d) = one("endpoint \"/mcp\" safe\n");
    assert_eq!(p.underlined(&d), "safe");
    assert!(d.message.contains("`->`"), "{d:?}");
    let (p, d) = one("upstream {\n  http \"u\"\n}\n");
    assert_eq!(p.underlined(&d), "{");
    assert!(d.message.contains("a name"), "{d:?}");
}

#[test]
fn text_after_an_item_on_the_same_line() {
    let (p, d) = one("upstream g { http \"u\" } listen 1.2.3.4:5\n");
    assert_eq!(d.code, codes::SYNTAX_ERROR);
    assert_eq!(p.underlined(&d), "listen");
    let (p, d) = one("upstream g {\n  timeout 30 s\n}\n");
    assert_eq!(p.underlined(&d), "s");
}

#[test]
fn several_mistakes_give_several_diagnostics_in_order() {
    let text = "\
listen 127.0.0.1:8210
upstrem a {
  http \"u\"
}
upstream b {
  http \"x\\z\"
  timeout 1s
  timeout 2s
}
profile p {
  use b
  allow tool
  rename tool b/x y
  timeout 3s
}
endpoint \"/mcp\" -> p
";
    let p = parse(text);
    let got: Vec<(&str, &str)> = p
        .diags
        .sorted()
        .into_iter()
        .map(|d| (d.code, p.underlined(d)))
        .collect();
    assert_eq!(
        got,
        vec![
            (codes::UNKNOWN_KEYWORD, "upstrem"),
            (codes::BAD_ESCAPE, "\\z"),
            (codes::DUPLICATE_SETTING, "timeout 2s"),
            (codes::SYNTAX_ERROR, "allow tool"),
            (codes::SYNTAX_ERROR, "y"),
            (codes::MISPLACED_SETTING, "timeout"),
        ]
    );
    let kinds: Vec<&str> = p
        .file
        .items
        .iter()
        .map(|i| match i {
            Item::Listen(_) => "listen",
            Item::Upstream(_) => "upstream",
            Item::Profile(_) => "profile",
            Item::Endpoint(_) => "endpoint",
            _ => "other",
        })
        .collect();
    assert_eq!(kinds, ["listen", "upstream", "profile", "endpoint"]);
}
