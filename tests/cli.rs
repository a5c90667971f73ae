//! The `mcp2` command line, run as a user runs it.

mod util;

use util::Dir;

const VALID: &str = r#"upstream github {
  http "https://api.github.example/mcp"
  header Authorization = "Bearer ${GITHUB_TOKEN}"
}
upstream files {
  stdio "npx" "-y" "@modelcontextprotocol/server-filesystem" "/srv/data"
}
"#;

const VALID_YAML: &str = r#"servers:
  github:
    transport:
      kind: http
      url: "https://api.github.example/mcp"
"#;

#[test]
fn check_of_valid_routes_exits_0_with_a_summary_and_a_count() {
    let dir = Dir::new("check_valid");
    dir.create("routes.mcproute", VALID);
    let out = dir
        .command()
        .args(["check", "routes.mcproute"])
        .env("GITHUB_TOKEN", "t0ken")
        .run();
    out.assert_exit(0);
    let last = out.stdout.lines().last().unwrap_or_default();
    assert!(last.starts_with("ok: 0 errors, "), "{}", out.stdout);
    assert!(out.stdout.contains("endpoint"), "{}", out.stdout);
}

#[test]
fn check_reads_a_directory_of_mixed_route_files() {
    let dir = Dir::new("check_dir");
    dir.create("routes/a.mcproute", VALID)
        .create("routes/b.yaml", "servers: {}\n")
        .create("routes/notes.txt", "not a route file");
    let out = dir
        .command()
        .args(["check", "routes", "--format", "json"])
        .env("GITHUB_TOKEN", "t0ken")
        .run();
    out.assert_exit(0);
    assert_eq!(out.json()["ok"], true);
}

#[test]
fn json_output_is_one_object_with_ok_diagnostics_and_summary() {
    let dir = Dir::new("check_json");
    dir.create("routes.mcproute", VALID);
    let out = dir
        .command()
        .args(["check", "--format", "json", "routes.mcproute"])
        .env("GITHUB_TOKEN", "t0ken")
        .run();
    out.assert_exit(0);
    let v = out.json();
    assert_eq!(v["ok"], true);
    assert!(v["diagnostics"].is_array(), "{v}");
    assert!(v["summary"]["endpoints"].is_array(), "{v}");
    assert_eq!(v["summary"]["listen"], "127.0.0.1:8210");
}

#[test]
fn piped_reports_are_plain_without_colour_codes() {
    let dir = Dir::new("check_plain");
    dir.create("empty.mcproute", "# nothing yet\n");
    let out = dir
        .command()
        .env_remove("NO_COLOR")
        .args(["check", "empty.mcproute"])
        .run();
    out.assert_exit(0);
    assert!(
        out.stderr.contains("mcp2::check::empty_plan"),
        "{}",
        out.stderr
    );
    assert!(
        !out.stderr.contains('\u{1b}'),
        "colour codes in piped output"
    );
    assert!(
        out.stdout.ends_with("ok: 0 errors, 1 warning\n"),
        "{}",
        out.stdout
    );
}

#[test]
fn unreadable_paths_exit_2() {
    let dir = Dir::new("check_unreadable");
    dir.create("notes.txt", "hello").create_dir("empty");
    for path in ["missing.mcproute", "notes.txt", "empty"] {
        let out = dir.command().args(["check", path]).run();
        out.assert_exit(2);
        assert!(out.stderr.starts_with("error: "), "{}", out.stderr);
        assert!(out.stdout.is_empty());
    }
    let out = dir
        .command()
        .args(["check", "--format", "json", "missing.mcproute"])
        .run();
    out.assert_exit(2);
    let v = out.json();
    assert_eq!(v["ok"], false);
    assert_eq!(v["diagnostics"][0]["code"], "mcp2::load::error");
    assert!(
        v["diagnostics"][0]["message"]
            .as_str()
            .unwrap()
            .contains("cannot read")
    );
}

#[test]
fn usage_errors_exit_2() {
    let dir = Dir::new("usage");
    for args in [
        &[][..],
        &["check"],
        &["check", "x.mcproute", "--format", "xml"],
        &["frobnicate"],
    ] {
        let out = dir.command().args(args.iter().copied()).run();
        out.assert_exit(2);
        assert!(!out.stderr.is_empty());
    }
}

#[test]
fn help_mentions_every_subcommand_and_version_prints() {
    let dir = Dir::new("help");
    let out = dir.command().arg("--help").run();
    out.assert_exit(0);
    for sub in ["check", "convert"] {
        assert!(
            out.stdout.contains(sub),
            "`{sub}` missing from --help:\n{}",
            out.stdout
        );
    }
    assert!(out.stdout.contains("Exit status"), "{}", out.stdout);
    let out = dir.command().args(["check", "--help"]).run();
    out.assert_exit(0);
    assert!(out.stdout.contains("--format"), "{}", out.stdout);
    let out = dir.command().arg("--version").run();
    out.assert_exit(0);
    assert_eq!(
        out.stdout.trim(),
        format!("mcp2 {}", env!("CARGO_PKG_VERSION"))
    );
}

