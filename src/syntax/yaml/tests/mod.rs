//! Tests of the YAML front-end as a user meets it: example files lower to the expected AST,
//! each kind of mistake gets its code at the text the user wrote, and no input panics.

mod conditions;
mod errors;
mod examples;
mod fuzz;
mod golden;
mod security;

use crate::diag::{Diag, Diagnostics};
use crate::source::{SourceSet, Span, Spanned};
use crate::syntax::ast;

pub struct Parsed {
    pub sources: SourceSet,
    pub file: ast::File,
    pub diags: Diagnostics,
}

impl Parsed {
    /// The source text under a span.
    pub fn text(&self, span: impl Into<Span>) -> &str {
        let span: Span = span.into();
        let text = &self.sources.files()[0].text;
        &text[span.start as usize..span.end as usize]
    }

    /// The text the diagnostic's primary label underlines.
    pub fn underlined(&self, diag: &Diag) -> &str {
        self.text(diag.primary.as_ref().expect("a primary label").span)
    }

    /// The only diagnostic with this code; fails listing all when there is not exactly one.
    pub fn one(&self, code: &str) -> &Diag {
        let found: Vec<&Diag> = self.diags.iter().filter(|d| d.code == code).collect();
        assert_eq!(
            found.len(),
            1,
            "expected one {code}, got: {:#?}",
            self.diags
        );
        found[0]
    }
}

pub fn parse(text: &str) -> Parsed {
    let mut sources = SourceSet::new();
    let id = sources.add("routes.yaml", text);
    let mut diags = Diagnostics::new();
    let file = super::parse(&sources.files()[id.0 as usize], &mut diags);
    Parsed {
        sources,
        file,
        diags,
    }
}

/// A string for expected ASTs (spans are ignored by equality).
pub fn s(text: &str) -> ast::Str {
    Spanned::new(text.to_string(), Span::default())
}
