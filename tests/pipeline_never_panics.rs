//! The whole compile pipeline (front-ends and checker, [`mcp2::check::compile`] on a
//! [`SourceSet`]) never panics, whatever the route files hold.
//!
//! Inputs are the real route files of the repository (`routes/`, every `examples/*/` set,
//! `docs/examples/` and the broken cases of `tests/check/`), mutated line by line (dropped,
//! repeated, swapped, spliced in from another file: the result still mostly parses, so the
//! checker's passes run on it) and character by character, plus token soup built from the
//! languages' own words. Each input is compiled alone and as a two-file set, sometimes with the
//! other language's extension. Besides not panicking, every diagnostic must point inside its file
//! on character boundaries, render, and serialize; and a plan comes only without errors.
//!
//! Bounded: 256 cases per property, a few seconds in a debug build.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use mcp2::check::compile;
use mcp2::diag::{RenderOptions, render_all};
use mcp2::source::SourceSet;
use proptest::prelude::*;

/// Route files to mutate, read once: (extension, text).
fn seeds() -> &'static [(String, String)] {
    static SEEDS: std::sync::OnceLock<Vec<(String, String)>> = std::sync::OnceLock::new();
    SEEDS.get_or_init(|| {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut files = Vec::new();
        for dir in ["routes", "examples", "docs/examples", "tests/check"] {
            collect(&root.join(dir), &mut files);
        }
        files.sort();
        let seeds: Vec<(String, String)> = files
            .iter()
            .filter_map(|p| {
                let ext = p.extension()?.to_str()?.to_string();
                Some((ext, std::fs::read_to_string(p).ok()?))
            })
            .collect();
        assert!(seeds.len() >= 40, "only {} seed files", seeds.len());
        seeds
    })
}

/// The seeds both front-ends read without an error (their mistakes, if any, are the checker's).
fn readable_seeds() -> &'static [(String, String)] {
    static READABLE: std::sync::OnceLock<Vec<(String, String)>> = std::sync::OnceLock::new();
    READABLE.get_or_init(|| {
        seeds()
            .iter()
            .filter(|(ext, text)| {
                let mut sources = SourceSet::new();
                sources.add(format!("seed.{ext}"), text.as_str());
                !compile(&sources, &env()).diagnostics.iter().any(|d| {
                    d.is_error()
                        && (d.code.starts_with("mcp2::syntax") || d.code.starts_with("mcp2::yaml"))
                })
            })
            .cloned()
            .collect()
    })
}

fn collect(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            collect(&path, out);
        } else if path
            .extension()
            .is_some_and(|e| e == "mcproute" || e == "yaml" || e == "yml")
        {
            out.push(path);
        }
    }
}

/// The words of .mcproute that start items and settings, or follow a keyword.
const KEYWORDS: &str = "upstream profile endpoint listen logging default-profile \
    expose-per-upstream http sse stdio header env cwd timeout connect-timeout use prefix allow \
    deny rename describe limit tool prompt resource matching per when meta name version \
    description level file max-size-mb max-backups max-age-days compress log-requests \
    log-responses";

/// YAML keys, values and punctuation of both languages, for token soup (besides the keywords).
#[rustfmt::skip]
const SOUP: &[&str] = &[
    "servers:", "profiles:", "transport:", "kind:", "url:", "command:", "args:", "hub:",
    "exposePerServer:", "defaultProfile:", "rateLimit:", "tools:", "allow:", "deny:", "- ", "{",
    "}", "[", "]", "->", "=", "==", ",", "/", "*", "\"", "\"${X}\"", "${SECRET_TOKEN:-d}",
    "\"https://a.example/mcp\"", "127.0.0.1:8210", "30s", "0s", "100/min", "/^a(/", "a/*", "*/*",
    "github", "default", "\"{upstream}__\"", "\n", "\n  ", "  ", "#", ":", "'", "\\", "&anchor",
    "*anchor", "!!str", "\u{FEFF}", "é",
];

/// Every token of the soup.
fn tokens() -> &'static [&'static str] {
    static TOKENS: std::sync::OnceLock<Vec<&'static str>> = std::sync::OnceLock::new();
    TOKENS.get_or_init(|| {
        KEYWORDS
            .split_whitespace()
            .chain(SOUP.iter().copied())
            .collect()
    })
}

