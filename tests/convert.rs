//! `mcp2 convert` keeps the meaning: for every route set the repository ships (`routes/`, each
//! `examples/*/` and each `docs/examples/*/`), replacing each YAML file by what `mcp2 convert` prints for
//! it gives the same plan, and printing each `.mcproute` file back to text (the printer
//! `convert` uses) gives the same AST and the same plan.
//!
//! "The same plan" is [`Plan::to_comparable_json`] (everything but source locations) plus each
//! upstream's identity hash, which covers the secret header and env values the JSON redacts.

mod util;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use mcp2::check::compile;
use mcp2::diag::{Diagnostics, RenderOptions, render_all};
use mcp2::plan::Plan;
use mcp2::source::{SourceKind, SourceSet};
use mcp2::syntax::{parse_file, print::print};

/// Values for the variables the shipped routes use, so headers and env compare by value.
fn env() -> HashMap<String, String> {
    [
        ("GITHUB_TOKEN", "ghp_t0ken"),
        ("SERVICE_TOKEN", "s3rvice"),
        ("LEGACY_KEY", "legacy-k3y"),
        ("MCP2_ADMIN_TOKEN", "adm1n"),
        ("HUB_TOKEN", "hub-t0ken"),
        (
            "MCP2_SESSION_KEY",
            "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=",
        ),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Every shipped route set: `routes/`, each directory under `examples/` and `docs/examples/`.
fn route_sets() -> Vec<PathBuf> {
    let mut sets = vec![root().join("routes")];
    for parent in ["examples", "docs/examples"] {
        let mut dirs: Vec<PathBuf> = std::fs::read_dir(root().join(parent))
            .expect("the directory exists")
            .map(|e| e.expect("readable entry").path())
            .filter(|p| p.is_dir())
            .collect();
        dirs.sort();
        assert!(dirs.len() >= 4, "{parent}: {dirs:?}");
        sets.extend(dirs);
    }
    sets
}

/// The route files of one set, sorted as `SourceSet::load` reads them.
fn route_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("readable route set")
        .map(|e| e.expect("readable entry").path())
        .filter(|p| p.is_file() && SourceKind::of(p).is_some())
        .collect();
    files.sort();
    assert!(!files.is_empty(), "{} holds no route files", dir.display());
    files
}

/// Compiles in-memory files into a plan, failing with the rendered diagnostics if it has errors.
fn plan_of(what: &str, files: &[(PathBuf, String)]) -> Plan {
    let mut sources = SourceSet::new();
    for (path, text) in files {
        sources.add(path.clone(), text.as_str());
    }
    let compiled = compile(&sources, &env());
    compiled.plan.unwrap_or_else(|| {
        panic!(
            "{what} does not check:\n{}",
            render_all(&compiled.diagnostics, &sources, RenderOptions::plain())
        )
    })
}

fn assert_same_plan(what: &str, expected: &Plan, actual: &Plan) {
    assert_eq!(
        expected.to_comparable_json(),
        actual.to_comparable_json(),
        "{what}: plans differ"
    );
    let identities = |p: &Plan| -> Vec<(String, u64)> {
        p.upstreams
            .values()
            .map(|u| (u.id.to_string(), u.identity()))
            .collect()
    };
    assert_eq!(
        identities(expected),
        identities(actual),
        "{what}: upstream identities (secret values) differ"
    );
}

/// What `mcp2 convert FILE` prints, run as a user runs it.
fn converted_by_the_binary(file: &Path) -> String {
    let out = util::command_in(root())
        .args(["convert", file.to_str().expect("UTF-8 path")])
        .run();
    out.assert_exit(0);
    assert!(out.stderr.is_empty(), "{}", out.stderr);
    out.stdout
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).expect("readable route file")
}

#[test]
fn every_yaml_route_set_means_the_same_after_convert() {
    let mut converted_files = 0;
    for dir in route_sets() {
        let files = route_files(&dir);
        let original: Vec<(PathBuf, String)> = files.iter().map(|p| (p.clone(), read(p))).collect();
        let expected = plan_of(&dir.display().to_string(), &original);
        let converted: Vec<(PathBuf, String)> = files
            .iter()
            .map(|p| match SourceKind::of(p) {
                Some(SourceKind::Yaml) => {
                    converted_files += 1;
                    (p.with_extension("mcproute"), converted_by_the_binary(p))
                }
                _ => (p.clone(), read(p)),
            })
            .collect();
        let what = format!("{} converted", dir.display());
        assert_same_plan(&what, &expected, &plan_of(&what, &converted));
    }
    assert!(converted_files >= 4, "only {converted_files} YAML files");
}

#[test]
fn every_yaml_file_alone_means_the_same_after_convert() {
    for dir in route_sets() {
        for file in route_files(&dir) {
            if SourceKind::of(&file) != Some(SourceKind::Yaml) {
                continue;
            }
            let yaml = plan_of(&file.display().to_string(), &[(file.clone(), read(&file))]);
            let text = converted_by_the_binary(&file);
            let what = format!("{} converted", file.display());
            let mcproute = plan_of(&what, &[(file.with_extension("mcproute"), text)]);
            assert_same_plan(&what, &yaml, &mcproute);
        }
    }
}

#[test]
fn every_mcproute_file_prints_back_to_the_same_routes() {
    let mut printed_files = 0;
    for dir in route_sets() {
        for file in route_files(&dir) {
            if SourceKind::of(&file) != Some(SourceKind::Mcproute) {
                continue;
            }
            printed_files += 1;
            let text = read(&file);
            let mut sources = SourceSet::new();
            let id = sources.add(file.clone(), text.as_str());
            let mut diags = Diagnostics::new();
            let ast = parse_file(sources.get(id).expect("added"), &mut diags);
            assert!(
                diags.is_empty(),
                "{} does not parse cleanly",
                file.display()
            );
            let printed = print(&ast);

            let mut again = SourceSet::new();
            let id = again.add("printed.mcproute", printed.as_str());
            let mut diags = Diagnostics::new();
            let reparsed = parse_file(again.get(id).expect("added"), &mut diags);
            assert!(diags.is_empty(), "printed text does not parse:\n{printed}");
            assert_eq!(
                ast,
                reparsed,
                "{}: the AST changed in print",
                file.display()
            );

            let what = file.display().to_string();
            let original = plan_of(&what, &[(file.clone(), text)]);
            let reprinted = plan_of(&format!("{what} printed"), &[(file.clone(), printed)]);
            assert_same_plan(&what, &original, &reprinted);
        }
    }
    assert!(printed_files >= 2, "only {printed_files} .mcproute files");
}
