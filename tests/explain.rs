//! `mcp2 explain`, run as a user runs it: golden outputs (plain mode, since stdout is a pipe)
//! for the route sets under tests/explain/ and docs/examples/.

use std::process::Command;

/// Runs `mcp2 explain ARGS` from the repository root; returns stdout, asserting exit 0.
fn explain(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_mcp2"))
        .arg("explain")
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env_remove("RUST_LOG")
        .env_remove("MCP2_ADMIN_TOKEN")
        .output()
        .expect("run mcp2");
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "mcp2 explain {args:?} failed: {stderr}"
    );
    assert!(
        !stdout.contains('\x1b') && stdout.is_ascii(),
        "piped output must be plain ASCII:\n{stdout}"
    );
    stdout
}

const RULES: &str = "tests/explain/rules/routes.mcproute";
const PREFIX: &str = "tests/explain/prefix/routes.mcproute";
const COLLISION: &str = "tests/explain/collision/routes.mcproute";
const ENDPOINTS: &str = "docs/examples/endpoints/routes.mcproute";

#[test]
fn allow_rule_routes_the_call_and_names_the_limit_in_force() {
    let out = explain(&[RULES, "tools/call", "read_file"]);
    assert!(out.contains("matched: allow"), "{out}");
    assert!(
        out.contains("environment set: FILES_TOKEN=<redacted>"),
        "{out}"
    );
    assert!(
        !out.contains("do-not-print-this-either"),
        "a secret leaked:\n{out}"
    );
    insta::assert_snapshot!(out);
}

#[test]
fn deny_rule_hides_the_name_and_says_which_rule() {
    let out = explain(&[RULES, "tools/call", "delete_repo"]);
    assert!(out.contains("hidden by `deny tool */delete_*`"), "{out}");
    insta::assert_snapshot!(out);
}

#[test]
fn rename_sends_the_original_name_and_redacts_injected_headers() {
    let out = explain(&[RULES, "tools/call", "code_search"]);
    assert!(
        out.contains("routed to upstream `github` as `search_code`"),
        "{out}"
    );
    assert!(!out.contains("do-not-print-me"), "a secret leaked:\n{out}");
    insta::assert_snapshot!(out);
}

#[test]
fn json_format_is_one_object_with_the_documented_fields() {
    let out = explain(&[RULES, "--format", "json", "tools/call", "code_search"]);
    assert!(!out.contains("do-not-print-me"), "a secret leaked:\n{out}");
    let v: serde_json::Value = serde_json::from_str(&out).expect("valid JSON");
    assert_eq!(v["outcome"]["kind"], "routed");
    assert_eq!(v["outcome"]["original"], "search_code");
    assert_eq!(v["upstream"]["headers"][0]["value"], "<redacted>");
    insta::assert_snapshot!(out);
}

#[test]
fn prefix_strips_to_the_original_name() {
    let out = explain(&[PREFIX, "tools/call", "github__search_code"]);
    assert!(out.contains("as `search_code`"), "{out}");
    insta::assert_snapshot!(out);
}

#[test]
fn unknown_name_gets_a_suggestion() {
    let out = explain(&[PREFIX, "tools/call", "githb__search_code"]);
    assert!(out.contains("did you mean `github__search_code`?"), "{out}");
    insta::assert_snapshot!(out);
}

#[test]
fn collision_explains_the_prefixed_name_of_the_later_upstream() {
    let out = explain(&[COLLISION, "tools/call", "b__echo"]);
    assert!(out.contains("otherwise: b/echo"), "{out}");
    insta::assert_snapshot!(out);
}

#[test]
fn per_upstream_endpoint_serves_only_its_upstream() {
    let out = explain(&[ENDPOINTS, "--endpoint", "/internal/files/mcp", "tools/list"]);
    assert!(
        out.contains("upstreams, in priority order: files\n"),
        "{out}"
    );
    insta::assert_snapshot!(out);
}

