//! Every file in `examples/*.yaml` parses cleanly into the structure it describes.

use super::{Parsed, parse, s};
use crate::source::{Span, Spanned};
use crate::syntax::ast::{
    Action, Endpoint, File, Item, ItemKind, KeyValue, Limit, LimitScope, Listen, Logging, Meta,
    NamePattern, Profile, Rule, RuleBody, Str, Target, Transport, Upstream,
};

const BASIC: &str = include_str!("../../../../examples/basic/mcp2.yaml");
const PER_SERVER: &str = include_str!("../../../../examples/per-server/mcp2.yaml");
const AUTHENTICATED: &str = include_str!("../../../../examples/authenticated/mcp2.yaml");
const SSE: &str = include_str!("../../../../examples/sse/mcp2.yaml");

fn clean(text: &str) -> Parsed {
    let parsed = parse(text);
    assert!(parsed.diags.is_empty(), "{:#?}", parsed.diags);
    parsed
}

fn sp<T>(node: T) -> Spanned<T> {
    Spanned::new(node, Span::default())
}

fn kv(key: &str, value: &str) -> KeyValue {
    KeyValue {
        key: s(key),
        value: s(value),
        span: Span::default().into(),
    }
}

fn listen(addr: &str) -> Item {
    Item::Listen(Listen {
        addr: s(addr),
        origins: vec![],
        span: Span::default().into(),
    })
}

fn upstream(name: &str, transport: Transport) -> Upstream {
    Upstream {
        name: s(name),
        transport: Some(sp(transport)),
        headers: vec![],
        env: vec![],
        cwd: None,
        timeout: None,
        connect_timeout: None,
        session: None,
        protocol: None,
        auth: None,
        span: Span::default().into(),
    }
}

fn everything() -> Transport {
    Transport::Stdio {
        command: s("npx"),
        args: vec![s("-y"), s("@modelcontextprotocol/server-everything")],
    }
}

fn http(url: &str) -> Transport {
    Transport::Http { url: s(url) }
}

fn profile(name: &str, uses: &[&str]) -> Profile {
    Profile {
        name: s(name),
        meta: Meta::default(),
        uses: uses.iter().map(|u| s(u)).collect(),
        prefix: None,
        rules: vec![],
        limits: vec![],
        span: Span::default().into(),
    }
}

fn filter(kind: ItemKind, action: Action, upstream: &str, name: NamePattern) -> Rule {
    let target = Target {
        upstream: s(upstream),
        name,
        span: Span::default().into(),
    };
    Rule {
        kind,
        body: RuleBody::Filter {
            action: sp(action),
            target,
            condition: None,
        },
        span: Span::default().into(),
    }
}

fn glob(g: &str) -> NamePattern {
    NamePattern::Glob(s(g))
}

fn endpoint(path: &str, profile: &str) -> Item {
    Item::Endpoint(Endpoint {
        path: s(path),
        profile: s(profile),
        when: None,
        auth: Vec::new(),
        sse: None,
        span: Span::default().into(),
    })
}

fn rule(kind: ItemKind, body: RuleBody) -> Rule {
    Rule {
        kind,
        body,
        span: Span::default().into(),
    }
}

#[test]
fn basic_example_lowers_filters_deny_first_then_allow() {
    let everything_up = Upstream {
        env: vec![kv("LOG_LEVEL", "warn")],
        timeout: Some(s("30s")),
        ..upstream("everything", everything())
    };
    let local = Upstream {
        connect_timeout: Some(s("10s")),
        ..upstream("local", http("http://127.0.0.1:3001/mcp"))
    };
    let up = |n: &str| -> Str { s(n) };
    let safe = Profile {
        meta: Meta {
            name: Some(s("Production Safe Hub")),
            version: Some(s("1.2.0")),
            description: Some(s("LLM-facing safe tools")),
        },
        prefix: Some(s("{upstream}__")),
        rules: vec![
            filter(ItemKind::Tool, Action::Deny, "everything", glob("get-env")),
            filter(ItemKind::Tool, Action::Allow, "everything", glob("echo")),
            filter(ItemKind::Tool, Action::Allow, "everything", glob("get-*")),
            filter(
                ItemKind::Prompt,
                Action::Deny,
                "everything",
                NamePattern::Regex(s("^resource-")),
            ),
            rule(
                ItemKind::Tool,
                RuleBody::Rename {
                    upstream: up("everything"),
                    name: s("echo"),
                    to: s("say"),
                },
            ),
            rule(
                ItemKind::Tool,
                RuleBody::Describe {
                    upstream: up("everything"),
                    name: s("echo"),
                    text: s("Repeat a message back"),
                },
            ),
        ],
        ..profile("safe", &["everything", "local"])
    };
    let full = Profile {
        meta: Meta {
            name: Some(s("Everything Hub")),
            ..Meta::default()
        },
        ..profile("full", &[])
    };
    let logging = Logging {
        level: Some(s("info")),
        max_size_mb: Some(sp(100)),
        max_backups: Some(sp(3)),
        max_age_days: Some(sp(30)),
        compress: Some(sp(true)),
        ..Logging::default()
    };
    let expected = File {
        items: vec![
            listen("127.0.0.1:8210"),
            Item::Logging(logging),
            Item::Upstream(everything_up),
            Item::Upstream(local),
            Item::Profile(safe),
            Item::Profile(full),
            Item::DefaultProfile(s("safe")),
            endpoint("/mcp", "safe"),
        ],
    };
    assert_eq!(clean(BASIC).file, expected);
}

