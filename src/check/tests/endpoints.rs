//! Endpoints: paths, conflicts, shadowing.

use super::{Checked, Routes, Src, http_upstreams, http_upstreams_text};
use crate::diag::codes;
use crate::syntax::ast::{Endpoint, Item};

/// Upstreams `a`, `b`, profiles `safe` and `ops`, then the endpoints `f` builds from `lines`.
fn endpoints(lines: &str, f: impl FnOnce(&mut Src) -> Vec<Endpoint>) -> Checked {
    let text = format!(
        "{}profile safe {{\n}}\nprofile ops {{\n}}\n{lines}",
        http_upstreams_text(&["a", "b"])
    );
    let mut r = Routes::new();
    r.file("r.mcproute", &text, |s| {
        let mut items = http_upstreams(s, &["a", "b"]);
        items.push(Item::Profile(s.profile("safe")));
        items.push(Item::Profile(s.profile("ops")));
        items.extend(f(s).into_iter().map(Item::Endpoint));
        items
    });
    r.compile(&[])
}

#[test]
fn two_endpoints_on_one_path_under_the_same_condition_conflict() {
    let c = endpoints(
        "endpoint \"/mcp\" -> safe\nendpoint \"/mcp\" -> ops\n",
        |s| vec![s.endpoint("/mcp", "safe"), s.endpoint("/mcp", "ops")],
    );
    let d = c.one(codes::ENDPOINT_CONFLICT);
    assert_eq!(c.underlined(d), "endpoint \"/mcp\" -> ops");
    assert_eq!(c.text(d.secondary[0].span), "endpoint \"/mcp\" -> safe");
    assert!(c.compiled.plan.is_none());
}

#[test]
fn a_conditional_endpoint_after_an_unconditional_one_is_never_reached() {
    let c = endpoints(
        "endpoint \"/mcp\" -> safe\nendpoint \"/mcp\" -> ops when header X-Team == \"ops\"\n",
        |s| {
            vec![
                s.endpoint("/mcp", "safe"),
                s.endpoint_when("/mcp", "ops", "X-Team", "ops"),
            ]
        },
    );
    let d = c.one(codes::SHADOWED_ENDPOINT);
    assert!(!d.is_error());
    assert_eq!(c.text(d.secondary[0].span), "endpoint \"/mcp\" -> safe");

    let c = endpoints(
        "endpoint \"/mcp\" -> ops when header X-Team == \"ops\"\nendpoint \"/mcp\" -> safe\n",
        |s| {
            vec![
                s.endpoint_when("/mcp", "ops", "X-Team", "ops"),
                s.endpoint("/mcp", "safe"),
            ]
        },
    );
    assert!(c.compiled.diagnostics.is_empty(), "{}", c.rendered());
    assert_eq!(c.compiled.plan.expect("plan").endpoints.len(), 2);
}

#[test]
fn per_upstream_paths_conflict_with_a_declared_path_once() {
    let c = endpoints(
        "endpoint \"/servers/a/mcp\" -> safe\nendpoint \"/servers/{upstream}/mcp\" -> ops\nendpoint \"/mcp\" -> safe\n",
        |s| {
            vec![
                s.endpoint("/servers/a/mcp", "safe"),
                s.endpoint("/servers/{upstream}/mcp", "ops"),
                s.endpoint("/mcp", "safe"),
            ]
        },
    );
    let d = c.one(codes::ENDPOINT_CONFLICT);
    assert!(d.message.contains("`/servers/a/mcp`"), "{}", d.message);
    assert_eq!(
        c.underlined(d),
        "endpoint \"/servers/{upstream}/mcp\" -> ops"
    );
}

#[test]
fn paths_must_be_absolute_plain_and_outside_the_admin_prefix() {
    for (path, underlined) in [
        ("mcp", "\"mcp\""),
        ("/mcp?team=ops", "?"),
        ("/_mcp2/health", "/_mcp2/health"),
        ("/s/{name}/mcp", "{name}"),
    ] {
        let c = endpoints(&format!("endpoint \"{path}\" -> safe\n"), |s| {
            vec![s.endpoint(path, "safe")]
        });
        let d = c.one(codes::BAD_PATH);
        assert_eq!(c.underlined(d), underlined, "{}", c.rendered());
    }
}

#[test]
fn condition_header_names_must_be_valid() {
    let c = endpoints(
        "endpoint \"/mcp\" -> ops when header X:Team == \"ops\"\n",
        |s| vec![s.endpoint_when("/mcp", "ops", "X:Team", "ops")],
    );
    assert_eq!(c.underlined(c.one(codes::BAD_HEADER)), ":");
}

/// `expose-per-upstream PATH`: the front-end names no profile; it writes `default` at the span
/// of the keyword.
fn expose(s: &mut Src, path: &str) -> Endpoint {
    let kw = s.span("expose-per-upstream");
    let path = s.lit(path);
    Endpoint {
        span: kw.to(path.span).into(),
        path,
        profile: crate::source::Spanned::new("default".into(), kw),
        when: None,
        auth: Vec::new(),
        sse: None,
    }
}

#[test]
fn an_endpoint_without_a_written_profile_serves_the_default_profile() {
    let c = endpoints(
        "endpoint \"/mcp\" -> ops\nexpose-per-upstream \"/servers/{upstream}/mcp\"\n",
        |s| {
            vec![
                s.endpoint("/mcp", "ops"),
                expose(s, "/servers/{upstream}/mcp"),
            ]
        },
    );
    assert!(c.compiled.diagnostics.is_empty(), "{}", c.rendered());
    let plan = c.compiled.plan.expect("plan");
    let served: Vec<(&str, &str)> = plan
        .endpoints
        .iter()
        .map(|e| (e.path.as_str(), e.profile.as_str()))
        .collect();
    assert_eq!(
        served,
        [
            ("/mcp", "ops"),
            ("/servers/a/mcp", "ops"),
            ("/servers/b/mcp", "ops")
        ]
    );

    let c = endpoints("expose-per-upstream \"/servers/{upstream}/mcp\"\n", |s| {
        vec![expose(s, "/servers/{upstream}/mcp")]
    });
    assert_eq!(c.codes(), [codes::NO_DEFAULT_PROFILE], "{}", c.rendered());
}

#[test]
fn an_endpoint_naming_default_needs_a_profile_named_default() {
    let c = endpoints("endpoint \"/x\" -> default\n", |s| {
        vec![s.endpoint("/x", "default")]
    });
    assert_eq!(c.underlined(c.one(codes::UNKNOWN_PROFILE)), "default");
}