#[test]
fn conditional_endpoint_says_which_condition_matched() {
    let out = explain(&[
        ENDPOINTS,
        "--header",
        "X-Team=platform",
        "tools/call",
        "read_file",
    ]);
    assert!(out.contains("profile internal"), "{out}");
    insta::assert_snapshot!(out);
    let public = explain(&[ENDPOINTS, "tools/call", "read_file"]);
    assert!(public.contains("profile public"), "{public}");
}

#[test]
fn an_unknown_path_lists_the_served_ones() {
    let out = explain(&[ENDPOINTS, "--endpoint", "/nope", "tools/list"]);
    assert!(out.contains("no endpoint is served at /nope"), "{out}");
    assert!(
        out.contains("served paths: /mcp, /internal/github/mcp"),
        "{out}"
    );
}

#[test]
fn usage_errors_exit_2() {
    let out = Command::new(env!("CARGO_BIN_EXE_mcp2"))
        .args(["explain", RULES, "tools/call"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("run mcp2");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("needs a name"));
}

#[test]
fn initialize_names_the_profile_meta_and_its_upstreams() {
    let out = explain(&[ENDPOINTS, "--header", "X-Internal=yes", "initialize"]);
    assert!(out.contains("profile internal"), "{out}");
    assert!(
        out.contains("capabilities: the union of github, files"),
        "{out}"
    );
}

#[test]
fn a_resource_uri_is_decided_by_resource_rules() {
    let rules = "docs/examples/rules/routes.mcproute";
    let out = explain(&[rules, "resources/read", "file:///srv/data/a.txt"]);
    assert!(
        out.contains("routed to upstream `github` as `file:///srv/data/a.txt`"),
        "github has no resource allow-list, and comes first:\n{out}"
    );
    assert!(
        out.contains("files/file:///srv/data/a.txt (if the upstream offers it): visible"),
        "{out}"
    );
    let hidden = explain(&[
        rules,
        "--endpoint",
        "/mcp",
        "resources/read",
        "file:///etc/passwd",
    ]);
    assert!(
        hidden.contains("files/file:///etc/passwd (if the upstream offers it): hidden"),
        "{hidden}"
    );
}

#[test]
fn the_caller_s_claims_and_key_decide_like_a_request_authenticated_that_way() {
    caller_rules_decide_in("docs/examples/identity");
}

/// The YAML twin of the identity example writes the same rules as conditioned patterns.
#[test]
fn yaml_rule_conditions_decide_like_the_mcproute_ones() {
    caller_rules_decide_in("docs/examples/identity-yaml");
}

fn caller_rules_decide_in(routes: &str) {
    let dir = tempfile::tempdir().unwrap();
    let eng = dir.path().join("eng.json");
    std::fs::write(&eng, r#"{"sub":"ann","groups":["eng"],"scope":"mcp"}"#).unwrap();
    let eng = eng.to_str().unwrap();
    let rule = "hidden by `deny tool github/deploy unless claim groups contains \"eng\"`";
    // Anonymous, and a CI key without the claim: the group rule hides `deploy`.
    let anonymous = explain(&[routes, "tools/call", "deploy"]);
    assert!(anonymous.contains(rule), "{anonymous}");
    let ci = explain(&[routes, "--api-key", "ci-bot", "tools/call", "deploy"]);
    assert!(ci.contains(rule), "{ci}");
    // A token of the eng group: the same rule does not apply and the call is routed.
    let member = explain(&[routes, "--claims", eng, "tools/call", "deploy"]);
    assert!(
        member.contains("routed to upstream `github` as `deploy`"),
        "{member}"
    );
    // Only an authenticated caller may list anything: the allow rule says `when authenticated`.
    let listed = explain(&[routes, "--api-key", "ci-bot", "tools/call", "search"]);
    assert!(listed.contains("routed to upstream `github`"), "{listed}");
    let anonymous = explain(&[routes, "tools/call", "search"]);
    assert!(anonymous.contains("hidden"), "{anonymous}");
}
