//! Diagnostics: what every stage reports about the routes a user wrote.
//!
//! Stages push [`Diag`]s into a [`Diagnostics`] and keep going, so that `mcp2 check` shows every
//! problem at once. A `Diag` is plain data (code, severity, message, labelled spans, help); this
//! module turns it into a miette report for people ([`render`]) or JSON for tools
//! ([`Diagnostics::to_json`]). It must not decide what is an error: that is each stage's job.

pub mod codes;

use std::fmt;

use miette::{GraphicalReportHandler, GraphicalTheme, LabeledSpan, NamedSource, SourceSpan};
use serde::Serialize;

use crate::source::{SourceSet, Span};
pub use codes::Code;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
}

/// A span with the text printed under it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Label {
    pub span: Span,
    pub text: String,
}

/// One finding about the routes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diag {
    pub code: Code,
    pub severity: Severity,
    pub message: String,
    /// Where the problem is. `None` only for problems with no place (an empty directory).
    pub primary: Option<Label>,
    /// Other places worth showing: the first definition of a duplicate, the rule that shadows.
    pub secondary: Vec<Label>,
    pub help: Option<String>,
}

impl Diag {
    pub fn error(code: Code, message: impl Into<String>) -> Self {
        Self {
            code,
            severity: Severity::Error,
            message: message.into(),
            primary: None,
            secondary: Vec::new(),
            help: None,
        }
    }

    pub fn warning(code: Code, message: impl Into<String>) -> Self {
        Self {
            severity: Severity::Warning,
            ..Self::error(code, message)
        }
    }

    pub fn at(mut self, span: Span, text: impl Into<String>) -> Self {
        self.primary = Some(Label {
            span,
            text: text.into(),
        });
        self
    }

    pub fn also(mut self, span: Span, text: impl Into<String>) -> Self {
        self.secondary.push(Label {
            span,
            text: text.into(),
        });
        self
    }

    pub fn help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }

    fn sort_key(&self) -> (u32, u32, Severity) {
        match &self.primary {
            Some(l) => (l.span.file.0, l.span.start, self.severity),
            None => (0, 0, self.severity),
        }
    }
}

/// Every finding of one compile, errors and warnings together.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Diagnostics {
    items: Vec<Diag>,
}

impl Diagnostics {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn push(&mut self, diag: Diag) {
        self.items.push(diag);
    }

    pub fn extend(&mut self, other: Diagnostics) {
        self.items.extend(other.items);
    }

    pub fn has_errors(&self) -> bool {
        self.items.iter().any(Diag::is_error)
    }

    pub fn error_count(&self) -> usize {
        self.items.iter().filter(|d| d.is_error()).count()
    }

    pub fn warning_count(&self) -> usize {
        self.items.len() - self.error_count()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// In file and position order, as a reader walks the files.
    pub fn sorted(&self) -> Vec<&Diag> {
        let mut v: Vec<&Diag> = self.items.iter().collect();
        v.sort_by_key(|d| d.sort_key());
        v
    }

    pub fn iter(&self) -> impl Iterator<Item = &Diag> {
        self.items.iter()
    }

    /// The findings as JSON for editors and CI (`mcp2 check --format json`).
    pub fn to_json(&self, sources: &SourceSet) -> serde_json::Value {
        let label = |l: &Label| {
            let loc = sources.location(l.span);
            let (end_line, end_col) = sources
                .get(l.span.file)
                .map_or((0, 0), |f| f.line_col(l.span.end));
            serde_json::json!({
                "file": loc.file,
                "line": loc.line,
                "column": loc.col,
                "end_line": end_line,
                "end_column": end_col,
                "offset": l.span.start,
                "length": l.span.len(),
                "label": l.text,
            })
        };
        serde_json::Value::Array(
            self.sorted()
                .into_iter()
                .map(|d| {
                    serde_json::json!({
                        "code": d.code,
                        "severity": d.severity,
                        "message": d.message,
                        "primary": d.primary.as_ref().map(label),
                        "secondary": d.secondary.iter().map(label).collect::<Vec<_>>(),
                        "help": d.help,
                    })
                })
                .collect(),
        )
    }
}

impl IntoIterator for Diagnostics {
    type Item = Diag;
    type IntoIter = std::vec::IntoIter<Diag>;
    fn into_iter(self) -> Self::IntoIter {
        self.items.into_iter()
    }
}

impl FromIterator<Diag> for Diagnostics {
    fn from_iter<I: IntoIterator<Item = Diag>>(iter: I) -> Self {
        Self {
            items: iter.into_iter().collect(),
        }
    }
}

/// How to draw reports.
#[derive(Debug, Clone, Copy)]
pub struct RenderOptions {
    pub color: bool,
    pub unicode: bool,
    pub width: usize,
}

impl RenderOptions {
    /// Fixed output for golden tests: no colour, ASCII-free Unicode art, 80 columns.
    pub fn plain() -> Self {
        Self {
            color: false,
            unicode: true,
            width: 80,
        }
    }
}

/// Renders one diagnostic as miette draws it, with its source lines and labels.
pub fn render(diag: &Diag, sources: &SourceSet, opts: RenderOptions) -> String {
    let theme = match (opts.unicode, opts.color) {
        (true, true) => GraphicalTheme::unicode(),
        (true, false) => GraphicalTheme::unicode_nocolor(),
        (false, true) => GraphicalTheme::ascii(),
        (false, false) => GraphicalTheme::none(),
    };
    let handler = GraphicalReportHandler::new_themed(theme)
        .with_width(opts.width)
        .with_links(false)
        // Wrap at spaces only: a URL, a path or `X-Api-Key` cut in two misleads a reader.
        .with_word_separator(textwrap::WordSeparator::AsciiSpace)
        .with_word_splitter(textwrap::WordSplitter::NoHyphenation);
    let report = Report::new(diag, sources);
    let mut out = String::new();
    if handler.render_report(&mut out, &report).is_err() {
        out = format!("{}: {}\n", diag.code, diag.message);
    }
    out
}

/// Renders every diagnostic (sorted) followed by nothing else.
pub fn render_all(diags: &Diagnostics, sources: &SourceSet, opts: RenderOptions) -> String {
    diags
        .sorted()
        .into_iter()
        .map(|d| render(d, sources, opts))
        .collect::<Vec<_>>()
        .join("\n")
}

/// A [`Diag`] bound to its sources, as miette wants it. Labels in other files than the primary
/// one become related reports, so a duplicate across two files shows both places.
struct Report {
    code: Code,
    severity: Severity,
    /// A related place in another file: drawn as advice, without a code.
    note: bool,
    message: String,
    help: Option<String>,
    source: Option<NamedSource<std::sync::Arc<str>>>,
    labels: Vec<LabeledSpan>,
    related: Vec<Report>,
}

impl Report {
    fn new(diag: &Diag, sources: &SourceSet) -> Self {
        let file = diag.primary.as_ref().map(|l| l.span.file);
        let source = file.and_then(|f| sources.get(f)).map(|f| f.named_source());
        let mut labels = Vec::new();
        let mut related = Vec::new();
        let primary = diag.primary.iter().map(|l| (l, true));
        let secondary = diag.secondary.iter().map(|l| (l, false));
        for (label, is_primary) in primary.chain(secondary) {
            if Some(label.span.file) == file {
                let span: SourceSpan = label.span.into();
                labels.push(if is_primary {
                    LabeledSpan::new_primary_with_span(Some(label.text.clone()), span)
                } else {
                    LabeledSpan::new_with_span(Some(label.text.clone()), span)
                });
            } else {
                let note = Diag::warning(diag.code, label.text.clone()).at(label.span, "here");
                let mut r = Report::new(&note, sources);
                r.note = true;
                related.push(r);
            }
        }
        Self {
            code: diag.code,
            severity: diag.severity,
            note: false,
            message: diag.message.clone(),
            help: diag.help.clone(),
            source,
            labels,
            related,
        }
    }
}

impl fmt::Debug for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Report {}

impl miette::Diagnostic for Report {
    fn code<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        if self.note {
            return None;
        }
        Some(Box::new(self.code))
    }

