//! A realistic route set compiles into the plan a reader expects.

use std::time::Duration;

use super::{Routes, assert_never_shown, http_upstreams, http_upstreams_text};
use crate::plan::rules::{Caller, ItemKind, ItemRef};
use crate::plan::{
    DEFAULT_LISTEN, EndpointCondition, LimitKey, LimitScopeSpec, LoggingSettings, Meta,
    TransportSpec,
};
use crate::syntax::ast::Item;

const ROUTES: &str = r#"listen localhost:9000

upstream github {
  http "https://api.github.example/mcp"
  header Authorization = "Bearer ${GITHUB_TOKEN}"
  timeout 10s
}
upstream files {
  stdio "npx" "-y" "@modelcontextprotocol/server-filesystem" "${DATA_DIR:-/srv/data}"
  env LOG_LEVEL = "warn"
}
upstream legacy {
  sse "http://127.0.0.1:9000/sse"
  header X-API-Key = "${LEGACY_KEY}"
}

profile safe {
  meta name "Production Safe Hub" version "1.2.0"
  use github, files
  prefix "{upstream}__"
  allow tool github/search_*
  allow tool files/read_*
  deny tool files/*write*
  rename tool github/search_code -> code_search
  describe tool files/read_file "Read a file from the shared data directory"
  limit github 100/min per client
}

profile ops {
  deny prompt * matching /^admin_/
}

endpoint "/mcp" -> safe
endpoint "/mcp/ops" -> ops when header X-Team == "ops"
endpoint "/servers/{upstream}/mcp" -> ops
"#;

fn routes() -> Routes {
    let mut r = Routes::new();
    r.file("routes/main.mcproute", ROUTES, |s| {
        let listen = s.listen("localhost:9000");
        let mut github = s.upstream("github");
        github.transport = Some(s.http("https://api.github.example/mcp"));
        github
            .headers
            .push(s.kv("Authorization", "Bearer ${GITHUB_TOKEN}"));
        github.timeout = Some(s.word("10s"));
        let mut files = s.upstream("files");
        files.transport = Some(s.stdio(
            "npx",
            &[
                "-y",
                "@modelcontextprotocol/server-filesystem",
                "${DATA_DIR:-/srv/data}",
            ],
        ));
        files.env.push(s.kv("LOG_LEVEL", "warn"));
        let mut legacy = s.upstream("legacy");
        legacy.transport = Some(s.sse("http://127.0.0.1:9000/sse"));
        legacy.headers.push(s.kv("X-API-Key", "${LEGACY_KEY}"));

        let mut safe = s.profile("safe");
        safe.meta.name = Some(s.lit("Production Safe Hub"));
        safe.meta.version = Some(s.lit("1.2.0"));
        s.span("use");
        safe.uses = vec![s.word("github"), s.word("files")];
        safe.prefix = Some(s.lit("{upstream}__"));
        safe.rules
            .push(s.filter("allow", "tool", "github", "search_*"));
        safe.rules
            .push(s.filter("allow", "tool", "files", "read_*"));
        safe.rules
            .push(s.filter("deny", "tool", "files", "*write*"));
        safe.rules
            .push(s.rename("tool", "github", "search_code", "code_search"));
        safe.rules.push(s.describe(
            "tool",
            "files",
            "read_file",
            "Read a file from the shared data directory",
        ));
        safe.limits
            .push(s.limit("github", "100/min", Some("client")));
        let mut ops = s.profile("ops");
        ops.rules
            .push(s.filter_re("deny", "prompt", "*", "^admin_"));

        vec![
            listen,
            Item::Upstream(github),
            Item::Upstream(files),
            Item::Upstream(legacy),
            Item::Profile(safe),
            Item::Profile(ops),
            Item::Endpoint(s.endpoint("/mcp", "safe")),
            Item::Endpoint(s.endpoint_when("/mcp/ops", "ops", "X-Team", "ops")),
            Item::Endpoint(s.endpoint("/servers/{upstream}/mcp", "ops")),
        ]
    });
    r
}

const ENV: &[(&str, &str)] = &[("GITHUB_TOKEN", "ghp_s3cr3t"), ("LEGACY_KEY", "legacy-k3y")];

fn tool<'a>(upstream: &'a str, name: &'a str) -> ItemRef<'a> {
    ItemRef {
        kind: ItemKind::Tool,
        upstream,
        name,
    }
}

#[test]
fn upstreams_keep_their_order_transport_and_expanded_secrets() {
    let checked = routes().compile(ENV);
    assert!(
        checked.compiled.diagnostics.is_empty(),
        "{}",
        checked.rendered()
    );
    let plan = checked.compiled.plan.as_ref().expect("plan");
    assert_eq!(plan.listen, "127.0.0.1:9000".parse().unwrap());
    let ids: Vec<&str> = plan.upstreams.keys().map(|k| k.as_str()).collect();
    assert_eq!(ids, ["github", "files", "legacy"]);

    let github = plan.upstream("github").unwrap();
    assert!(
        matches!(&github.transport, TransportSpec::Http { url } if url.as_str() == "https://api.github.example/mcp")
    );
    assert_eq!(github.headers.len(), 1);
    let (name, value) = &github.headers[0];
    assert_eq!(name, "authorization");
    assert_eq!(value.expose(), "Bearer ghp_s3cr3t");
    assert_eq!(value.vars(), ["GITHUB_TOKEN"]);
    assert_eq!(github.timeout, Duration::from_secs(10));
    assert_eq!(github.origin.line, 3);

    let TransportSpec::Stdio {
        command,
        args,
        env,
        cwd,
    } = &plan.upstream("files").unwrap().transport
    else {
        panic!("files is stdio");
    };
    assert_eq!(command, "npx");
    assert_eq!(
        args.last().map(String::as_str),
        Some("/srv/data"),
        "default used when DATA_DIR is unset"
    );
    assert_eq!(env["LOG_LEVEL"].expose(), "warn");
    assert_eq!(*cwd, None);
    assert_eq!(plan.upstream("legacy").unwrap().transport.kind(), "sse");
    assert_never_shown(&checked, "ghp_s3cr3t");
    assert_never_shown(&checked, "legacy-k3y");
}

#[test]
fn profiles_get_their_upstreams_meta_and_rules() {
    let checked = routes().compile(ENV);
    let plan = checked.compiled.plan.as_ref().expect("plan");
    let safe = plan.profile("safe").unwrap();
    assert_eq!(safe.meta.name, "Production Safe Hub");
    assert_eq!(safe.meta.version, "1.2.0");
    let ups: Vec<&str> = safe.upstreams.iter().map(|u| u.as_str()).collect();
    assert_eq!(ups, ["github", "files"]);
    let ops = plan.profile("ops").unwrap();
    assert_eq!(ops.upstreams.len(), 3, "no `use` means every upstream");
    assert_eq!(ops.meta, Meta::default());
    assert_eq!(
        plan.default_profile.as_str(),
        "safe",
        "the profile of `endpoint \"/mcp\"`"
    );

    let c = Caller::default();
    let search = safe.rules.decide(tool("github", "search_code"), c);
    assert!(search.visible);
    assert_eq!(search.public_name, "code_search");
    assert!(
        !safe.rules.decide(tool("github", "delete_repo"), c).visible,
        "github has an allow-list"
    );
    let write = safe.rules.decide(tool("files", "write_file"), c);
    assert!(!write.visible);
    let read = safe.rules.decide(tool("files", "read_file"), c);
    assert!(read.visible);
    assert_eq!(read.public_name, "files__read_file");
    assert_eq!(
        read.description.as_deref(),
        Some("Read a file from the shared data directory")
    );
    let by = read.decided_by.expect("decided by a rule");
    assert_eq!(&*by.text, "allow tool files/read_*");
    assert_eq!((by.origin.line, by.origin.col), (22, 3));
    assert_eq!(&*by.origin.file, "routes/main.mcproute");

    let admin = ItemRef {
        kind: ItemKind::Prompt,
        upstream: "legacy",
        name: "admin_reset",
    };
    assert!(!ops.rules.decide(admin, c).visible);
    assert!(
        ops.rules.decide(tool("legacy", "admin_reset"), c).visible,
        "the rule is for prompts"
    );

    assert_eq!(safe.limits.len(), 1);
    let limit = &safe.limits[0];
    assert!(
        matches!(&limit.scope, LimitScopeSpec::Upstream { upstream } if upstream.as_str() == "github")
    );
    assert_eq!(
        (limit.rate.count, limit.rate.per),
        (100, Duration::from_secs(60))
    );
    assert_eq!(limit.per, LimitKey::Session);
}

#[test]
fn endpoints_expand_per_upstream_and_lower_case_condition_headers() {
    let checked = routes().compile(ENV);
    let plan = checked.compiled.plan.as_ref().expect("plan");
    let eps: Vec<(String, &str, Option<&str>)> = plan
        .endpoints
        .iter()
        .map(|e| {
            (
                e.path.clone(),
                e.profile.as_str(),
                e.only_upstream.as_ref().map(|u| u.as_str()),
            )
        })
        .collect();
    assert_eq!(
        eps,
        [
            ("/mcp".to_string(), "safe", None),
            ("/mcp/ops".to_string(), "ops", None),
            ("/servers/github/mcp".to_string(), "ops", Some("github")),
            ("/servers/files/mcp".to_string(), "ops", Some("files")),
            ("/servers/legacy/mcp".to_string(), "ops", Some("legacy")),
        ]
    );
    assert_eq!(
        plan.endpoints[1].when,
        Some(EndpointCondition::HeaderEquals {
            name: "x-team".into(),
            value: "ops".into()
        })
    );
}

#[test]
fn a_file_with_only_upstreams_serves_them_all_at_mcp_with_defaults() {
    let names = ["a", "b"];
    let mut r = Routes::new();
    r.file("only.mcproute", &http_upstreams_text(&names), |s| {
        http_upstreams(s, &names)
    });
    let checked = r.compile(&[]);
    assert!(
        checked.compiled.diagnostics.is_empty(),
        "{}",
        checked.rendered()
    );
    let plan = checked.compiled.plan.expect("plan");
    assert_eq!(plan.listen, DEFAULT_LISTEN);
    assert_eq!(plan.logging, LoggingSettings::default());
    assert_eq!(plan.default_profile.as_str(), "default");
    let default = plan.profile("default").unwrap();
    assert_eq!(default.upstreams.len(), 2);
    assert_eq!(plan.endpoints.len(), 1);
    assert_eq!(plan.endpoints[0].path, "/mcp");
    assert_eq!(plan.endpoints[0].profile.as_str(), "default");
    let up = plan.upstream("a").unwrap();
    assert_eq!(up.timeout, crate::plan::UpstreamSpec::DEFAULT_TIMEOUT);
    assert_eq!(
        up.connect_timeout,
        crate::plan::UpstreamSpec::DEFAULT_CONNECT_TIMEOUT
    );
}

#[test]
fn comparable_json_ignores_where_things_were_written() {
    let names = ["a", "b"];
    let text = http_upstreams_text(&names);
    let mut one = Routes::new();
    one.file("one.mcproute", &text, |s| http_upstreams(s, &names));
    let padded = format!("\n\n# moved down\n{text}");
    let mut two = Routes::new();
    two.file("elsewhere/two.yaml", &padded, |s| http_upstreams(s, &names));
    let a = one.compile(&[]).compiled.plan.unwrap();
    let b = two.compile(&[]).compiled.plan.unwrap();
    assert_ne!(a.upstreams["a"].origin, b.upstreams["a"].origin);
    assert_eq!(a.to_comparable_json(), b.to_comparable_json());
    let json = a.to_comparable_json().to_string();
    assert!(!json.contains("one.mcproute"), "{json}");
    let three = ["a", "c"];
    let mut other = Routes::new();
    other.file("x.mcproute", &http_upstreams_text(&three), |s| {
        http_upstreams(s, &three)
    });
    assert_ne!(
        a.to_comparable_json(),
        other
            .compile(&[])
            .compiled
            .plan
            .unwrap()
            .to_comparable_json()
    );
}

#[test]
fn comparable_json_keeps_items_that_happen_to_be_named_origin() {
    let text = "upstream a {\n  stdio \"srv\"\n  env origin = \"x\"\n}\nprofile p {\n  rename tool a/origin -> sources\n}\n";
    let mut r = Routes::new();
    r.file("r.mcproute", text, |s| {
        let mut a = s.upstream("a");
        a.transport = Some(s.stdio("srv", &[]));
        a.env.push(s.kv("origin", "x"));
        let mut p = s.profile("p");
        p.rules.push(s.rename("tool", "a", "origin", "sources"));
        vec![Item::Upstream(a), Item::Profile(p)]
    });
    let plan = r.compile(&[]).compiled.plan.expect("plan");
    let json = plan.to_comparable_json();
    assert!(
        json["upstreams"]["a"]["transport"]["env"]
            .get("origin")
            .is_some(),
        "{json}"
    );
    let renames = &json["profiles"]["p"]["rules"]["upstreams"]["a"]["renames"][0];
    assert_eq!(renames["origin"]["to"], "sources", "{json}");
    assert!(renames["origin"].get("rule").is_some());
    assert!(
        renames["origin"]["rule"].get("origin").is_none(),
        "the rule's own origin is stripped"
    );
}
