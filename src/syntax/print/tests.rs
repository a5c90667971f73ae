//! The printer writes canonical text, and whatever AST it is given, the text parses back to it.

use proptest::prelude::*;

use super::print;
use crate::source::{Span, Spanned};
use crate::syntax::ast::*;
use crate::syntax::mcproute::tests::{parse, valid::EVERYTHING};

/// Parses `text`, which must be clean, and returns its AST without spans.
fn reparse(text: &str) -> File {
    let parsed = parse(text);
    assert!(
        parsed.diags.is_empty(),
        "printed text does not parse cleanly:\n{text}\n{:#?}",
        parsed.diags
    );
    parsed.erased()
}

const CANONICAL: &str = r#"listen 127.0.0.1:8210
default-profile safe

upstream github {
  http "https://api.example.com/mcp"
  header Authorization = "Bearer ${GITHUB_TOKEN}"
  header X-API-Key = "${KEY}"
  timeout 30s
  connect-timeout 10s
}

upstream files {
  stdio "npx" "-y" "@modelcontextprotocol/server-filesystem" "/srv/data"
  env LOG_LEVEL = "warn"
  cwd "/srv"
}

upstream legacy {
  sse "http://127.0.0.1:9000/sse"
}

profile safe {
  meta name "Production Safe Hub" version "1.2.0" description "Tab\there \"quoted\" 😀"
  use github, files, legacy
  prefix "{upstream}__"
  allow tool github/search_*
  deny tool files/*write*
  deny prompt * matching /^admin_\/x/
  allow resource files/file:///srv/*
  rename tool github/search_code -> code_search
  describe tool files/read_file "Read a file from the shared data directory"
  limit github 100/min
  limit tool github/search_* 10/s per client
}

endpoint "/mcp" -> safe
endpoint "/mcp/ops" -> ops when header X-Team == "ops"
endpoint "/mcp/any" -> ops when header X-Team
endpoint "/servers/{upstream}/mcp" -> safe

logging {
  level "info,mcp2::upstream=debug"
  file "/var/log/mcp2/mcp2.log"
  max-size-mb 100
  max-backups 3
  max-age-days 30
  max-body-kb 16
  compress true
  log-requests true
  log-responses false
  redact-keys "session_id" "X-Internal"
}

admin {
  listen 127.0.0.1:8211
  token "${MCP2_ADMIN_TOKEN}"
}
"#;

#[test]
fn prints_the_canonical_form() {
    let parsed = parse(EVERYTHING);
    assert!(parsed.diags.is_empty(), "{:#?}", parsed.diags);
    let printed = print(&parsed.file);
    assert_eq!(printed, CANONICAL);
    assert_eq!(reparse(&printed), parsed.erased());
}

fn s(text: &str) -> Str {
    Spanned::new(text.to_owned(), Span::default())
}

fn profile_with(rules: Vec<Rule>, limits: Vec<Limit>) -> File {
    File {
        items: vec![Item::Profile(Profile {
            name: s("p"),
            meta: Meta::default(),
            uses: vec![],
            prefix: None,
            rules,
            limits,
            span: Span::default().into(),
        })],
    }
}

#[test]
fn quotes_what_a_bare_word_cannot_say() {
    let target = |up: &str, name: NamePattern| Target {
        upstream: s(up),
        name,
        span: Span::default().into(),
    };
    let filter = |t: Target| Rule {
        kind: ItemKind::Tool,
        body: RuleBody::Filter {
            action: Spanned::new(Action::Deny, Span::default()),
            target: t,
            condition: None,
        },
        span: Span::default().into(),
    };
    let file = profile_with(
        vec![
            filter(target("my server", NamePattern::Glob(s("a b#c")))),
            filter(target("x", NamePattern::Regex(s("")))),
            filter(target("x", NamePattern::Regex(s(r"a\/b")))),
            filter(target("x", NamePattern::Regex(s("a/b\\d")))),
        ],
        vec![Limit {
            scope: LimitScope::Upstream(s("tool")),
            rate: s("5 per second"),
            per: None,
            span: Span::default().into(),
        }],
    );
    let printed = print(&file);
    assert!(
        printed.contains(r#"deny tool "my server"/"a b#c""#),
        "{printed}"
    );
    assert!(printed.contains(r#"deny tool x matching """#), "{printed}");
    assert!(
        printed.contains(r#"deny tool x matching "a\\/b""#),
        "{printed}"
    );
    assert!(
        printed.contains(r"deny tool x matching /a\/b\d/"),
        "{printed}"
    );
    assert!(
        printed.contains(r#"limit "tool" "5 per second""#),
        "{printed}"
    );
    assert_eq!(reparse(&printed), file);
}

#[test]
fn an_empty_file_prints_as_nothing_and_empty_blocks_as_braces() {
    assert_eq!(print(&File::default()), "");
    let file = File {
        items: vec![Item::Logging(Logging::default())],
    };
    assert_eq!(print(&file), "logging {}\n");
    assert_eq!(reparse(&print(&file)), file);
}

// ─── property: parse(print(ast)) == ast ──────────────────────────────────────────────────────

/// Pieces that stress quoting, escaping, comments and keywords.
fn tricky_piece() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => "[a-zA-Z0-9_.-]{1,8}",
        1 => prop::sample::select(vec![
            "\"", "\\", "#", " ", "\t", "\n", "\r", "😀", "é", "${VAR}", "${X:-d}", "->", "//",
            "/", "{upstream}", "{", "}", "*", "?", ",", ":", "=", "==", "\u{0}", "\u{7f}",
            "\u{2028}", "tool", "when", "matching", "per", "upstream", "listen", "true",
            "\\u{41}", "\\q", "30s", "10/min", "[::1]:80",
        ])
        .prop_map(str::to_owned),
        1 => any::<String>(),
    ]
}

fn tricky() -> impl Strategy<Value = String> {
    prop::collection::vec(tricky_piece(), 0..4).prop_map(|pieces| pieces.concat())
}

fn st() -> impl Strategy<Value = Str> {
    tricky().prop_map(|t| s(&t))
}

fn opt_st() -> impl Strategy<Value = Option<Str>> {
    prop::option::of(st())
}

fn kind() -> impl Strategy<Value = ItemKind> {
    prop::sample::select(ItemKind::ALL.to_vec())
}

fn target() -> impl Strategy<Value = Target> {
    let name = prop_oneof![
        st().prop_map(NamePattern::Glob),
        st().prop_map(NamePattern::Regex)
    ];
    (st(), name).prop_map(|(upstream, name)| Target {
        upstream,
        name,
        span: Span::default().into(),
    })
}

fn rule_condition() -> impl Strategy<Value = RuleCondition> {
    let op = prop::sample::select(vec!["==", "contains", "has"])
        .prop_map(|o| Spanned::new(o.to_string(), Span::default()));
    (any::<bool>(), st(), opt_st(), prop::option::of((op, st()))).prop_map(
        |(negate, source, subject, test)| RuleCondition {
            negate,
            source,
            subject,
            test,
            span: Span::default().into(),
        },
    )
}

fn rule() -> impl Strategy<Value = Rule> {
    let action = prop::sample::select(vec![Action::Allow, Action::Deny]);
    let body = prop_oneof![
        (action, target(), prop::option::of(rule_condition())).prop_map(
            |(a, target, condition)| RuleBody::Filter {
                action: Spanned::new(a, Span::default()),
                target,
                condition,
            }
        ),
        (st(), st(), st()).prop_map(|(upstream, name, to)| RuleBody::Rename { upstream, name, to }),
        (st(), st(), st()).prop_map(|(upstream, name, text)| RuleBody::Describe {
            upstream,
            name,
            text
        }),
    ];
    (kind(), body).prop_map(|(kind, body)| Rule {
        kind,
        body,
        span: Span::default().into(),
    })
}

fn limit() -> impl Strategy<Value = Limit> {
    let scope = prop_oneof![
        st().prop_map(LimitScope::Upstream),
        target().prop_map(LimitScope::Tool)
    ];
    (scope, st(), opt_st()).prop_map(|(scope, rate, per)| Limit {
        scope,
        rate,
        per,
        span: Span::default().into(),
    })
}

/// Key-value lists with distinct keys (a repeated key is a duplicate setting).
fn key_values(fold_case: bool) -> impl Strategy<Value = Vec<KeyValue>> {
    prop::collection::vec((st(), st()), 0..3).prop_map(move |pairs| {
        let mut seen = Vec::new();
        let mut out = Vec::new();
        for (key, value) in pairs {
            let k = if fold_case {
                key.to_ascii_lowercase()
            } else {
                key.node.clone()
            };
            if !seen.contains(&k) {
                seen.push(k);
                out.push(KeyValue {
                    key,
                    value,
                    span: Span::default().into(),
                });
            }
        }
        out
    })
}

fn transport() -> impl Strategy<Value = Transport> {
    prop_oneof![
        st().prop_map(|url| Transport::Http { url }),
        st().prop_map(|url| Transport::Sse { url }),
        (st(), prop::collection::vec(st(), 0..3))
            .prop_map(|(command, args)| Transport::Stdio { command, args }),
    ]
}

fn upstream() -> impl Strategy<Value = Upstream> {
    let transport = prop::option::of(transport().prop_map(|t| Spanned::new(t, Span::default())));
    (
        st(),
        transport,
        key_values(true),
        key_values(false),
        (opt_st(), opt_st(), opt_st(), opt_st(), opt_st()),
        prop::option::of((st(), key_values(false))),
    )
        .prop_map(
            |(
                name,
                transport,
                headers,
                env,
                (cwd, timeout, connect_timeout, session, protocol),
                auth,
            )| Upstream {
                name,
                transport,
                headers,
                env,
                cwd,
                timeout,
                connect_timeout,
                session,
                protocol,
                auth: auth.map(|(flow, params)| UpstreamAuth {
                    flow,
                    params,
                    span: Span::default().into(),
                }),
                span: Span::default().into(),
            },
        )
}

fn profile() -> impl Strategy<Value = Profile> {
    (
        st(),
        (opt_st(), opt_st(), opt_st()),
        prop::collection::vec(st(), 0..3),
        opt_st(),
        prop::collection::vec(rule(), 0..4),
        prop::collection::vec(limit(), 0..3),
    )
        .prop_map(
            |(name, (mn, mv, md), uses, prefix, rules, limits)| Profile {
                name,
                meta: Meta {
                    name: mn,
                    version: mv,
                    description: md,
                },
                uses,
                prefix,
                rules,
                limits,
                span: Span::default().into(),
            },
        )
}

fn endpoint() -> impl Strategy<Value = Endpoint> {
    let when = prop_oneof![
        Just(None),
        (st(), st()).prop_map(|(name, value)| Some(Condition::HeaderEquals {
            name,
            value,
            span: Span::default().into()
        })),
        st().prop_map(|name| Some(Condition::HeaderPresent {
            name,
            span: Span::default().into()
        })),
    ];
    let auth = prop::collection::vec(
        (st(), opt_st(), st())
            .prop_filter("`auth oauth` names only its block", |(kind, name, _)| {
                kind.node != "oauth" || name.is_none()
            })
            .prop_map(|(kind, name, value)| EndpointAuth {
                kind,
                name,
                value,
                span: Span::default().into(),
            }),
        0..3,
    );
    (st(), st(), when, auth, opt_st()).prop_map(|(path, profile, when, auth, sse)| Endpoint {
        path,
        profile,
        when,
        auth,
        sse,
        span: Span::default().into(),
    })
}

fn logging() -> impl Strategy<Value = Logging> {
    let n = || prop::option::of(any::<u64>().prop_map(|n| Spanned::new(n, Span::default())));
    let b = || prop::option::of(any::<bool>().prop_map(|b| Spanned::new(b, Span::default())));
    (
        opt_st(),
        opt_st(),
        (n(), n(), n(), n(), n()),
        (b(), b(), b()),
        prop::collection::vec(st(), 0..3),
    )
        .prop_map(
            |(
                level,
                file,
                (max_size_mb, max_size_kb, max_backups, max_age_days, max_body_kb),
                (compress, log_requests, log_responses),
                redact_keys,
            )| Logging {
                level,
                file,
                max_size_mb,
                max_size_kb,
                max_backups,
                max_age_days,
                compress,
                log_requests,
                log_responses,
                max_body_kb,
                redact_keys,
                span: Span::default().into(),
            },
        )
}

fn admin() -> impl Strategy<Value = Admin> {
    (opt_st(), opt_st()).prop_map(|(listen, token)| Admin {
        listen,
        token,
        span: Span::default().into(),
    })
}

fn limits() -> impl Strategy<Value = Limits> {
    (opt_st(), opt_st(), opt_st()).prop_map(|(max_body, header_timeout, idle_timeout)| Limits {
        max_body,
        header_timeout,
        idle_timeout,
        span: Span::default().into(),
    })
}

fn cluster() -> impl Strategy<Value = Cluster> {
    (opt_st(), opt_st(), opt_st()).prop_map(|(session_key, redis, on_redis_unavailable)| Cluster {
        session_key,
        redis,
        on_redis_unavailable,
        span: Span::default().into(),
    })
}

fn item() -> impl Strategy<Value = Item> {
    prop_oneof![
        (st(), prop::collection::vec(st(), 0..3)).prop_map(|(addr, origins)| Item::Listen(
            Listen {
                addr,
                origins,
                span: Span::default().into()
            }
        )),
        st().prop_map(Item::DefaultProfile),
        upstream().prop_map(Item::Upstream),
        profile().prop_map(Item::Profile),
        endpoint().prop_map(Item::Endpoint),
        logging().prop_map(Item::Logging),
        admin().prop_map(Item::Admin),
        limits().prop_map(Item::Limits),
        cluster().prop_map(Item::Cluster),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn printed_text_parses_back_to_the_same_ast(items in prop::collection::vec(item(), 0..5)) {
        let file = File { items };
        let printed = print(&file);
        prop_assert_eq!(reparse(&printed), file, "printed:\n{}", printed);
    }
}
