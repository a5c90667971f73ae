//! The `.mcproute` front-end: text → [`ast::File`], with every mistake as a diagnostic.
//!
//! Three steps, one module each:
//! 1. the pest grammar (`grammar/mcproute.pest`, derived below) reads the whole file; it never
//!    fails, because unknown lines become `bad_item`/`bad_setting` catch-alls;
//! 2. [`lower`] (with [`profile`] and [`blocks`]) turns the pairs into the AST, one small
//!    `lower_*` function per construct, reporting duplicates, bad escapes and numbers as it goes;
//! 3. [`recover`] explains each catch-all: a typo'd keyword, a YAML habit, a missing `->`…
//!
//! No pest type leaves this module. [`lexes_as`] lets the printer ask whether a value can be
//! written bare, so the printer and the grammar cannot disagree.

mod auth;
mod blocks;
mod keywords;
mod lower;
mod profile;
mod recover;
mod settings;
mod strings;
#[cfg(test)]
pub(crate) mod tests;

use pest::Parser;

use super::ast;
use crate::diag::{Diag, Diagnostics, codes};
use crate::source::{FileId, SourceFile, Span};

pub(crate) use strings::unescape_regex;

/// The parser pest derives from the grammar; `Rule` is generated beside it.
#[derive(pest_derive::Parser)]
#[grammar = "grammar/mcproute.pest"]
struct McprouteParser;

/// Parses one `.mcproute` file. Mistakes go to `diags`; the AST holds everything that could be
/// read, so the checker can still report on the rest.
pub fn parse(file: &SourceFile, diags: &mut Diagnostics) -> ast::File {
    let mut cx = Cx {
        file: file.id,
        text: &file.text,
        diags,
    };
    match McprouteParser::parse(Rule::file, &file.text) {
        Ok(mut pairs) => match pairs.next() {
            Some(pair) => lower::lower_file(&mut cx, pair),
            None => ast::File::default(),
        },
        Err(err) => {
            // The catch-all rules make this unreachable in practice; report it all the same.
            let diag = recover::pest_error(&cx, err, 0, None);
            cx.diags.push(diag);
            ast::File::default()
        }
    }
}

/// What a lowering or recovery function needs: where it is and where to report.
pub(crate) struct Cx<'a> {
    file: FileId,
    text: &'a str,
    diags: &'a mut Diagnostics,
}

impl Cx<'_> {
    fn span(&self, start: usize, end: usize) -> Span {
        Span::new(self.file, start, end)
    }

    fn span_of(&self, pair: &pest::iterators::Pair<'_, Rule>) -> Span {
        let s = pair.as_span();
        self.span(s.start(), s.end())
    }

    /// The source text under a span of this file.
    fn slice(&self, span: Span) -> &str {
        self.text
            .get(span.start as usize..span.end as usize)
            .unwrap_or("")
    }

    fn push(&mut self, diag: Diag) {
        self.diags.push(diag);
    }

    /// Reports a shape the grammar should have ruled out, instead of panicking.
    fn internal(&mut self, span: Span, what: &str) {
        self.push(
            Diag::error(codes::SYNTAX_ERROR, format!("could not read this {what}"))
                .at(span, "not understood")
                .help("this is a bug in mcp2's parser; please report it with this file"),
        );
    }
}

/// Kinds of bare token the printer may write without quotes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Bare {
    /// Names: upstreams, profiles, header and variable names, `per` keys.
    Name,
    /// Free values: levels, rename targets.
    Word,
    Duration,
    Rate,
    ListenAddr,
    /// The upstream half of a target.
    UpstreamGlob,
    /// The name half of a target.
    NameGlob,
    /// A whole regex literal, slashes included.
    Regex,
}

/// Whether the whole of `s` reads as one bare token of `kind`.
pub(crate) fn lexes_as(kind: Bare, s: &str) -> bool {
    let rule = match kind {
        Bare::Name => Rule::ident,
        Bare::Word => Rule::word,
        Bare::Duration => Rule::duration,
        Bare::Rate => Rule::rate,
        Bare::ListenAddr => Rule::listen_addr,
        Bare::UpstreamGlob => Rule::upstream_glob,
        Bare::NameGlob => Rule::name_glob,
        Bare::Regex => Rule::regex,
    };
    McprouteParser::parse(rule, s)
        .ok()
        .and_then(|mut pairs| pairs.next())
        .is_some_and(|pair| pair.as_span().end() == s.len())
}
