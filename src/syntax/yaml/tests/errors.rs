//! Each kind of mistake: its code, the text it underlines, and the help a user reads.

use super::parse;
use crate::diag::codes;
use crate::syntax::ast::{Item, Transport};

const HTTP: &str = "transport: { kind: http, url: \"http://127.0.0.1:3001/mcp\" }";

fn server(body: &str) -> String {
    format!("servers:\n  github:\n    {body}\n")
}

#[test]
fn unknown_keys_suggest_the_close_one() {
    let p = parse(&server(
        "transport:\n      kind: http\n      url: http://127.0.0.1:1/mcp\n      heders: { A: b }",
    ));
    let d = p.one(codes::YAML_UNKNOWN_KEY);
    assert_eq!(p.underlined(d), "heders");
    assert_eq!(d.help.as_deref(), Some("did you mean `headers`?"));

    let p = parse("logging: { maxSizeMb: 100 }\n");
    let d = p.one(codes::YAML_UNKNOWN_KEY);
    assert_eq!(p.underlined(d), "maxSizeMb");
    assert_eq!(d.help.as_deref(), Some("did you mean `maxSizeMB`?"));
}

#[test]
fn an_unknown_key_with_nothing_close_lists_the_keys() {
    let p = parse("listen: { banana: 1, port: 80 }\n");
    let d = p.one(codes::YAML_UNKNOWN_KEY);
    assert_eq!(p.underlined(d), "banana");
    assert!(
        d.help.as_deref().unwrap().contains("`host`, `port`"),
        "{d:?}"
    );
}

#[test]
fn wrong_types_underline_the_value_and_say_what_was_expected() {
    let p = parse(&server("transport: [stdio, npx]"));
    let d = p.one(codes::YAML_WRONG_TYPE);
    assert_eq!(p.underlined(d), "[stdio, npx]");
    assert_eq!(
        d.message,
        "expected a mapping for `transport`, found a list"
    );

    let p = parse(&server("transport: { kind: http, url: { host: x } }"));
    let d = p.one(codes::YAML_WRONG_TYPE);
    assert_eq!(p.underlined(d), "{ host: x }");
    assert_eq!(
        d.message,
        "expected a URL such as `http://127.0.0.1:3000/mcp`, found a mapping"
    );

    let p = parse("listen: { port: eighty }\n");
    let d = p.one(codes::YAML_WRONG_TYPE);
    assert_eq!(p.underlined(d), "eighty");
    assert_eq!(d.message, "expected a port number, found a string");

    let p = parse("listen: { port: \"8210\" }\n");
    let d = p.one(codes::YAML_WRONG_TYPE);
    assert_eq!(d.help.as_deref(), Some("write the number without quotes"));

    let p = parse("logging: { maxBackups: -1 }\n");
    let d = p.one(codes::YAML_WRONG_TYPE);
    assert_eq!(
        (p.underlined(d), d.help.as_deref()),
        ("-1", Some("write a whole number, 0 or more"))
    );

    let p = parse("logging: { compress: yes }\n");
    assert_eq!(p.underlined(p.one(codes::YAML_WRONG_TYPE)), "yes");
}

#[test]
fn a_port_out_of_range_is_a_bad_value() {
    let p = parse("listen: { port: 70000 }\n");
    assert_eq!(p.underlined(p.one(codes::YAML_BAD_VALUE)), "70000");
    assert!(p.file.items.is_empty());
}

