//! Tests of the `.mcproute` front-end: what a valid file lowers to, what each mistake reports
//! (asserted on the underlined text, not on offsets), and that no input makes it panic.

mod errors;
mod never_panics;
pub(crate) mod valid;

use crate::diag::{Diag, Diagnostics};
use crate::source::{SourceSet, Span, Spanned};
use crate::syntax::ast;

/// A parsed text with its diagnostics and the sources to read spans against.
pub(crate) struct Parsed {
    pub file: ast::File,
    pub diags: Diagnostics,
    pub sources: SourceSet,
}

impl Parsed {
    pub fn text(&self, span: impl Into<Span>) -> &str {
        let span: Span = span.into();
        let file = self.sources.get(span.file).expect("file");
        &file.text[span.start as usize..span.end as usize]
    }

    /// The only diagnostic, or a failure that shows them all.
    pub fn single(&self) -> &Diag {
        assert_eq!(self.diags.len(), 1, "{:#?}", self.diags);
        self.diags.iter().next().expect("one")
    }

    /// The text under a diagnostic's primary label.
    pub fn underlined(&self, diag: &Diag) -> &str {
        self.text(diag.primary.as_ref().expect("a primary label").span)
    }

    /// The AST, for comparing with an expected one (AST equality ignores spans).
    pub fn erased(&self) -> ast::File {
        self.file.clone()
    }

    pub fn codes(&self) -> Vec<&'static str> {
        self.diags.sorted().iter().map(|d| d.code).collect()
    }
}

pub(crate) fn parse(text: &str) -> Parsed {
    let mut sources = SourceSet::new();
    let id = sources.add("test.mcproute", text);
    let mut diags = Diagnostics::new();
    let file = super::parse(sources.get(id).expect("file"), &mut diags);
    Parsed {
        file,
        diags,
        sources,
    }
}

/// A string for expected ASTs (equality ignores spans).
pub(crate) fn s(text: &str) -> ast::Str {
    Spanned::new(text.to_owned(), Span::default())
}