#[derive(Debug, Clone)]
enum Edit {
    DropLine(usize),
    RepeatLine(usize),
    SwapLines(usize, usize),
    /// A line of another seed of the same language, inserted at a line of this one.
    Splice {
        seed: usize,
        line: usize,
        at: usize,
    },
    /// A word (name, value) replaced by a word of any seed: names and values get mixed up
    /// while the structure stays, so the checker's passes run on the result.
    ReplaceWord {
        at: usize,
        with: usize,
    },
    DeleteChars(usize, usize),
    InsertToken(usize, usize),
    InsertChar(usize, char),
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        2 => any::<usize>().prop_map(Edit::DropLine),
        2 => any::<usize>().prop_map(Edit::RepeatLine),
        2 => (any::<usize>(), any::<usize>()).prop_map(|(a, b)| Edit::SwapLines(a, b)),
        4 => (any::<usize>(), any::<usize>(), any::<usize>())
            .prop_map(|(seed, line, at)| Edit::Splice { seed, line, at }),
        6 => (any::<usize>(), any::<usize>()).prop_map(|(at, with)| Edit::ReplaceWord { at, with }),
        1 => (any::<usize>(), 1..6usize).prop_map(|(at, n)| Edit::DeleteChars(at, n)),
        1 => (any::<usize>(), any::<usize>()).prop_map(|(at, t)| Edit::InsertToken(at, t)),
        1 => (any::<usize>(), any::<char>()).prop_map(|(at, c)| Edit::InsertChar(at, c)),
    ]
}

/// `text` (a file of language `ext`) after `edits`.
fn apply(ext: &str, text: &str, edits: &[Edit]) -> String {
    let same_language: Vec<&str> = seeds()
        .iter()
        .filter(|(e, _)| (e == "mcproute") == (ext == "mcproute"))
        .map(|(_, t)| t.as_str())
        .collect();
    let mut lines: Vec<String> = text.split_inclusive('\n').map(str::to_string).collect();
    for edit in edits {
        let n = lines.len().max(1);
        match *edit {
            Edit::DropLine(i) if !lines.is_empty() => {
                lines.remove(i % n);
            }
            Edit::RepeatLine(i) if !lines.is_empty() => {
                let line = lines[i % n].clone();
                lines.insert(i % n, line);
            }
            Edit::SwapLines(a, b) if !lines.is_empty() => lines.swap(a % n, b % n),
            Edit::Splice { seed, line, at } => {
                let other = same_language[seed % same_language.len()];
                let other: Vec<&str> = other.split_inclusive('\n').collect();
                if !other.is_empty() {
                    let spliced = other[line % other.len()].to_string();
                    lines.insert(at % (lines.len() + 1), spliced);
                }
            }
            Edit::ReplaceWord { at, with } => {
                let text = lines.concat();
                let spans: Vec<(usize, usize)> = words(&text)
                    .into_iter()
                    .filter(|&(s, e)| is_value(&text[s..e]))
                    .collect();
                if !spans.is_empty() {
                    let (start, end) = spans[at % spans.len()];
                    let vocabulary = vocabulary();
                    let word = &vocabulary[with % vocabulary.len()];
                    lines = split(&format!("{}{word}{}", &text[..start], &text[end..]));
                }
            }
            Edit::DeleteChars(at, len) => {
                let mut chars: Vec<char> = lines.concat().chars().collect();
                let at = at % chars.len().max(1);
                let end = (at + len).min(chars.len());
                chars.drain(at.min(end)..end);
                lines = split(&chars.into_iter().collect::<String>());
            }
            Edit::InsertToken(at, t) => {
                let mut text = lines.concat();
                let at = char_boundary(&text, at);
                text.insert_str(at, tokens()[t % tokens().len()]);
                lines = split(&text);
            }
            Edit::InsertChar(at, c) => {
                let mut text = lines.concat();
                let at = char_boundary(&text, at);
                text.insert(at, c);
                lines = split(&text);
            }
            _ => {}
        }
    }
    lines.concat()
}

fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || "_-.:/*?$@%".contains(c)
}

/// The byte ranges of the words of `text`.
fn words(text: &str) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut start = None;
    for (i, c) in text.char_indices().chain([(text.len(), ' ')]) {
        match (start, is_word_char(c)) {
            (None, true) => start = Some(i),
            (Some(s), false) => {
                out.push((s, i));
                start = None;
            }
            _ => {}
        }
    }
    out
}

/// A word that is a name or a value rather than a keyword or a YAML key.
fn is_value(word: &str) -> bool {
    !word.ends_with(':') && !KEYWORDS.split_whitespace().any(|k| k == word)
}

/// Every name and value of every seed.
fn vocabulary() -> &'static [String] {
    static WORDS: std::sync::OnceLock<Vec<String>> = std::sync::OnceLock::new();
    WORDS.get_or_init(|| {
        let mut all: Vec<String> = seeds()
            .iter()
            .flat_map(|(_, text)| words(text).into_iter().map(|(s, e)| text[s..e].to_string()))
            .filter(|w| is_value(w))
            .collect();
        all.sort();
        all.dedup();
        all
    })
}

fn split(text: &str) -> Vec<String> {
    text.split_inclusive('\n').map(str::to_string).collect()
}

/// A char boundary of `text` chosen by `at`.
fn char_boundary(text: &str, at: usize) -> usize {
    let bounds: Vec<usize> = text
        .char_indices()
        .map(|(i, _)| i)
        .chain([text.len()])
        .collect();
    bounds[at % bounds.len()]
}

