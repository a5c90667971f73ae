//! The route-language reference, `docs/routes.md`, cannot drift from what mcp2 does: its
//! examples are files under `docs/examples/` that `mcp2 check` accepts, every `mcproute` and
//! `yaml` code block in it is quoted verbatim from such a checked file, and its links resolve.
//! (`tests/convert.rs` also compiles every example and its `mcp2 convert` output.)

mod util;

use std::path::{Path, PathBuf};

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn reference() -> String {
    std::fs::read_to_string(root().join("docs/routes.md")).expect("docs/routes.md exists")
}

/// The variables the examples use without a default.
const ENV: &[(&str, &str)] = &[
    ("GITHUB_TOKEN", "ghp_example"),
    ("MCP2_ADMIN_TOKEN", "admin_example"),
    ("HUB_TOKEN", "hub-example"),
    // 32 bytes, base64, as `openssl rand -base64 32` writes one.
    (
        "MCP2_SESSION_KEY",
        "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=",
    ),
];

#[test]
fn every_docs_example_checks_without_errors_or_warnings() {
    let out = util::command_in(root())
        .only_env(ENV)
        .args(["check", "docs/examples"])
        .run();
    out.assert_exit(0);
    let verdicts: Vec<&str> = out
        .stdout
        .lines()
        .filter(|l| l.starts_with("ok: ") || l.starts_with("failed: "))
        .collect();
    assert!(verdicts.len() >= 5, "{}", out.stdout);
    assert!(
        verdicts.iter().all(|v| *v == "ok: 0 errors, 0 warnings"),
        "{}\n{}",
        out.stdout,
        out.stderr
    );
}

#[test]
fn the_converted_yaml_example_is_what_convert_prints() {
    let out = util::command_in(root())
        .only_env(&[])
        .args(["convert", "docs/examples/yaml/mcp2.yaml"])
        .run();
    out.assert_exit(0);
    let checked_in =
        std::fs::read_to_string(root().join("docs/examples/yaml-converted/routes.mcproute"))
            .expect("the converted example exists");
    assert_eq!(
        out.stdout, checked_in,
        "docs/examples/yaml-converted/routes.mcproute is stale: regenerate it with \
         `mcp2 convert docs/examples/yaml/mcp2.yaml`"
    );
}

/// The text of every route file under `docs/examples/`, `routes/` and `examples/`.
fn checked_files() -> Vec<(PathBuf, String)> {
    fn walk(dir: &Path, out: &mut Vec<(PathBuf, String)>) {
        for entry in std::fs::read_dir(dir).expect("readable dir").flatten() {
            let path = entry.path();
            if path.is_dir() {
                walk(&path, out);
            } else if path
                .extension()
                .is_some_and(|e| e == "mcproute" || e == "yaml" || e == "yml")
            {
                let text = std::fs::read_to_string(&path).expect("readable file");
                out.push((path, text));
            }
        }
    }
    let mut out = Vec::new();
    for dir in ["docs/examples", "routes", "examples"] {
        walk(&root().join(dir), &mut out);
    }
    out
}

/// The code blocks of a Markdown text tagged with `lang`.
fn code_blocks<'a>(markdown: &'a str, lang: &str) -> Vec<&'a str> {
    let fence = format!("```{lang}\n");
    let mut blocks = Vec::new();
    let mut rest = markdown;
    while let Some(start) = rest.find(&fence) {
        let body = &rest[start + fence.len()..];
        let Some(end) = body.find("```\n") else { break };
        blocks.push(&body[..end]);
        rest = &body[end..];
    }
    blocks
}

#[test]
fn every_route_example_in_the_reference_is_quoted_from_a_checked_file() {
    let doc = reference();
    let files = checked_files();
    let mut quoted = 0;
    for lang in ["mcproute", "yaml"] {
        for block in code_blocks(&doc, lang) {
            quoted += 1;
            assert!(
                files.iter().any(|(_, text)| text.contains(block)),
                "this {lang} block of docs/routes.md is in no checked file:\n{block}"
            );
        }
    }
    assert!(quoted >= 10, "only {quoted} quoted blocks");
}

#[test]
fn every_link_in_the_reference_resolves() {
    let doc = reference();
    let mut links = 0;
    for part in doc.split("](").skip(1) {
        let Some(target) = part.split(')').next() else {
            continue;
        };
        if target.starts_with("http") || target.starts_with('#') {
            continue;
        }
        links += 1;
        let path = root().join("docs").join(target);
        assert!(path.exists(), "docs/routes.md links to a missing {target}");
    }
    assert!(links >= 5, "only {links} links");
}