#[test]
fn the_admin_token_is_one_flag_whose_value_help_never_shows() {
    let dir = Dir::new("admin_token_help");
    for sub in ["serve", "explain"] {
        let out = dir
            .command()
            .args([sub, "--help"])
            .env("MCP2_ADMIN_TOKEN", "adm1n-s3cret")
            .run();
        out.assert_exit(0);
        assert!(
            out.stdout.contains("--admin-token <TOKEN>")
                && out.stdout.contains("[env: MCP2_ADMIN_TOKEN]"),
            "{sub} --help:\n{}",
            out.stdout
        );
        assert!(
            !out.all_output().contains("adm1n-s3cret"),
            "{sub} showed the token"
        );
    }
}

#[test]
fn convert_refuses_what_is_not_yaml() {
    let dir = Dir::new("convert_usage");
    dir.create("routes.mcproute", VALID);
    dir.command()
        .args(["convert", "routes.mcproute"])
        .run()
        .assert_exit(2);
    dir.command()
        .args(["convert", "missing.yaml"])
        .run()
        .assert_exit(2);
}

#[test]
fn secrets_never_appear_in_check_output() {
    let dir = Dir::new("check_secret");
    dir.create("routes.mcproute", VALID);
    for format in ["human", "json"] {
        let out = dir
            .command()
            .args(["check", "routes.mcproute", "--format", format])
            .env("GITHUB_TOKEN", "hunter2-secret")
            .run();
        assert!(
            !out.all_output().contains("hunter2-secret"),
            "{}",
            out.all_output()
        );
    }
}

#[test]
fn check_with_errors_exits_1_and_shows_each_with_its_place() {
    let dir = Dir::new("check_errors");
    dir.create("routes.mcproute", VALID);
    let out = dir
        .command()
        .env_remove("GITHUB_TOKEN")
        .args(["check", "routes.mcproute"])
        .run();
    out.assert_exit(1);
    assert!(
        out.stderr.contains("mcp2::check::unset_variable"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("routes.mcproute:3:"), "{}", out.stderr);
    assert!(out.stdout.starts_with("failed: 1 error"), "{}", out.stdout);

    let out = dir
        .command()
        .env_remove("GITHUB_TOKEN")
        .args(["check", "routes.mcproute", "--format", "json"])
        .run();
    out.assert_exit(1);
    let v = out.json();
    assert_eq!(v["ok"], false);
    assert_eq!(v["diagnostics"][0]["primary"]["line"], 3);
    assert!(v["summary"].is_null());
}

#[test]
fn duplicates_across_files_exit_1_naming_both_files() {
    let dir = Dir::new("check_duplicate");
    dir.create(
        "routes/a.mcproute",
        "upstream x {\n  http \"https://x.example/mcp\"\n}\n",
    )
    .create(
        "routes/b.mcproute",
        "upstream x {\n  http \"https://y.example/mcp\"\n}\n",
    );
    let out = dir.command().args(["check", "routes"]).run();
    out.assert_exit(1);
    assert!(
        out.stderr.contains("a.mcproute") && out.stderr.contains("b.mcproute"),
        "{}",
        out.stderr
    );
}

#[test]
fn convert_prints_mcproute_that_checks_the_same() {
    let dir = Dir::new("convert_ok");
    dir.create("config.yaml", VALID_YAML);
    let out = dir.command().args(["convert", "config.yaml"]).run();
    out.assert_exit(0);
    assert!(out.stdout.contains("upstream github"), "{}", out.stdout);
    dir.create("converted.mcproute", &out.stdout);
    let yaml = dir
        .command()
        .args(["check", "config.yaml", "--format", "json"])
        .run();
    let converted = dir
        .command()
        .args(["check", "converted.mcproute", "--format", "json"])
        .run();
    assert_eq!(yaml.json()["summary"], converted.json()["summary"]);
}

#[test]
fn convert_of_broken_yaml_exits_1_with_the_problem_on_stderr() {
    let dir = Dir::new("convert_broken");
    dir.create("config.yaml", "servers:\n  github: [unclosed\n");
    let out = dir.command().args(["convert", "config.yaml"]).run();
    out.assert_exit(1);
    assert!(out.stdout.is_empty());
    assert!(out.stderr.contains("config.yaml"), "{}", out.stderr);
}

#[test]
fn completions_name_every_subcommand_in_each_shell() {
    let dir = Dir::new("completions");
    for shell in ["bash", "zsh", "fish"] {
        let out = dir.command().args(["completions", shell]).run();
        out.assert_exit(0);
        for sub in [
            "check",
            "convert",
            "serve",
            "import",
            "schema",
            "completions",
        ] {
            assert!(out.stdout.contains(sub), "{shell} completions lack `{sub}`");
        }
        if shell == "bash" {
            dir.create("mcp2.bash", &out.stdout);
            let syntax = std::process::Command::new("bash")
                .args(["-n", "mcp2.bash"])
                .current_dir(dir.path())
                .output()
                .expect("run bash -n");
            assert!(
                syntax.status.success(),
                "{}",
                String::from_utf8_lossy(&syntax.stderr)
            );
        }
    }
    dir.command()
        .args(["completions", "powershell-9000"])
        .run()
        .assert_exit(2);
}
