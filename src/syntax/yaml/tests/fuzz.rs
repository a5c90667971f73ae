//! No input makes the YAML front-end panic, and every diagnostic it gives can be rendered
//! (its spans lie inside the file, on character boundaries).

use proptest::prelude::*;

use super::parse;
use crate::diag::{RenderOptions, render_all};

const EXAMPLES: [&str; 5] = [
    include_str!("../../../../examples/basic/mcp2.yaml"),
    include_str!("../../../../examples/per-server/mcp2.yaml"),
    include_str!("../../../../examples/authenticated/mcp2.yaml"),
    include_str!("../../../../examples/sse/mcp2.yaml"),
    // Rule conditions: `{ name: …, when|unless: … }` entries.
    include_str!("../../../../docs/examples/identity-yaml/mcp2.yaml"),
];

fn check(text: &str) {
    let parsed = parse(text);
    for d in parsed.diags.iter() {
        for label in d.primary.iter().chain(&d.secondary) {
            let (start, end) = (label.span.start as usize, label.span.end as usize);
            assert!(
                start <= end && end <= text.len(),
                "{d:?} out of {}",
                text.len()
            );
            assert!(
                text.is_char_boundary(start) && text.is_char_boundary(end),
                "{d:?}"
            );
        }
    }
    let _ = render_all(&parsed.diags, &parsed.sources, RenderOptions::plain());
}

/// One edit of a text: delete a range, insert a snippet, or repeat a line.
#[derive(Debug, Clone)]
enum Edit {
    Delete(usize, usize),
    Insert(usize, &'static str),
    RepeatLine(usize),
}

fn apply(text: &str, edit: &Edit) -> String {
    let floor = |mut i: usize| {
        i %= text.len() + 1;
        while !text.is_char_boundary(i) {
            i -= 1;
        }
        i
    };
    match *edit {
        Edit::Delete(at, len) => {
            let start = floor(at);
            let end = floor(start + len).max(start);
            format!("{}{}", &text[..start], &text[end..])
        }
        Edit::Insert(at, snippet) => {
            let at = floor(at);
            format!("{}{snippet}{}", &text[..at], &text[at..])
        }
        Edit::RepeatLine(n) => {
            let lines: Vec<&str> = text.lines().collect();
            let Some(line) = lines.get(n % lines.len().max(1)) else {
                return text.to_string();
            };
            text.replacen(line, &format!("{line}\n{line}"), 1)
        }
    }
}

fn edit() -> impl Strategy<Value = Edit> {
    const SNIPPETS: [&str; 14] = [
        "\t", ":", " ", "\n", "-", "\"", "'", "{", "}", "[", "]", "&a ", "*a", "é",
    ];
    prop_oneof![
        (any::<usize>(), 0usize..40).prop_map(|(a, l)| Edit::Delete(a, l)),
        (any::<usize>(), prop::sample::select(&SNIPPETS[..])).prop_map(|(a, s)| Edit::Insert(a, s)),
        any::<usize>().prop_map(Edit::RepeatLine),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn mutated_examples_never_panic(which in 0usize..EXAMPLES.len(), edits in prop::collection::vec(edit(), 1..6)) {
        let mut text = EXAMPLES[which].to_string();
        for e in &edits {
            text = apply(&text, e);
        }
        check(&text);
    }

    #[test]
    fn random_yaml_like_text_never_panics(text in "[a-zA-Z0-9:{}\\[\\],\"' \\-\n\t#&*!|>%@?~é.]{0,160}") {
        check(&text);
    }
}
