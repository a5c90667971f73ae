//! Explaining the lines the grammar could not read.
//!
//! Every `bad_item` and `bad_setting` becomes one diagnostic that says what is wrong and what
//! to write: a typo'd keyword gets a "did you mean", a YAML `key: value` gets the .mcproute
//! form, a keyword in the wrong block says where it belongs, and a known keyword with a broken
//! rest is re-parsed alone so pest can say exactly where it stopped and what it expected.
//! Lines that merely continue a broken one (the indented body of a YAML map) are not reported
//! again.

use pest::Parser;
use pest::error::{Error, ErrorVariant, InputLocation};
use pest::iterators::Pair;

use super::keywords::{self, Keyword, Place};
use super::{Cx, McprouteParser, Rule};
use crate::diag::{Diag, codes, did_you_mean};

/// Remembers the last unreadable line so that the lines that only continue it stay quiet.
#[derive(Debug, Default)]
pub(super) struct Cascade {
    /// End offset and indentation of the last unreadable line.
    last: Option<(usize, usize)>,
}

impl Cascade {
    /// Whether the unreadable text at `start..end` deserves its own diagnostic: not when it is
    /// indented under the previous unreadable line with nothing readable in between, nor a
    /// `}` that closes it.
    fn should_report(&mut self, text: &str, start: usize, end: usize) -> bool {
        let indent = start - line_start(text, start);
        let rest = text.get(start..end).unwrap_or("");
        let continues = self.last.is_some_and(|(last_end, last_indent)| {
            let between = text.get(last_end..start).unwrap_or("");
            let quiet = between.lines().all(|l| {
                let l = l.trim();
                l.is_empty() || l.starts_with('#') || l.starts_with("//")
            });
            quiet && (indent > last_indent || rest.starts_with('}'))
        });
        if continues {
            if let Some(last) = &mut self.last {
                last.0 = end;
            }
        } else if rest.trim_end().ends_with('}') {
            // A swallowed block is complete: what follows it is not its body.
            self.last = None;
        } else {
            self.last = Some((end, indent));
        }
        !continues
    }
}

/// Reports one top-level catch-all.
pub(super) fn bad_item(cx: &mut Cx<'_>, cascade: &mut Cascade, pair: Pair<'_, Rule>) {
    let (start, end) = (pair.as_span().start(), pair.as_span().end());
    if cascade.should_report(cx.text, start, end) {
        let diag = explain(cx, start, end, Place::Top);
        cx.push(diag);
    }
}

/// Reports one catch-all line inside a block of `place`.
pub(super) fn bad_setting(
    cx: &mut Cx<'_>,
    cascade: &mut Cascade,
    pair: Pair<'_, Rule>,
    place: Place,
) {
    let (start, end) = (pair.as_span().start(), pair.as_span().end());
    if cascade.should_report(cx.text, start, end) {
        let diag = explain(cx, start, end, place);
        cx.push(diag);
    }
}

/// Says why `start..end` is not an item or setting of `place`.
fn explain(cx: &Cx<'_>, start: usize, end: usize, place: Place) -> Diag {
    let text = cx.text.get(start..end).unwrap_or("");
    let before = cx.text.get(line_start(cx.text, start)..start).unwrap_or("");
    if place == Place::Top && !before.trim().is_empty() {
        let token = token_end(cx.text, start).min(end).max(start);
        return Diag::error(codes::SYNTAX_ERROR, "expected a new line after the block")
            .at(cx.span(start, token), "this must start on its own line")
            .help("put each item on its own line");
    }
    if text.starts_with('}') {
        return Diag::error(codes::SYNTAX_ERROR, "unexpected `}`")
            .at(cx.span(start, start + 1), "no block is open here")
            .help("remove it, or check the `{` of the block above");
    }
    let word = word_at(cx.text, start);
    if word.is_empty() {
        let token = token_end(cx.text, start).min(end).max(start + 1).min(end);
        return Diag::error(
            codes::SYNTAX_ERROR,
            format!(
                "expected {}, found `{}`",
                place.noun(),
                cx.slice(cx.span(start, token))
            ),
        )
        .at(cx.span(start, token), "not a keyword")
        .help(format!("expected one of: {}", list(place)));
    }
    let word_end = start + word.len();
    let rest = &text[word.len()..];
    let gap = rest.len() - rest.trim_start_matches([' ', '\t']).len();
    if rest[gap..].starts_with(':') && !rest[gap..].starts_with("::") {
        return yaml_key(word, cx.span(start, word_end + gap + 1), place);
    }
    if let Some(kw) = keywords::find_in(place, word) {
        return reparse(cx, kw, start, end);
    }
    let at = cx.span(start, word_end);
    if let Some(kw) = keywords::find(word) {
        return Diag::error(
            codes::MISPLACED_SETTING,
            format!("`{word}` is {}, not {}", kw.place.noun(), place.noun()),
        )
        .at(at, format!("not allowed in {}", place.block()))
        .help(format!("move it into {}: `{}`", kw.place.block(), kw.usage));
    }
    let suggestion = did_you_mean(word, keywords::words_in(place)).or_else(|| {
        keywords::foreign(word)
            .filter(|kw| kw.place == place)
            .map(|kw| kw.word)
    });
    let help = match suggestion {
        Some(s) => format!("did you mean `{s}`?"),
        None => format!("expected one of: {}", list(place)),
    };
    Diag::error(
        codes::UNKNOWN_KEYWORD,
        format!("`{word}` is not {}", place.noun()),
    )
    .at(at, "unknown keyword")
    .help(help)
}

