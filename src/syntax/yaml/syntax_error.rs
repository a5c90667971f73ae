//! libyaml's syntax errors as diagnostics: at the line and column libyaml reported (converted
//! to a byte span), with the place the unfinished construct began and a hint for the usual
//! causes (tabs, unclosed quotes, misaligned keys).

use super::events::{Mark, SyntaxError};
use crate::diag::{Diag, codes};
use crate::source::{SourceFile, Span};

/// Turns libyaml's error into a diagnostic at its line and column, with a hint for the usual
/// causes (tabs, unclosed quotes, misaligned keys).
pub fn syntax_diag(file: &SourceFile, err: &SyntaxError) -> Diag {
    let at = |m: Mark| {
        let start = file.offset_of(m.line + 1, m.column + 1);
        let len = file.text[start..]
            .chars()
            .next()
            .map_or(0, |c| if c == '\n' { 0 } else { c.len_utf8() });
        Span::new(file.id, start, start + len)
    };
    let span = at(err.mark);
    let found_tab = file.text[span.start as usize..].starts_with('\t');
    let message = format!("not valid YAML: {}", err.problem);
    let label = if found_tab { "a tab" } else { "here" };
    let mut diag = Diag::error(codes::YAML_ERROR, message);
    match &err.context {
        // Ran off the end of the file: the place worth showing is where the unfinished thing
        // (an unclosed quote, an open bracket) began.
        Some((context, mark)) if span.start as usize >= file.text.len() => {
            diag = diag.at(at(*mark), format!("{context} that starts here"));
        }
        Some((context, mark)) if *mark != err.mark => {
            diag = diag.at(span, label).also(at(*mark), context.clone());
        }
        _ => diag = diag.at(span, label),
    }
    let context = err.context.as_ref().map_or("", |(c, _)| c.as_str());
    let help = if found_tab {
        Some("YAML indents with spaces only: replace the tab with spaces")
    } else if context.contains("quoted scalar") {
        Some("close the quote that starts here (a `\"` or `'` inside the text needs escaping)")
    } else if err.problem.contains("did not find expected key")
        || err.problem.contains("expected <block end>")
    {
        Some("check the indentation: the keys of one mapping must start in the same column")
    } else if err.problem.contains("mapping values are not allowed") {
        Some("a value that contains `: ` must be quoted, or the line is indented too far")
    } else {
        None
    };
    match help {
        Some(help) => diag.help(help),
        None => diag,
    }
}
