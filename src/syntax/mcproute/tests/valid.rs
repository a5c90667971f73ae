//! Valid files: every construct lowers to the AST a reader expects.

use super::{parse, s};
use crate::source::{NodeSpan, Spanned};
use crate::syntax::ast::{
    Action, Admin, Condition, Endpoint, File, Item, ItemKind, KeyValue, Limit, LimitScope, Listen,
    Logging, Meta, NamePattern, Profile, Rule, RuleBody, Target, Transport, Upstream,
};

/// Every construct of the language, as a user would write it.
pub(crate) const EVERYTHING: &str = r#"# comments with '#'
// and with '//'
listen 127.0.0.1:8210                   # trailing comment
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

upstream legacy { sse "http://127.0.0.1:9000/sse" }

profile safe {
  meta name "Production Safe Hub" version "1.2.0"
  meta description "Tab\there \"quoted\" \u{1F600}"
  use github, files,
      legacy
  prefix "{upstream}__"
  allow tool github/search_*
  deny  tool files/*write*
  deny  prompt * matching /^admin_\/x/
  allow resource files/file:///srv/*
  rename tool github/search_code -> code_search
  describe tool files/read_file "Read a file from the shared data directory"
  limit github 100/min
  limit tool github/search_* 10/s per client
}

endpoint "/mcp" -> safe
endpoint "/mcp/ops" -> ops when header X-Team == "ops"
endpoint "/mcp/any" -> ops when header X-Team
expose-per-upstream "/servers/{upstream}/mcp"

logging {
  level "info,mcp2::upstream=debug"
  file "/var/log/mcp2/mcp2.log"
  max-size-mb 100
  max-backups 3
  max-age-days 30
  compress true
  log-requests true
  log-responses false
  max-body-kb 16
  redact-keys session_id "X-Internal"
}

admin {
  listen 127.0.0.1:8211
  token "${MCP2_ADMIN_TOKEN}"
}
"#;

fn span() -> NodeSpan {
    NodeSpan::default()
}

fn kv(key: &str, value: &str) -> KeyValue {
    KeyValue {
        key: s(key),
        value: s(value),
        span: span(),
    }
}

fn glob(upstream: &str, name: &str) -> Target {
    Target {
        upstream: s(upstream),
        name: NamePattern::Glob(s(name)),
        span: span(),
    }
}

fn filter(action: Action, kind: ItemKind, target: Target) -> Rule {
    Rule {
        kind,
        body: RuleBody::Filter {
            action: Spanned::new(action, span()),
            target,
            condition: None,
        },
        span: span(),
    }
}

fn endpoint(path: &str, profile: &str, when: Option<Condition>) -> Item {
    Item::Endpoint(Endpoint {
        path: s(path),
        profile: s(profile),
        when,
        auth: Vec::new(),
        sse: None,
        span: span(),
    })
}

fn upstream(name: &str, transport: Transport) -> Upstream {
    Upstream {
        name: s(name),
        transport: Some(Spanned::new(transport, span())),
        headers: vec![],
        env: vec![],
        cwd: None,
        timeout: None,
        connect_timeout: None,
        session: None,
        protocol: None,
        auth: None,
        span: span(),
    }
}

fn expected_profile() -> Profile {
    Profile {
        name: s("safe"),
        meta: Meta {
            name: Some(s("Production Safe Hub")),
            version: Some(s("1.2.0")),
            description: Some(s("Tab\there \"quoted\" 😀")),
        },
        uses: vec![s("github"), s("files"), s("legacy")],
        prefix: Some(s("{upstream}__")),
        rules: vec![
            filter(Action::Allow, ItemKind::Tool, glob("github", "search_*")),
            filter(Action::Deny, ItemKind::Tool, glob("files", "*write*")),
            filter(
                Action::Deny,
                ItemKind::Prompt,
                Target {
                    upstream: s("*"),
                    name: NamePattern::Regex(s("^admin_/x")),
                    span: span(),
                },
            ),
            filter(
                Action::Allow,
                ItemKind::Resource,
                glob("files", "file:///srv/*"),
            ),
            Rule {
                kind: ItemKind::Tool,
                body: RuleBody::Rename {
                    upstream: s("github"),
                    name: s("search_code"),
                    to: s("code_search"),
                },
                span: span(),
            },
            Rule {
                kind: ItemKind::Tool,
                body: RuleBody::Describe {
                    upstream: s("files"),
                    name: s("read_file"),
                    text: s("Read a file from the shared data directory"),
                },
                span: span(),
            },
        ],
        limits: vec![
            Limit {
                scope: LimitScope::Upstream(s("github")),
                rate: s("100/min"),
                per: None,
                span: span(),
            },
            Limit {
                scope: LimitScope::Tool(glob("github", "search_*")),
                rate: s("10/s"),
                per: Some(s("client")),
                span: span(),
            },
        ],
        span: span(),
    }
}

fn expected() -> File {
    let github = Upstream {
        headers: vec![
            kv("Authorization", "Bearer ${GITHUB_TOKEN}"),
            kv("X-API-Key", "${KEY}"),
        ],
        timeout: Some(s("30s")),
        connect_timeout: Some(s("10s")),
        ..upstream(
            "github",
            Transport::Http {
                url: s("https://api.example.com/mcp"),
            },
        )
    };
    let files = Upstream {
        env: vec![kv("LOG_LEVEL", "warn")],
        cwd: Some(s("/srv")),
        ..upstream(
            "files",
            Transport::Stdio {
                command: s("npx"),
                args: vec![
                    s("-y"),
                    s("@modelcontextprotocol/server-filesystem"),
                    s("/srv/data"),
                ],
            },
        )
    };
    let legacy = upstream(
        "legacy",
        Transport::Sse {
            url: s("http://127.0.0.1:9000/sse"),
        },
    );
    File {
        items: vec![
            Item::Listen(Listen {
                addr: s("127.0.0.1:8210"),
                origins: vec![],
                span: span(),
            }),
            Item::DefaultProfile(s("safe")),
            Item::Upstream(github),
            Item::Upstream(files),
            Item::Upstream(legacy),
            Item::Profile(expected_profile()),
            endpoint("/mcp", "safe", None),
            endpoint(
                "/mcp/ops",
                "ops",
                Some(Condition::HeaderEquals {
                    name: s("X-Team"),
                    value: s("ops"),
                    span: span(),
                }),
            ),
            endpoint(
                "/mcp/any",
                "ops",
                Some(Condition::HeaderPresent {
                    name: s("X-Team"),
                    span: span(),
                }),
            ),
            endpoint("/servers/{upstream}/mcp", "safe", None),
            Item::Logging(Logging {
                level: Some(s("info,mcp2::upstream=debug")),
                file: Some(s("/var/log/mcp2/mcp2.log")),
                max_size_mb: Some(Spanned::new(100, span())),
                max_backups: Some(Spanned::new(3, span())),
                max_age_days: Some(Spanned::new(30, span())),
                compress: Some(Spanned::new(true, span())),
                log_requests: Some(Spanned::new(true, span())),
                log_responses: Some(Spanned::new(false, span())),
                max_size_kb: None,
                max_body_kb: Some(Spanned::new(16, span())),
                redact_keys: vec![s("session_id"), s("X-Internal")],
                span: span(),
            }),
            Item::Admin(Admin {
                listen: Some(s("127.0.0.1:8211")),
                token: Some(s("${MCP2_ADMIN_TOKEN}")),
                span: span(),
            }),
        ],
    }
}

#[test]
fn every_construct_lowers_to_the_expected_ast() {
    let parsed = parse(EVERYTHING);
    assert!(parsed.diags.is_empty(), "{:#?}", parsed.diags);
    assert_eq!(parsed.erased(), expected());
}

#[test]
fn spans_cover_the_tokens_as_written() {
    let parsed = parse(EVERYTHING);
    let Item::Upstream(github) = &parsed.file.items[2] else {
        panic!("not an upstream: {:?}", parsed.file.items[2]);
    };
    assert_eq!(parsed.text(github.name.span), "github");
    assert_eq!(
        parsed.text(github.headers[0].value.span),
        r#""Bearer ${GITHUB_TOKEN}""#
    );
    assert_eq!(
        parsed.text(github.headers[0].span),
        r#"header Authorization = "Bearer ${GITHUB_TOKEN}""#
    );
    assert_eq!(parsed.text(github.timeout.as_ref().unwrap().span), "30s");
    let transport = github.transport.as_ref().unwrap();
    assert_eq!(
        parsed.text(transport.span),
        r#"http "https://api.example.com/mcp""#
    );
    assert!(parsed.text(github.span).starts_with("upstream github {"));
    assert!(parsed.text(github.span).ends_with('}'));

    let Item::Profile(profile) = &parsed.file.items[5] else {
        panic!("not a profile");
    };
    let RuleBody::Filter { target, action, .. } = &profile.rules[2].body else {
        panic!("not a filter");
    };
    assert_eq!(
        parsed.text(profile.rules[2].span),
        r"deny  prompt * matching /^admin_\/x/"
    );
    assert_eq!(parsed.text(action.span), "deny");
    assert_eq!(parsed.text(target.span), r"* matching /^admin_\/x/");
    let NamePattern::Regex(re) = &target.name else {
        panic!("not a regex");
    };
    assert_eq!(parsed.text(re.span), r"/^admin_\/x/");
    assert_eq!(
        parsed.text(profile.limits[1].span),
        "limit tool github/search_* 10/s per client"
    );
}

#[test]
fn expose_per_upstream_uses_the_literal_default_profile_name() {
    let parsed = parse("expose-per-upstream \"/servers/{upstream}/mcp\"\ndefault-profile hub\n");
    assert!(parsed.diags.is_empty(), "{:#?}", parsed.diags);
    let Item::Endpoint(e) = &parsed.file.items[0] else {
        panic!("not an endpoint");
    };
    assert_eq!(e.profile.node, "hub");
    assert_eq!(parsed.text(e.profile.span), "expose-per-upstream");

    let parsed = parse("expose-per-upstream \"/servers/{upstream}/mcp\"\n");
    let Item::Endpoint(e) = &parsed.file.items[0] else {
        panic!("not an endpoint");
    };
    assert_eq!(e.profile.node, "default");
}

#[test]
fn bare_and_quoted_forms_are_the_same_value() {
    let bare = parse(
        "listen localhost:8210\nendpoint /mcp -> safe\nupstream x {\n  http https://h/mcp\n  stdio npx -y pkg\n}\n",
    );
    let quoted = parse(
        "listen \"localhost:8210\"\nendpoint \"/mcp\" -> \"safe\"\nupstream \"x\" {\n  http \"https://h/mcp\"\n  stdio \"npx\" \"-y\" \"pkg\"\n}\n",
    );
    // Two transports: the second is a duplicate either way.
    assert_eq!(bare.codes(), quoted.codes());
    assert_eq!(bare.erased(), quoted.erased());
}

#[test]
fn layout_is_free_within_lines_and_blocks() {
    let tight = parse("upstream a{http \"u\"}\nprofile p\n{\n\n  use a\n\n}\nlogging {}\n");
    assert!(tight.diags.is_empty(), "{:#?}", tight.diags);
    assert_eq!(tight.file.items.len(), 3);
    let crlf = parse("listen 1.2.3.4:5\r\nupstream a {\r\n  http \"u\"\r\n}\r\n");
    assert!(crlf.diags.is_empty(), "{:#?}", crlf.diags);
    assert_eq!(crlf.file.items.len(), 2);
    let bom = parse("\u{FEFF}listen 1.2.3.4:5\n");
    assert!(bom.diags.is_empty(), "{:#?}", bom.diags);
    assert_eq!(bom.file.items.len(), 1);
}

#[test]
fn keywords_are_whole_words_and_names_may_be_keywords() {
    let parsed = parse(
        "upstream upstream { http \"u\" }\nprofile tool {\n  use upstream\n  limit tool 5/s\n  allow tool matching/x\n}\nendpoint \"/\" -> when when header when\n",
    );
    assert!(parsed.diags.is_empty(), "{:#?}", parsed.diags);
    let Item::Profile(p) = &parsed.file.items[1] else {
        panic!("not a profile");
    };
    assert_eq!(p.limits[0].scope, LimitScope::Upstream(s("tool")));
    let Item::Endpoint(e) = &parsed.file.items[2] else {
        panic!("not an endpoint");
    };
    assert_eq!(e.profile.node, "when");
}

#[test]
fn an_empty_regex_can_be_written_as_a_string() {
    let parsed = parse("profile p {\n  deny tool * matching \"\"\n}\n");
    assert!(parsed.diags.is_empty(), "{:#?}", parsed.diags);
    let Item::Profile(p) = &parsed.file.items[0] else {
        panic!("not a profile");
    };
    let RuleBody::Filter { target, .. } = &p.rules[0].body else {
        panic!("not a filter");
    };
    assert_eq!(target.name, NamePattern::Regex(s("")));
}