    fn severity(&self) -> Option<miette::Severity> {
        if self.note {
            return Some(miette::Severity::Advice);
        }
        Some(match self.severity {
            Severity::Error => miette::Severity::Error,
            Severity::Warning => miette::Severity::Warning,
        })
    }

    fn help<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        self.help
            .as_ref()
            .map(|h| Box::new(h) as Box<dyn fmt::Display>)
    }

    fn source_code(&self) -> Option<&dyn miette::SourceCode> {
        self.source.as_ref().map(|s| s as &dyn miette::SourceCode)
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        if self.labels.is_empty() {
            None
        } else {
            Some(Box::new(self.labels.iter().cloned()))
        }
    }

    fn related<'a>(&'a self) -> Option<Box<dyn Iterator<Item = &'a dyn miette::Diagnostic> + 'a>> {
        if self.related.is_empty() {
            None
        } else {
            Some(Box::new(
                self.related.iter().map(|r| r as &dyn miette::Diagnostic),
            ))
        }
    }
}

/// A transport kind with the article a reader says before it: "an `http`", "an `sse`",
/// "a `stdio`" (anything else takes "a").
pub fn with_article(kind: &str) -> String {
    let article = if matches!(kind, "http" | "sse") {
        "an"
    } else {
        "a"
    };
    format!("{article} `{kind}`")
}

/// "did you mean" by edit distance over `candidates`; `None` when nothing is close.
pub fn did_you_mean<'a>(
    word: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    let word_lower = word.to_ascii_lowercase();
    candidates
        .into_iter()
        .map(|c| {
            (
                strsim::damerau_levenshtein(&word_lower, &c.to_ascii_lowercase()),
                c,
            )
        })
        .filter(|(d, c)| *d <= (c.len().max(word.len()) / 3).max(1) + usize::from(c.len() > 6))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::FileId;

    #[test]
    fn suggests_close_words_only() {
        let words = ["upstream", "profile", "endpoint"];
        assert_eq!(did_you_mean("upstrem", words), Some("upstream"));
        assert_eq!(did_you_mean("profiel", words), Some("profile"));
        assert_eq!(did_you_mean("banana", words), None);
    }

    #[test]
    fn renders_label_and_help() {
        let mut sources = SourceSet::new();
        let f = sources.add("r.mcproute", "upstrem x {}\n");
        let d = Diag::error(codes::UNKNOWN_KEYWORD, "`upstrem` is not a keyword")
            .at(Span::new(f, 0, 7), "unknown keyword")
            .help("did you mean `upstream`?");
        let out = render(&d, &sources, RenderOptions::plain());
        assert!(out.contains("upstrem x {}"), "{out}");
        assert!(out.contains("unknown keyword"), "{out}");
        assert!(out.contains("did you mean `upstream`?"), "{out}");
        let _ = FileId(0);
    }
}
