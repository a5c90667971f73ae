//! Checker tests: ASTs built over real text, compiled, and looked at as a user would.

mod builder;
mod endpoints;
mod names;
mod plan;
mod rules;
mod values;

use crate::syntax::ast::Item;
use builder::{Checked, Routes, Src};

/// A single upstream file with `upstream NAME { http "URL" }` blocks, one per name.
fn http_upstreams(s: &mut Src, names: &[&str]) -> Vec<Item> {
    names
        .iter()
        .map(|n| {
            let mut up = s.upstream(n);
            up.transport = Some(s.http(&format!("https://{n}.example.com/mcp")));
            Item::Upstream(up)
        })
        .collect()
}

fn http_upstreams_text(names: &[&str]) -> String {
    names
        .iter()
        .map(|n| format!("upstream {n} {{\n  http \"https://{n}.example.com/mcp\"\n}}\n"))
        .collect()
}

/// Asserts the secret is nowhere in what a user could see: diagnostics and the plan.
fn assert_never_shown(checked: &Checked, secret: &str) {
    let rendered = checked.rendered();
    assert!(
        !rendered.contains(secret),
        "secret in diagnostics:\n{rendered}"
    );
    let json = checked
        .compiled
        .diagnostics
        .to_json(&checked.sources)
        .to_string();
    assert!(!json.contains(secret), "secret in JSON diagnostics: {json}");
    if let Some(plan) = &checked.compiled.plan {
        assert!(
            !format!("{plan:?}").contains(secret),
            "secret in plan Debug"
        );
        let json = serde_json::to_string(plan).unwrap();
        assert!(!json.contains(secret), "secret in plan JSON");
    }
}