/// `key: value` written in .mcproute.
fn yaml_key(word: &str, at: crate::source::Span, place: Place) -> Diag {
    let ours = keywords::find_in(place, word).or_else(|| keywords::foreign(word));
    let help = match ours {
        Some(kw) if kw.word == word => format!("drop the `:` and write `{}`", kw.usage),
        Some(kw) => format!(
            "in .mcproute, `{word}` is written `{}`{}",
            kw.usage,
            if place == Place::Top {
                " (or keep the YAML format in a .yaml file)"
            } else {
                ""
            }
        ),
        None => format!(
            ".mcproute writes `KEYWORD value` without `:`; expected one of: {}",
            list(place)
        ),
    };
    Diag::error(
        codes::FOREIGN_SYNTAX,
        format!("`{word}:` is YAML syntax, not .mcproute"),
    )
    .at(at, "YAML-style key")
    .help(help)
}

/// Re-parses a line that starts with a known keyword with that keyword's own rule, and reports
/// where pest stopped, or what trails after a complete setting.
fn reparse(cx: &Cx<'_>, kw: &Keyword, start: usize, end: usize) -> Diag {
    let input = cx.text.get(start..end).unwrap_or("");
    let parsed = match McprouteParser::parse(kw.rule, input) {
        Err(err) => return pest_error(cx, err, start, Some(kw)),
        Ok(mut pairs) => pairs.next().map_or(0, |p| p.as_span().end()),
    };
    let rest = &input[parsed..];
    let junk_start = start + parsed + (rest.len() - rest.trim_start().len());
    let junk_end = code_end(cx.text, junk_start, end).max(junk_start);
    let junk = cx.slice(cx.span(junk_start, junk_end));
    let setting = input[..parsed].trim_end();
    let help = if kw.word == "endpoint" && junk.starts_with('=') {
        "compare a header with `==`: `when header X-Team == \"ops\"`".to_owned()
    } else {
        format!("one per line; `{}` is written `{}`", kw.word, kw.usage)
    };
    Diag::error(
        codes::SYNTAX_ERROR,
        format!("unexpected `{junk}` after `{setting}`"),
    )
    .at(cx.span(junk_start, junk_end), "not part of this line")
    .help(help)
}

