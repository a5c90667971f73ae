//! The golden corpus of route mistakes: `mcp2 check` on every case under `tests/check/`, as a
//! user runs it, compared with its snapshot in `tests/snapshots/`.
//!
//! A case is one route file `tests/check/<area>/<case>.mcproute|.yaml`, or a directory
//! `tests/check/<area>/<case>/` holding a route set of several files. Each runs the real binary
//! (`mcp2 check <area>/<case>`, from `tests/check/`, so paths print short) with stderr a pipe, so
//! reports are drawn plain (ASCII art, no colour, 80 columns), and with exactly [`ENV`] as its
//! environment. Cases under `json/` run with `--format json`. The snapshot holds the exit code,
//! stdout and stderr: a reviewer reads the rendered diagnostics with their spans and helps.
//!
//! To add a case, drop a file in an area and run `INSTA_UPDATE=always cargo test --test
//! check_corpus` (or `cargo insta review`), then read the new snapshot as a user would.
//! `tests/check/bad_messages.md` lists messages known to be weak.

mod util;

use std::path::Path;

/// A value no output may ever show: it is set for every case, and cases use it in headers and
/// env values, where it must stay a secret.
const SECRET: &str = "hunter2-should-never-print";

/// The whole environment of every case. Anything else (`GITHUB_TOKEN`, `HOME`…) is unset, so
/// `${VAR}` expands the same on every machine.
const ENV: &[(&str, &str)] = &[
    ("SECRET_TOKEN", SECRET),
    // Set but empty: `${EMPTY_VAR:-fallback}` takes the fallback.
    ("EMPTY_VAR", ""),
    // A value a header cannot hold.
    ("MULTILINE", "first line\nsecond line"),
];

fn corpus_dir() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/check")
}

/// Runs one case and renders what the user saw.
fn run_case(path: &Path) -> String {
    let dir = corpus_dir();
    let case = path
        .strip_prefix(&dir)
        .expect("cases live under tests/check")
        .to_str()
        .expect("case paths are UTF-8");
    let json = case.starts_with("json/");
    let mut args = vec!["check", case];
    if json {
        args.extend(["--format", "json"]);
    }
    let out = util::command_in(&dir)
        .only_env(ENV)
        .args(args.clone())
        .run();
    let stdout = if json {
        serde_json::to_string_pretty(&out.json()).expect("JSON prints")
    } else {
        out.stdout.clone()
    };
    format!(
        "$ mcp2 {}\nexit: {}\n--- stdout{}\n{}\n--- stderr\n{}",
        args.join(" "),
        out.code.map_or("killed".to_string(), |c| c.to_string()),
        if json { " (pretty-printed)" } else { "" },
        stdout.trim_end(),
        out.stderr.trim_end(),
    )
}

#[test]
fn corpus() {
    insta::glob!("check/*/*", |path| {
        let shown = run_case(path);
        assert!(
            !shown.contains(SECRET),
            "{} shows the secret:\n{shown}",
            path.display()
        );
        assert!(
            !shown.contains('\u{1b}'),
            "{} has colour codes in piped output",
            path.display()
        );
        insta::assert_snapshot!(shown);
    });
}

/// The route sets mcp2 ships check clean in an empty environment, as a new user runs them.
#[test]
fn the_shipped_route_sets_check_without_errors() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    for dir in ["routes/", "examples/"] {
        let out = util::command_in(root)
            .only_env(&[])
            .args(["check", dir])
            .run();
        out.assert_exit(0);
        assert!(!out.stdout.contains("failed: "), "{}", out.stdout);
    }
}

/// Piped output is drawn at 80 columns whatever the terminal says, so snapshots do not depend
/// on who runs the tests.
#[test]
fn piped_reports_ignore_the_terminal_width() {
    let case = corpus_dir().join("values/bad_urls.mcproute");
    let normal = run_case(&case);
    let narrow = util::command_in(&corpus_dir())
        .only_env(&[("COLUMNS", "40")])
        .args(["check", "values/bad_urls.mcproute"])
        .run();
    assert!(
        normal.ends_with(narrow.stderr.trim_end()),
        "{}",
        narrow.stderr
    );
    assert!(
        narrow.stderr.lines().any(|l| l.len() > 60),
        "not drawn at 80 columns:\n{}",
        narrow.stderr
    );
}

/// The checked-in snapshots themselves never hold the secret (a snapshot accepted by hand could).
#[test]
fn no_snapshot_holds_the_secret() {
    let snapshots = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/snapshots");
    let mut seen = 0;
    for entry in std::fs::read_dir(&snapshots).expect("tests/snapshots exists") {
        let path = entry.expect("readable entry").path();
        let text = std::fs::read_to_string(&path).expect("readable snapshot");
        assert!(
            !text.contains(SECRET),
            "{} holds the secret",
            path.display()
        );
        seen += 1;
    }
    assert!(seen >= 30, "only {seen} snapshots");
}

/// Every diagnostic code in the registry is shown by at least one case, so each has been read
/// as a user reads it.
#[test]
fn every_code_has_a_case() {
    let registry = include_str!("../src/diag/codes.rs");
    let codes: Vec<&str> = registry
        .split('"')
        .filter(|s| s.starts_with("mcp2::") && !s.contains(' '))
        .collect();
    assert!(codes.len() > 40, "registry not parsed: {codes:?}");
    let snapshots = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/snapshots");
    let mut shown = String::new();
    for entry in std::fs::read_dir(&snapshots).expect("tests/snapshots exists") {
        let path = entry.expect("readable entry").path();
        if path
            .file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with("check_corpus__corpus@"))
        {
            shown.push_str(&std::fs::read_to_string(&path).expect("readable snapshot"));
        }
    }
    let missing: Vec<&&str> = codes
        .iter()
        .filter(|c| !shown.contains(&format!("{c}\n")) && !shown.contains(&format!("\"{c}\"")))
        .collect();
    assert!(missing.is_empty(), "codes no case shows: {missing:?}");
}
