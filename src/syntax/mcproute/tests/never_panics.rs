//! The parser never panics, whatever it is given: random text, and valid files with characters
//! deleted, inserted or swapped. On top of not panicking, every diagnostic points inside the
//! file on character boundaries (so rendering can show it), and whatever AST came out prints
//! to text that parses back to it cleanly.

use proptest::prelude::*;

use super::{parse, valid::EVERYTHING};
use crate::diag::{RenderOptions, render_all};
use crate::syntax::print::print;

/// Texts to mutate: valid files and a few broken ones that exercise recovery.
const SEEDS: &[&str] = &[
    EVERYTHING,
    "servers:\n  github:\n    url: \"x\"\nupstream g:\n  http: \"u\"\n",
    "profile p {\n  allow tool a/* # c\n  deny prompt * matching /^x\\/y/\n  rename tool a/b -> c\n}\nendpoint /mcp -> p when header X == v\n",
    "upstream u { stdio npx -y \"pkg\" }\nlogging { level info }\nlisten \"[::1]:80\"\n",
];

/// One edit to a text, at a position taken modulo its length.
#[derive(Debug, Clone)]
enum Edit {
    Delete(usize, usize),
    Insert(usize, char),
    Swap(usize, usize),
}

/// Characters that matter to the grammar, and any character at all.
fn interesting_char() -> impl Strategy<Value = char> {
    prop_oneof![
        3 => prop::sample::select(
            "{}\"\\#/:=-> \n\t\r*,.0123456789aeu\u{FEFF}😀".chars().collect::<Vec<_>>()
        ),
        1 => any::<char>(),
    ]
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        (any::<usize>(), 1..8usize).prop_map(|(at, n)| Edit::Delete(at, n)),
        (any::<usize>(), interesting_char()).prop_map(|(at, c)| Edit::Insert(at, c)),
        (any::<usize>(), any::<usize>()).prop_map(|(a, b)| Edit::Swap(a, b)),
    ]
}

fn apply(text: &str, edits: &[Edit]) -> String {
    let mut chars: Vec<char> = text.chars().collect();
    for edit in edits {
        let len = chars.len().max(1);
        match *edit {
            Edit::Delete(at, n) => {
                let at = at % len;
                let end = (at + n).min(chars.len());
                if at < end {
                    chars.drain(at..end);
                }
            }
            Edit::Insert(at, c) => chars.insert(at % (chars.len() + 1), c),
            Edit::Swap(a, b) if !chars.is_empty() => chars.swap(a % len, b % len),
            Edit::Swap(..) => {}
        }
    }
    chars.into_iter().collect()
}

/// Parses `text` and checks everything that must hold for any input.
fn check(text: &str) {
    let parsed = parse(text);
    for diag in parsed.diags.iter() {
        let labels = diag.primary.iter().chain(&diag.secondary);
        for label in labels {
            let (start, end) = (label.span.start as usize, label.span.end as usize);
            assert!(
                start <= end && end <= text.len(),
                "{diag:?} outside {text:?}"
            );
            assert!(
                text.is_char_boundary(start) && text.is_char_boundary(end),
                "{diag:?} splits a character in {text:?}"
            );
        }
    }
    let rendered = render_all(&parsed.diags, &parsed.sources, RenderOptions::plain());
    assert_eq!(parsed.diags.is_empty(), rendered.is_empty());

    let printed = print(&parsed.file);
    let again = parse(&printed);
    assert!(
        again.diags.is_empty(),
        "{text:?} printed as {printed:?}: {:#?}",
        again.diags
    );
    assert_eq!(again.erased(), parsed.erased(), "printed as {printed:?}");
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1000, ..ProptestConfig::default() })]

    #[test]
    fn mutated_files_never_panic(
        seed in prop::sample::select(SEEDS.to_vec()),
        edits in prop::collection::vec(edit(), 1..6),
    ) {
        check(&apply(seed, &edits));
    }

    #[test]
    fn random_text_never_panics(text in prop_oneof![
        "[a-z{}\"\\\\#/:=> \n\t*,.0-9-]{0,80}",
        any::<String>(),
    ]) {
        check(&text);
    }
}
