//! What every `NAME { … }` block shares while it is lowered: its braces (a YAML `:`, a missing
//! `{`, an unclosed `}`) and the settings it has seen, so a second `timeout` is reported with
//! both places.

use pest::iterators::Pair;

use super::keywords::Place;
use super::{Cx, Rule, lower, recover};
use crate::diag::{Diag, codes};
use crate::source::Span;
use crate::syntax::ast::Str;

/// How a block was opened.
#[derive(Debug, Clone, Copy)]
enum Open {
    /// With `{`, at this span.
    Brace(Span),
    /// With something already reported (a YAML `:`, nothing at all); a missing `}` then says
    /// nothing new.
    Reported,
}

/// One block being lowered.
pub(super) struct Block {
    /// `upstream github`: what the diagnostics about the braces underline.
    head: Span,
    /// `upstream`, `profile` or `logging`.
    what: &'static str,
    open: Open,
    /// Settings seen so far, with where they were first set.
    seen: Vec<(String, Span)>,
    cascade: recover::Cascade,
}

impl Block {
    pub(super) fn new(head: Span, what: &'static str) -> Self {
        Self {
            head,
            what,
            open: Open::Reported,
            seen: Vec::new(),
            cascade: recover::Cascade::default(),
        }
    }

    /// Records the setting `key` at `at`; `false` (and a diagnostic pointing at both places) if
    /// the block already had it. `label` names it for people: "`timeout`", "header `X-Key`".
    pub(super) fn first(&mut self, cx: &mut Cx<'_>, key: String, label: &str, at: Span) -> bool {
        if let Some((_, first)) = self.seen.iter().find(|(k, _)| *k == key) {
            cx.push(
                Diag::error(
                    codes::DUPLICATE_SETTING,
                    format!("{label} is set twice in this {} block", self.what),
                )
                .at(at, "set again here")
                .also(*first, "first set here")
                .help("keep only one of them"),
            );
            return false;
        }
        self.seen.push((key, at));
        true
    }

    /// A setting with one string value, allowed once: `timeout 30s`, `cwd "/srv"`.
    pub(super) fn set(
        &mut self,
        cx: &mut Cx<'_>,
        slot: &mut Option<Str>,
        word: &str,
        pair: Pair<'_, Rule>,
    ) {
        let at = cx.span_of(&pair);
        let Some(value) = pair.into_inner().nth(1) else {
            cx.internal(at, "setting");
            return;
        };
        let value = lower::str_of(cx, value);
        if self.first(cx, word.to_owned(), &format!("`{word}`"), at) {
            *slot = Some(value);
        }
    }

    /// The pairs every block has besides its settings: braces and catch-alls.
    pub(super) fn other(&mut self, cx: &mut Cx<'_>, pair: Pair<'_, Rule>, place: Place) {
        match pair.as_rule() {
            Rule::block_open => self.open(cx, pair),
            Rule::block_close => self.close(cx, pair),
            Rule::bad_setting => recover::bad_setting(cx, &mut self.cascade, pair, place),
            _ => cx.internal(cx.span_of(&pair), "setting"),
        }
    }

    fn open(&mut self, cx: &mut Cx<'_>, pair: Pair<'_, Rule>) {
        let span = cx.span_of(&pair);
        match pair.into_inner().next().map(|p| (p.as_rule(), cx.span_of(&p))) {
            None => {
                let end = span.end as usize;
                self.open = Open::Brace(cx.span(end.saturating_sub(1), end));
            }
            Some((Rule::yaml_colon, colon)) => cx.push(
                Diag::error(codes::FOREIGN_SYNTAX, "a block opens with `{`, not `:`")
                .at(colon, "YAML-style `:`")
                .help(format!(
                    "write `{} {{` here and close the block with `}}`; settings inside are `KEYWORD value`, without `:`",
                    cx.slice(self.head)
                )),
            ),
            Some(_) => cx.push(
                Diag::error(codes::SYNTAX_ERROR, format!("expected `{{` after `{}`", cx.slice(self.head)))
                    .at(self.head, "this block has no `{`")
                    .help(format!(
                        "write `{} {{` and close the block with `}}` after its last setting",
                        cx.slice(self.head)
                    )),
            ),
        }
    }

    fn close(&mut self, cx: &mut Cx<'_>, pair: Pair<'_, Rule>) {
        let Open::Brace(brace) = self.open else {
            return;
        };
        let at = cx.span_of(&pair);
        if pair.as_str() == "}" {
            return;
        }
        let mut diag = Diag::error(
            codes::UNCLOSED_BLOCK,
            format!("`{}` is never closed", cx.slice(self.head.to(brace))),
        )
        .at(brace, "this `{` has no matching `}`")
        .help("add `}` after the block's last setting");
        let rest = cx.text.get(at.start as usize..).unwrap_or("");
        let next_at = at.start as usize + (rest.len() - rest.trim_start().len());
        let next = recover::word_at(cx.text, next_at);
        if !next.is_empty() {
            diag = diag.also(
                cx.span(next_at, next_at + next.len()),
                format!("`{next}` starts a new top-level item, so the block must end before it"),
            );
        }
        cx.push(diag);
    }
}