/// Turns a pest error at `base` into a diagnostic that names what was expected in words and
/// underlines what was found (or, at the end of a line, what was written so far).
pub(super) fn pest_error(cx: &Cx<'_>, err: Error<Rule>, base: usize, kw: Option<&Keyword>) -> Diag {
    let pos = base
        + match err.location {
            InputLocation::Pos(p) => p,
            InputLocation::Span((s, _)) => s,
        };
    let positives = match &err.variant {
        ErrorVariant::ParsingError { positives, .. } => positives.clone(),
        ErrorVariant::CustomError { .. } => Vec::new(),
    };
    let expected = expected_text(&positives, &err);
    let usage = kw.map(|k| format!("`{}` is written `{}`", k.word, k.usage));
    match found_at(cx.text, pos) {
        Found::Unterminated(end) => Diag::error(
            codes::UNTERMINATED_STRING,
            "this string has no closing quote",
        )
        .at(cx.span(pos, end), "the string runs to the end of the line")
        .help(r#"close it with `"` on the same line; write \n for a line break"#),
        Found::Colon => Diag::error(codes::FOREIGN_SYNTAX, "`:` is YAML syntax, not .mcproute")
            .at(cx.span(pos, pos + 1), format!("expected {expected}"))
            .help(usage.unwrap_or_else(|| "remove the `:`".to_owned())),
        Found::Token(end) => {
            let found = cx.slice(cx.span(pos, end));
            let words: Vec<&str> = positives
                .iter()
                .flat_map(|r| keywords::expected_words(*r).iter().copied())
                .collect();
            let period_missing = positives.contains(&Rule::rate)
                && !found.is_empty()
                && found.bytes().all(|b| b.is_ascii_digit());
            let help = if period_missing {
                Some(format!(
                    "a rate is calls per period: write `{found}/min` (or `/s`, `/h`, `/day`)"
                ))
            } else {
                did_you_mean(found, words)
                    .map(|w| format!("did you mean `{w}`?"))
                    .or(usage)
            };
            let diag = Diag::error(
                codes::SYNTAX_ERROR,
                format!("expected {expected}, found `{found}`"),
            )
            .at(cx.span(pos, end), format!("expected {expected}"));
            with_help(diag, help)
        }
        Found::EndOfLine => {
            let written_end = code_end(cx.text, base, pos).max(base);
            let written = cx.slice(cx.span(base, written_end));
            let diag = Diag::error(
                codes::SYNTAX_ERROR,
                format!("`{written}` is incomplete: expected {expected}"),
            )
            .at(
                cx.span(base, written_end),
                format!("expected {expected} after this"),
            );
            let targetish = positives.iter().any(|r| {
                matches!(
                    r,
                    Rule::glob_target | Rule::regex_target | Rule::slash | Rule::kw_matching
                )
            });
            let help = if targetish {
                Some(
                    "a rule names its items `UPSTREAM/NAME` (globs, e.g. `github/search_*`) or `UPSTREAM matching /REGEX/`"
                        .to_owned(),
                )
            } else {
                usage
            };
            with_help(diag, help)
        }
    }
}

fn with_help(diag: Diag, help: Option<String>) -> Diag {
    match help {
        Some(h) => diag.help(h),
        None => diag,
    }
}

/// "a name or a quoted string", from pest's positives in the grammar's own words.
fn expected_text(positives: &[Rule], err: &Error<Rule>) -> String {
    let mut words: Vec<&str> = Vec::new();
    // Pest reports only the alternatives that got furthest; a target has two forms, and when
    // one was cut short the user may have meant either.
    let mut positives = positives.to_vec();
    for (one, other) in [
        (Rule::slash, Rule::kw_matching),
        (Rule::kw_matching, Rule::slash),
    ] {
        if positives.contains(&one) && !positives.contains(&other) {
            positives.push(other);
        }
    }
    for rule in &positives {
        if let Some(w) = keywords::describe(*rule)
            && !words.contains(&w)
        {
            words.push(w);
        }
    }
    if words.is_empty() {
        // Fall back on pest's own list, renamed where we can.
        let renamed = err.clone().renamed_rules(|r| {
            keywords::describe(*r).map_or_else(|| format!("{r:?}"), str::to_owned)
        });
        return renamed
            .variant
            .message()
            .trim_start_matches("expected ")
            .to_owned();
    }
    match words.split_last() {
        Some((last, [])) => (*last).to_owned(),
        Some((last, init)) => format!("{} or {last}", init.join(", ")),
        None => String::new(),
    }
}

/// What stands at a position where pest stopped.
enum Found {
    /// Nothing but the end of the line (a comment may follow).
    EndOfLine,
    /// A `"` with no closing quote on its line; the offset is the line's end.
    Unterminated(usize),
    /// A YAML-style `:`.
    Colon,
    /// A token ending at this offset.
    Token(usize),
}

fn found_at(text: &str, pos: usize) -> Found {
    let rest = text.get(pos..).unwrap_or("");
    let line = rest.split(['\n', '\r']).next().unwrap_or("");
    if line.trim().is_empty() {
        return Found::EndOfLine;
    }
    if line.starts_with(':') {
        return Found::Colon;
    }
    if line.starts_with('"') {
        let mut escaped = false;
        for (i, c) in line.char_indices().skip(1) {
            match c {
                _ if escaped => escaped = false,
                '\\' => escaped = true,
                '"' => return Found::Token(pos + i + 1),
                _ => {}
            }
        }
        return Found::Unterminated(pos + line.trim_end().len());
    }
    Found::Token(token_end(text, pos))
}

/// The end of the whitespace-delimited token at `pos` (at least one character).
fn token_end(text: &str, pos: usize) -> usize {
    let rest = text.get(pos..).unwrap_or("");
    let mut chars = rest.char_indices();
    let first = chars.next().map_or(0, |(_, c)| c.len_utf8());
    let len = chars
        .find(|(_, c)| c.is_whitespace())
        .map_or(rest.len(), |(i, _)| i);
    pos + len.max(first)
}

/// The name-like word at `pos` (`upstream`, `max-size-mb`, `exposePerServer`); may be empty.
pub(super) fn word_at(text: &str, pos: usize) -> &str {
    let rest = text.get(pos..).unwrap_or("");
    let len = rest
        .find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.')))
        .unwrap_or(rest.len());
    &rest[..len]
}

/// The offset of the start of the line holding `pos`.
fn line_start(text: &str, pos: usize) -> usize {
    text.get(..pos)
        .and_then(|t| t.rfind(['\n', '\r']))
        .map_or(0, |i| i + 1)
}

/// Where the code in `from..to` ends: before a comment and trailing whitespace.
fn code_end(text: &str, from: usize, to: usize) -> usize {
    let code = text.get(from..to).unwrap_or("");
    let mut in_string = false;
    let mut escaped = false;
    let mut prev_space = true;
    let mut cut = code.len();
    for (i, c) in code.char_indices() {
        if in_string {
            match c {
                _ if escaped => escaped = false,
                '\\' => escaped = true,
                '"' => in_string = false,
                _ => {}
            }
        } else if c == '"' {
            in_string = true;
        } else if c == '#' || (c == '/' && prev_space && code[i..].starts_with("//")) {
            cut = i;
            break;
        }
        prev_space = c.is_whitespace();
    }
    from + code[..cut].trim_end().len()
}

/// The keywords of a place, for "expected one of".
fn list(place: Place) -> String {
    keywords::words_in(place)
        .map(|w| format!("`{w}`"))
        .collect::<Vec<_>>()
        .join(", ")
}