#[test]
fn per_server_example_gets_an_implicit_default_profile_and_keeps_the_hub() {
    let expected = File {
        items: vec![
            listen("127.0.0.1:8210"),
            Item::Upstream(upstream("everything", everything())),
            Item::Upstream(upstream("local", http("http://127.0.0.1:3001/mcp"))),
            Item::Profile(profile("default", &[])),
            endpoint("/mcp", "default"),
            endpoint("/servers/{upstream}/mcp", "default"),
        ],
    };
    assert_eq!(clean(PER_SERVER).file, expected);
}

#[test]
fn authenticated_example_keeps_headers_and_turns_rate_limit_into_a_profile_limit() {
    let github = Upstream {
        headers: vec![
            kv("Authorization", "Bearer ${GITHUB_TOKEN:-}"),
            kv("X-API-Key", "${API_KEY:-}"),
        ],
        timeout: Some(s("30s")),
        ..upstream("github", http("http://127.0.0.1:3001/mcp"))
    };
    let service = Upstream {
        headers: vec![
            kv("Authorization", "Bearer ${SERVICE_TOKEN:-}"),
            kv("X-Custom-Header", "custom-value"),
        ],
        ..upstream("authenticated-service", http("http://127.0.0.1:3003/mcp"))
    };
    let default = Profile {
        rules: vec![
            filter(ItemKind::Tool, Action::Allow, "github", glob("search_*")),
            filter(ItemKind::Tool, Action::Allow, "github", glob("get_*")),
        ],
        limits: vec![Limit {
            scope: LimitScope::Upstream(s("authenticated-service")),
            rate: s("100/min"),
            per: None,
            span: Span::default().into(),
        }],
        ..profile("default", &["github", "authenticated-service"])
    };
    let expected = File {
        items: vec![
            listen("127.0.0.1:8210"),
            Item::Upstream(github),
            Item::Upstream(service),
            Item::Profile(default),
        ],
    };
    assert_eq!(clean(AUTHENTICATED).file, expected);
}

#[test]
fn sse_example_keeps_version_text_and_list_form_of_servers() {
    let legacy = Upstream {
        headers: vec![kv("X-API-Key", "${LEGACY_KEY:-dev-key}")],
        connect_timeout: Some(s("10s")),
        ..upstream(
            "legacy",
            Transport::Sse {
                url: s("http://127.0.0.1:3002/sse"),
            },
        )
    };
    let default = Profile {
        meta: Meta {
            name: Some(s("SSE bridge")),
            version: Some(s("1.0")),
            description: None,
        },
        ..profile("default", &["legacy", "everything"])
    };
    let expected = File {
        items: vec![
            listen("127.0.0.1:8210"),
            Item::Upstream(legacy),
            Item::Upstream(upstream("everything", everything())),
            Item::Profile(default),
        ],
    };
    assert_eq!(clean(SSE).file, expected);
}

#[test]
fn spans_point_at_what_was_written() {
    let parsed = clean(BASIC);
    let mut seen = 0;
    for item in &parsed.file.items {
        match item {
            Item::Upstream(u) if u.name.node == "local" => {
                assert_eq!(parsed.text(u.name.span), "local");
                let Some(t) = &u.transport else { panic!() };
                let Transport::Http { url } = &t.node else {
                    panic!()
                };
                assert_eq!(parsed.text(url.span), "\"http://127.0.0.1:3001/mcp\"");
                assert!(parsed.text(u.span).starts_with("local:\n    transport:"));
                assert!(parsed.text(u.span).ends_with("connectTimeout: 10s"));
                seen += 1;
            }
            Item::Profile(p) if p.name.node == "safe" => {
                let RuleBody::Filter { action, target, .. } = &p.rules[0].body else {
                    panic!()
                };
                assert_eq!(parsed.text(action.span), "deny");
                assert_eq!(parsed.text(target.span), "\"get-env\"");
                assert_eq!(parsed.text(p.uses[1].span), "local");
                assert_eq!(parsed.text(p.rules[4].span), "echo: say");
                seen += 1;
            }
            Item::Listen(l) => {
                assert_eq!(parsed.text(l.addr.span), "\"127.0.0.1\"");
                seen += 1;
            }
            Item::Logging(l) => {
                assert_eq!(parsed.text(l.max_size_mb.unwrap().span), "100");
                seen += 1;
            }
            _ => {}
        }
    }
    assert_eq!(seen, 4);
}

#[test]
fn byte_order_marks_and_crlf_line_ends_keep_spans_exact() {
    let text = "\u{feff}servers:\r\n  github:\r\n    transport: { kind: http, url: \"http://127.0.0.1:1/mcp\" }\r\n";
    let parsed = clean(text);
    let Some(Item::Upstream(u)) = parsed.file.items.first() else {
        panic!("{:?}", parsed.file)
    };
    assert_eq!(parsed.text(u.name.span), "github");
    let Transport::Http { url } = &u.transport.as_ref().unwrap().node else {
        panic!()
    };
    assert_eq!(parsed.text(url.span), "\"http://127.0.0.1:1/mcp\"");
}