#[test]
fn missing_keys_point_at_the_owning_key() {
    let p = parse("servers:\n  github:\n    timeout: 30s\n");
    let d = p.one(codes::YAML_MISSING_KEY);
    assert_eq!(p.underlined(d), "github");
    assert_eq!(d.message, "server `github` needs `transport`");

    let p = parse(&server("transport: { url: \"http://127.0.0.1:1/mcp\" }"));
    let d = p.one(codes::YAML_MISSING_KEY);
    assert_eq!(
        (p.underlined(d), d.message.as_str()),
        ("transport", "a transport needs `kind`")
    );

    let p = parse(&server("transport: { kind: sse }"));
    let d = p.one(codes::YAML_MISSING_KEY);
    assert_eq!(
        (p.underlined(d), d.message.as_str()),
        ("transport", "an `sse` transport needs `url`")
    );

    let p = parse(&server("transport: { kind: stdio, args: [x] }"));
    let d = p.one(codes::YAML_MISSING_KEY);
    assert_eq!(
        (p.underlined(d), d.message.as_str()),
        ("transport", "a `stdio` transport needs `command`")
    );
}

#[test]
fn a_server_missing_its_transport_still_resolves_by_name() {
    let p = parse("servers:\n  github: {}\nprofiles:\n  p:\n    servers: [github]\n");
    assert_eq!(p.diags.len(), 1);
    let names: Vec<_> = p
        .file
        .items
        .iter()
        .filter_map(|i| match i {
            Item::Upstream(u) => Some((u.name.node.as_str(), u.transport.is_none())),
            _ => None,
        })
        .collect();
    assert_eq!(names, [("github", true)]);
}

#[test]
fn duplicate_keys_show_both_places_and_keep_the_first() {
    let text = format!("servers:\n  github:\n    {HTTP}\n  github:\n    timeout: 5s\n");
    let p = parse(&text);
    let d = p.one(codes::YAML_DUPLICATE_KEY);
    let first = text.find("github").unwrap() as u32;
    let second = text.rfind("github").unwrap() as u32;
    assert_eq!(d.primary.as_ref().unwrap().span.start, second);
    assert_eq!(d.secondary[0].span.start, first);
    let ups = p
        .file
        .items
        .iter()
        .filter(|i| matches!(i, Item::Upstream(_)))
        .count();
    assert_eq!(ups, 1);
}

#[test]
fn text_that_is_not_yaml_reports_line_and_column() {
    let cases = [
        ("servers:\n\tgithub: {}\n", "\t", "tab"),
        (
            "servers:\n  github:\n    transport: { kind: \"http }\n",
            "\"",
            "quote",
        ),
        (
            "servers:\n  a:\n    timeout: 1s\n   b: 2\n",
            "b",
            "indentation",
        ),
    ];
    for (text, under, help) in cases {
        let p = parse(text);
        let d = p.one(codes::YAML_ERROR);
        assert_eq!(p.underlined(d), under, "{text:?}: {d:?}");
        assert!(
            d.help.as_deref().unwrap_or("").contains(help),
            "{text:?}: {d:?}"
        );
        assert!(p.file.items.is_empty());
    }
    // An unclosed quote is shown where it opened, at its line and column.
    let p = parse("servers:\n  github:\n    transport: { kind: \"http }\n");
    let d = p.one(codes::YAML_ERROR);
    let loc = p.sources.location(d.primary.as_ref().unwrap().span);
    assert_eq!((loc.line, loc.col), (3, 24));
}

#[test]
fn keys_from_other_tools_get_friendly_help() {
    let p = parse("mcpServers:\n  github: { command: npx }\n");
    let d = p.one(codes::YAML_UNKNOWN_KEY);
    assert_eq!(p.underlined(d), "mcpServers");
    assert!(
        d.help
            .as_deref()
            .unwrap()
            .contains("move each server under `servers:`"),
        "{d:?}"
    );

    let p = parse(&server("transportType: http"));
    let d = p.one(codes::YAML_UNKNOWN_KEY);
    assert_eq!(p.underlined(d), "transportType");
    assert!(d.message.contains("Go prototype"));

    let p = parse(&server(
        "transport: { type: http, url: \"http://127.0.0.1:1/mcp\" }",
    ));
    let d = p.one(codes::YAML_UNKNOWN_KEY);
    assert!(d.help.as_deref().unwrap().contains("`kind`"), "{d:?}");
}