/// The environment the checker expands `${VAR}` from: some set, some empty, most unset.
fn env() -> HashMap<String, String> {
    [
        ("SECRET_TOKEN", "hunter2"),
        ("EMPTY_VAR", ""),
        ("MULTILINE", "a\nb"),
        ("BASE_URL", "http://127.0.0.1:1"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

/// Compiles the files and checks what must hold for any input.
fn compile_checked(files: &[(String, String)]) {
    let mut sources = SourceSet::new();
    for (name, text) in files {
        sources.add(name.as_str(), text.as_str());
    }
    let compiled = compile(&sources, &env());
    for diag in compiled.diagnostics.iter() {
        for label in diag.primary.iter().chain(&diag.secondary) {
            let file = sources.get(label.span.file).expect("a label's file exists");
            let (start, end) = (label.span.start as usize, label.span.end as usize);
            assert!(
                start <= end && end <= file.text.len(),
                "{diag:?} outside its file"
            );
            assert!(
                file.text.is_char_boundary(start) && file.text.is_char_boundary(end),
                "{diag:?} splits a character"
            );
        }
    }
    let rendered = render_all(&compiled.diagnostics, &sources, RenderOptions::plain());
    assert!(compiled.diagnostics.is_empty() || !rendered.is_empty());
    let _ = compiled.diagnostics.to_json(&sources);
    match &compiled.plan {
        Some(plan) => {
            assert!(!compiled.diagnostics.has_errors(), "a plan despite errors");
            let _ = plan.to_comparable_json();
        }
        None => assert!(compiled.diagnostics.has_errors(), "no plan and no error"),
    }
}

/// A seed's file name, sometimes with the other language's extension.
fn name(stem: &str, ext: &str, swap: bool) -> String {
    let ext = match (ext, swap) {
        ("mcproute", true) => "yaml",
        (_, true) => "mcproute",
        (ext, false) => ext,
    };
    format!("{stem}.{ext}")
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn one_mutated_file(
        seed in any::<usize>(),
        edits in prop::collection::vec(edit(), 0..6),
        swap in prop::bool::weighted(0.1),
    ) {
        let (ext, text) = &seeds()[seed % seeds().len()];
        compile_checked(&[(name("routes", ext, swap), apply(ext, text, &edits))]);
    }

    #[test]
    fn two_mutated_files(
        a in any::<usize>(),
        b in any::<usize>(),
        edits_a in prop::collection::vec(edit(), 0..4),
        edits_b in prop::collection::vec(edit(), 0..4),
        swap in prop::bool::weighted(0.1),
    ) {
        let (ext_a, text_a) = &seeds()[a % seeds().len()];
        let (ext_b, text_b) = &seeds()[b % seeds().len()];
        compile_checked(&[
            (name("a", ext_a, false), apply(ext_a, text_a, &edits_a)),
            (name("b", ext_b, swap), apply(ext_b, text_b, &edits_b)),
        ]);
    }

    /// Only names and values swapped, in two files: the structure stays, so nearly every case
    /// reaches the checker's name, rule and endpoint passes across files.
    #[test]
    fn names_and_values_mixed_up(
        a in any::<usize>(),
        b in any::<usize>(),
        words_a in prop::collection::vec((any::<usize>(), any::<usize>()), 1..8),
        words_b in prop::collection::vec((any::<usize>(), any::<usize>()), 0..4),
    ) {
        let replace = |w: &[(usize, usize)]| -> Vec<Edit> {
            w.iter().map(|&(at, with)| Edit::ReplaceWord { at, with }).collect()
        };
        let clean = readable_seeds();
        let (ext_a, text_a) = &clean[a % clean.len()];
        let (ext_b, text_b) = &clean[b % clean.len()];
        compile_checked(&[
            (name("a", ext_a, false), apply(ext_a, text_a, &replace(&words_a))),
            (name("b", ext_b, false), apply(ext_b, text_b, &replace(&words_b))),
        ]);
    }

    #[test]
    fn token_soup(
        picks in prop::collection::vec(any::<usize>(), 0..60),
        yaml in any::<bool>(),
    ) {
        let text: String = picks.iter().map(|t| tokens()[t % tokens().len()]).collect();
        let ext = if yaml { "yaml" } else { "mcproute" };
        compile_checked(&[(format!("soup.{ext}"), text)]);
    }

    #[test]
    fn random_text(text in ".{0,300}", yaml in any::<bool>()) {
        let ext = if yaml { "yaml" } else { "mcproute" };
        compile_checked(&[(format!("random.{ext}"), text)]);
    }
}

/// Every seed compiles as it is, alone (no mutation at all), which also proves each was read.
#[test]
fn every_seed_compiles_without_panicking() {
    for (ext, text) in seeds() {
        compile_checked(&[(format!("seed.{ext}"), text.clone())]);
    }
}
