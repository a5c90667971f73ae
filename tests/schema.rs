//! The JSON Schema of the YAML format: generated from the front-end's types, shipped in
//! `schema/mcp2.schema.json`, and right about the examples and the broken-file corpus.

mod util;

use std::path::{Path, PathBuf};

use mcp2::check::{Env, compile};
use mcp2::source::SourceSet;
use mcp2::syntax::yaml::schema;

const SHIPPED: &str = "schema/mcp2.schema.json";

/// Broken YAML of `tests/check/` that the schema cannot judge, and why.
const CANNOT_JUDGE: &[(&str, &str)] = &[
    (
        "tests/check/yaml/propagation.yaml",
        "identity propagation on a shared server, served without `auth.oauth`, and a token \
         exchange lacking its secret: which keys a flow needs, and where a server is served",
    ),
    (
        "tests/check/yaml/duplicate_key.yaml",
        "a key written twice: JSON's data model has no duplicate keys, so a schema never sees \
         the first one (YAML language servers report duplicates themselves)",
    ),
    (
        "tests/check/yaml/checked_rules.yaml",
        "names that refer to nothing (a profile, a server), a bad regex, a shadowed rule: \
         cross-references and pattern syntax, not shape",
    ),
    (
        "tests/check/yaml/checked_values.yaml",
        "a URL without a scheme, `30 seconds`, `per: fortnight`: the checker parses these \
         strings; the schema only knows they are text",
    ),
    (
        "tests/check/yaml/exposed_without_hub.yaml",
        "which profile `exposePerServer` serves depends on how many profiles there are",
    ),
    (
        "tests/check/yaml/unknown_server_in_rules.yaml",
        "a profile naming a server that is not declared: a cross-reference",
    ),
    (
        "tests/check/yaml/hub_security.yaml",
        "an origin without a scheme, a misspelt protocol date and an empty credential are \
         strings the checker parses and expands",
    ),
];

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn yaml_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            yaml_files(&path, out);
        } else if matches!(
            path.extension().and_then(|e| e.to_str()),
            Some("yaml" | "yml")
        ) {
            out.push(path);
        }
    }
    out.sort();
}

fn validator() -> jsonschema::Validator {
    jsonschema::validator_for(schema::schema()).expect("the schema is a valid JSON Schema")
}

/// The schema's complaints about a YAML file; a file that is not a YAML document with unique
/// keys is refused before any schema could look at it.
fn complaints(validator: &jsonschema::Validator, path: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(path).expect("read");
    let value: serde_json::Value = match yaml_serde::from_str(&text) {
        Ok(v) => v,
        Err(e) => return vec![format!("not a YAML document: {e}")],
    };
    validator
        .iter_errors(&value)
        .map(|e| format!("{}: {e}", e.instance_path()))
        .collect()
}

fn relative(path: &Path) -> String {
    path.strip_prefix(root())
        .unwrap_or(path)
        .display()
        .to_string()
}

#[test]
fn the_shipped_schema_is_the_generated_one() {
    let generated = schema::json_text();
    let path = root().join(SHIPPED);
    if std::env::var_os("UPDATE_EXPECT").is_some() {
        std::fs::write(&path, &generated).expect("write the schema");
    }
    let shipped = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        shipped == generated,
        "{SHIPPED} is stale: run `UPDATE_EXPECT=1 cargo test --test schema` (or `mcp2 schema > {SHIPPED}`)"
    );
}

#[test]
fn mcp2_schema_prints_the_shipped_schema() {
    let dir = util::Dir::new("schema_cli");
    let out = dir.command().arg("schema").run();
    out.assert_exit(0);
    let shipped = std::fs::read_to_string(root().join(SHIPPED)).expect("read the schema");
    assert!(
        out.stdout == shipped,
        "`mcp2 schema` differs from {SHIPPED}"
    );
    let parsed: serde_json::Value = serde_json::from_str(&out.stdout).expect("JSON");
    assert_eq!(parsed["title"], "mcp2 YAML routes");
}

#[test]
fn the_schema_accepts_every_example() {
    let validator = validator();
    let mut files = Vec::new();
    yaml_files(&root().join("examples"), &mut files);
    yaml_files(&root().join("docs/examples"), &mut files);
    assert!(files.len() >= 5, "examples not found: {files:?}");
    for file in files {
        let found = complaints(&validator, &file);
        assert!(found.is_empty(), "{}: {found:#?}", relative(&file));
    }
}

/// Every variable is set: an unset one is not the schema's business.
struct AnyVar;

impl Env for AnyVar {
    fn var(&self, _: &str) -> Option<String> {
        Some("x".into())
    }
}

/// A corpus file is broken when checking it alone reports an error.
fn is_broken(path: &Path) -> bool {
    let text = std::fs::read_to_string(path).expect("read");
    let mut sources = SourceSet::new();
    sources.add(path, text);
    compile(&sources, &AnyVar).diagnostics.has_errors()
}

#[test]
fn the_schema_rejects_each_broken_yaml_of_the_corpus() {
    let validator = validator();
    let mut files = Vec::new();
    yaml_files(&root().join("tests/check"), &mut files);
    let mut wrongly_accepted = Vec::new();
    let mut judged = Vec::new();
    for file in &files {
        let name = relative(file);
        let excluded = CANNOT_JUDGE.iter().any(|(f, _)| *f == name);
        let rejected = !complaints(&validator, file).is_empty();
        let broken = is_broken(file);
        if excluded {
            assert!(broken, "{name} is excluded but is not broken");
            assert!(
                !rejected,
                "{name} is excluded, but the schema does reject it: drop it from CANNOT_JUDGE"
            );
            continue;
        }
        if broken && !rejected {
            wrongly_accepted.push(name.clone());
        }
        judged.push(name);
    }
    assert!(
        wrongly_accepted.is_empty(),
        "the schema accepts these broken files: {wrongly_accepted:#?}"
    );
    assert!(judged.len() >= 5, "{judged:?}");
}