#[test]
fn unknown_transport_kinds_say_what_to_write() {
    for (kind, help) in [
        ("streamable-http", "did you mean `http`?"),
        ("streamableHttp", "did you mean `http`?"),
        ("websocket", "does not speak WebSocket"),
        ("stdo", "did you mean `stdio`?"),
    ] {
        let p = parse(&server(&format!(
            "transport: {{ kind: {kind}, url: \"http://x\" }}"
        )));
        let d = p.one(codes::YAML_BAD_VALUE);
        assert_eq!(p.underlined(d), kind);
        assert!(d.help.as_deref().unwrap().contains(help), "{kind}: {d:?}");
    }
}

#[test]
fn keys_of_the_other_transport_kind_are_misplaced() {
    let p = parse(&server(
        "transport: { kind: stdio, command: npx, url: \"http://x\" }",
    ));
    let d = p.one(codes::YAML_MISPLACED_KEY);
    assert_eq!(p.underlined(d), "url");
    let Some(Item::Upstream(u)) = p.file.items.first() else {
        panic!()
    };
    assert!(matches!(
        &u.transport.as_ref().unwrap().node,
        Transport::Stdio { .. }
    ));
}

#[test]
fn every_mistake_is_reported_and_the_rest_still_lowers() {
    let text = format!(
        "listen: {{ port: nope }}\nservers:\n  a:\n    {HTTP}\n    timout: 3s\n  b:\n    transport: {{ kind: ws }}\n  c:\n    {HTTP}\nprofiles:\n  p:\n    servers:\n      a: {{ tools: {{ alow: [x] }} }}\n      c: {{}}\n"
    );
    let p = parse(&text);
    let codes_found: Vec<_> = p.diags.sorted().iter().map(|d| d.code).collect();
    assert_eq!(
        codes_found,
        [
            codes::YAML_WRONG_TYPE,
            codes::YAML_UNKNOWN_KEY,
            codes::YAML_BAD_VALUE,
            codes::YAML_UNKNOWN_KEY
        ]
    );
    let profile = p.file.items.iter().find_map(|i| match i {
        Item::Profile(p) => Some(p),
        _ => None,
    });
    let uses: Vec<_> = profile
        .unwrap()
        .uses
        .iter()
        .map(|u| u.node.as_str())
        .collect();
    assert_eq!(uses, ["a", "c"]);
}

#[test]
fn bare_numbers_are_not_rates_and_limits_per_is_not_a_period() {
    let p = parse(&format!(
        "servers:\n  a:\n    {HTTP}\nprofiles:\n  p:\n    servers:\n      a: {{ limits: {{ calls: 100, per: 1m }} }}\n"
    ));
    assert_eq!(p.underlined(p.one(codes::YAML_WRONG_TYPE)), "100");
    assert_eq!(p.underlined(p.one(codes::YAML_BAD_VALUE)), "1m");
}

#[test]
fn a_filter_written_as_a_bare_list_says_allow_or_deny() {
    let p = parse(&format!(
        "servers:\n  a:\n    {HTTP}\nprofiles:\n  p:\n    servers:\n      a: {{ tools: [\"read_*\"] }}\n"
    ));
    let d = p.one(codes::YAML_WRONG_TYPE);
    assert_eq!(p.underlined(d), "[\"read_*\"]");
    assert!(
        d.help.as_deref().unwrap().contains("{ allow: [...] }"),
        "{d:?}"
    );
}

#[test]
fn transport_keys_beside_transport_are_explained_once() {
    let p = parse("servers:\n  a:\n    command: npx\n    args: [-y, pkg]\n");
    let found: Vec<_> = p
        .diags
        .sorted()
        .iter()
        .map(|d| (d.code, p.underlined(d)))
        .collect();
    assert_eq!(
        found,
        [
            (codes::YAML_UNKNOWN_KEY, "command"),
            (codes::YAML_UNKNOWN_KEY, "args")
        ]
    );
}
