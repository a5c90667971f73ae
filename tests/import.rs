//! `mcp2 import`: a realistic client file becomes routes that `mcp2 check` accepts.

mod util;

use util::Dir;

const CLAUDE: &str = include_str!("import/claude_desktop_config.json");
const VSCODE: &str = include_str!("import/vscode_mcp.json");

/// The variables the import asks the user to set, with made-up values.
const SECRETS: [(&str, &str); 3] = [
    ("GITHUB_PERSONAL_ACCESS_TOKEN", "t"),
    ("BRAVE_API_KEY", "t"),
    ("SENTRY_AUTHORIZATION", "t"),
];

fn import(dir: &Dir, file: &str, format: &str) -> util::Outcome {
    dir.command()
        .args(["import", "--format", format, file])
        .run()
}

#[test]
fn a_claude_desktop_file_becomes_routes_that_check_clean() {
    let dir = Dir::new("import_claude");
    dir.create("claude_desktop_config.json", CLAUDE);
    let out = import(&dir, "claude_desktop_config.json", "mcproute");
    out.assert_exit(0);
    insta::assert_snapshot!("claude_mcproute", out.stdout);
    insta::assert_snapshot!("claude_notes", out.stderr);
    for secret in ["ghp_16C7e42F", "BSAbc123", "sntrys_"] {
        assert!(!out.all_output().contains(secret), "{secret} leaked");
    }

    dir.create("routes/imported.mcproute", &out.stdout);
    let mut check = dir.command().args(["check", "routes"]);
    for (k, v) in SECRETS {
        check = check.env(k, v);
    }
    check.run().assert_exit(0);
    // Without the variables the note names, the routes do not check: the secrets really moved
    // to the environment.
    let mut unset = dir.command().args(["check", "routes"]);
    for (k, _) in SECRETS {
        unset = unset.env_remove(k);
    }
    unset.run().assert_exit(1);
}

#[test]
fn the_yaml_form_checks_clean_and_converts_to_the_same_routes() {
    let dir = Dir::new("import_yaml");
    dir.create("claude_desktop_config.json", CLAUDE);
    let mcproute = import(&dir, "claude_desktop_config.json", "mcproute");
    let yaml = import(&dir, "claude_desktop_config.json", "yaml");
    yaml.assert_exit(0);
    dir.create("imported.yaml", &yaml.stdout);
    let mut check = dir.command().args(["check", "imported.yaml"]);
    for (k, v) in SECRETS {
        check = check.env(k, v);
    }
    check.run().assert_exit(0);
    let converted = dir.command().args(["convert", "imported.yaml"]).run();
    converted.assert_exit(0);
    // The YAML adds the implicit `default` profile; the upstreams are the same text.
    assert!(
        converted.stdout.starts_with(&mcproute.stdout),
        "{}\n---\n{}",
        converted.stdout,
        mcproute.stdout
    );
}

#[test]
fn a_vs_code_file_with_inputs_and_env_references() {
    let dir = Dir::new("import_vscode");
    dir.create("mcp.json", VSCODE);
    let out = import(&dir, "mcp.json", "mcproute");
    out.assert_exit(0);
    insta::assert_snapshot!("vscode_mcproute", out.stdout);
    insta::assert_snapshot!("vscode_notes", out.stderr);
}

#[test]
fn broken_input_exits_1_and_a_missing_file_exits_2() {
    let dir = Dir::new("import_broken");
    dir.create(
        "bad.json",
        r#"{ "mcpServers": { "x": { "type": "websocket", "url": "ws://h" } } }"#,
    )
    .create("not.json", "{ mcpServers");
    let bad = import(&dir, "bad.json", "mcproute");
    bad.assert_exit(1);
    assert!(bad.stdout.is_empty());
    assert!(bad.stderr.contains("mcpServers.x.type"), "{}", bad.stderr);
    import(&dir, "not.json", "mcproute").assert_exit(1);
    import(&dir, "missing.json", "mcproute").assert_exit(2);
}
