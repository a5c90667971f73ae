//! `${VAR}` templates in route values, and their expansion.
//!
//! Owns the template syntax: `${NAME}` is the variable's value, `${NAME:-default}` falls back to
//! `default` when the variable is unset or empty (as in a POSIX shell), and `$${` is a literal
//! `${`. A `$` not followed by `{` is just a dollar sign. Expansion applies to header and env
//! values (which become [`Secret`]s naming their variables), URLs, stdio command, arguments and
//! working directory, and the log file. The values themselves never reach a diagnostic: an unset
//! variable is reported by name and place, and a bad expanded value is pointed at by where it
//! came from ([`Expanded::origin`]).

use std::ops::Range;

use super::{Cx, Env, errors};
use crate::plan::Secret;
use crate::syntax::ast::Str;

/// One part of a template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Piece<'t> {
    /// Copied as is; `at` is its byte offset in the template.
    Text { text: &'t str, at: usize },
    /// `${name}` or `${name:-default}`, spanning `range` of the template.
    Var {
        name: &'t str,
        default: Option<&'t str>,
        range: Range<usize>,
    },
}

/// A template that cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{problem}")]
pub struct TemplateError {
    /// Byte range in the template.
    pub range: Range<usize>,
    pub problem: TemplateProblem,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateProblem {
    #[error("`${{` is never closed with `}}`")]
    Unclosed,
    #[error("`${{}}` names no variable")]
    EmptyName,
    #[error("`{0}` is not a variable name (letters, digits and `_`, not starting with a digit)")]
    BadName(String),
}

/// Splits a template into text and variables.
pub fn parse(template: &str) -> Result<Vec<Piece<'_>>, TemplateError> {
    let mut pieces = Vec::new();
    let mut text_start = 0;
    let mut i = 0;
    let bytes = template.as_bytes();
    while let Some(found) = template[i..].find('$') {
        let at = i + found;
        if template[at..].starts_with("$${") {
            push_text(&mut pieces, template, text_start..at);
            pieces.push(Piece::Text {
                text: &template[at + 1..at + 3],
                at: at + 1,
            });
            i = at + 3;
            text_start = i;
        } else if bytes.get(at + 1) == Some(&b'{') {
            push_text(&mut pieces, template, text_start..at);
            let Some(close) = template[at + 2..].find('}').map(|c| at + 2 + c) else {
                return Err(TemplateError {
                    range: at..template.len(),
                    problem: TemplateProblem::Unclosed,
                });
            };
            let inner = &template[at + 2..close];
            let (name, default) = match inner.split_once(":-") {
                Some((name, default)) => (name, Some(default)),
                None => (inner, None),
            };
            let range = at..close + 1;
            check_name(name).map_err(|problem| TemplateError {
                range: range.clone(),
                problem,
            })?;
            pieces.push(Piece::Var {
                name,
                default,
                range,
            });
            i = close + 1;
            text_start = i;
        } else {
            i = at + 1;
        }
    }
    push_text(&mut pieces, template, text_start..template.len());
    Ok(pieces)
}

fn push_text<'t>(pieces: &mut Vec<Piece<'t>>, template: &'t str, range: Range<usize>) {
    if !range.is_empty() {
        pieces.push(Piece::Text {
            text: &template[range.clone()],
            at: range.start,
        });
    }
}

fn check_name(name: &str) -> Result<(), TemplateProblem> {
    let mut chars = name.chars();
    match chars.next() {
        None => Err(TemplateProblem::EmptyName),
        Some(c)
            if (c.is_ascii_alphabetic() || c == '_')
                && chars.all(|c| c.is_ascii_alphanumeric() || c == '_') =>
        {
            Ok(())
        }
        Some(_) => Err(TemplateProblem::BadName(name.to_string())),
    }
}

/// A template with its variables replaced, remembering where each byte came from.
#[derive(Debug, Clone)]
pub struct Expanded {
    pub value: String,
    /// Every variable the template names, in order of appearance (also those that fell back to
    /// their default).
    pub vars: Vec<String>,
    segments: Vec<Segment>,
}

#[derive(Debug, Clone)]
struct Segment {
    out: Range<usize>,
    piece: Origin,
}

/// Where a byte of an expanded value came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// Written literally, at this byte offset of the template.
    Literal(usize),
    /// From the variable (or its default) written at this range of the template.
    Var(Range<usize>),
}

impl Expanded {
    /// Where byte `offset` of the value came from.
    pub fn origin(&self, offset: usize) -> Option<Origin> {
        let seg = self.segments.iter().find(|s| s.out.contains(&offset))?;
        Some(match &seg.piece {
            Origin::Literal(at) => Origin::Literal(at + (offset - seg.out.start)),
            var => var.clone(),
        })
    }

    pub fn into_secret(self) -> Secret {
        Secret::new(self.value, self.vars)
    }
}

/// Expands parsed pieces; on failure, the variables that are unset and have no default.
pub fn expand_pieces<'t>(
    pieces: &[Piece<'t>],
    env: &dyn Env,
) -> Result<Expanded, Vec<(&'t str, Range<usize>)>> {
    let mut value = String::new();
    let mut vars = Vec::new();
    let mut segments = Vec::new();
    let mut unset = Vec::new();
    for piece in pieces {
        let start = value.len();
        let origin = match piece {
            Piece::Text { text, at } => {
                value.push_str(text);
                Origin::Literal(*at)
            }
            Piece::Var {
                name,
                default,
                range,
            } => {
                vars.push(name.to_string());
                match (env.var(name), default) {
                    (Some(v), Some(_)) if !v.is_empty() => value.push_str(&v),
                    (Some(v), None) => value.push_str(&v),
                    (_, Some(d)) => value.push_str(d),
                    (None, None) => unset.push((*name, range.clone())),
                }
                Origin::Var(range.clone())
            }
        };
        segments.push(Segment {
            out: start..value.len(),
            piece: origin,
        });
    }
    if unset.is_empty() {
        Ok(Expanded {
            value,
            vars,
            segments,
        })
    } else {
        Err(unset)
    }
}

/// Expands `s`, reporting malformed templates and unset variables against the place they are
/// written. `used_in` says where, for the message ("header `Authorization` of upstream `github`").
pub(super) fn expand(cx: &mut Cx<'_>, s: &Str, used_in: &str) -> Option<Expanded> {
    let pieces = match parse(&s.node) {
        Ok(pieces) => pieces,
        Err(e) => {
            let span = cx.sub_span(s, e.range.clone());
            cx.push(errors::bad_variable(span, &e.problem.to_string(), used_in));
            return None;
        }
    };
    match expand_pieces(&pieces, cx.env) {
        Ok(expanded) => Some(expanded),
        Err(unset) => {
            for (name, range) in unset {
                let span = cx.sub_span(s, range);
                cx.push(errors::unset_variable(name, span, used_in));
            }
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn env(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn expand_str(t: &str, e: &HashMap<String, String>) -> Result<String, Vec<String>> {
        let pieces = parse(t).map_err(|e| vec![e.to_string()])?;
        expand_pieces(&pieces, e)
            .map(|x| x.value)
            .map_err(|u| u.into_iter().map(|(n, _)| n.to_string()).collect())
    }

    #[test]
    fn expands_set_variables_and_defaults() {
        let e = env(&[("TOKEN", "abc"), ("EMPTY", "")]);
        assert_eq!(expand_str("Bearer ${TOKEN}", &e).unwrap(), "Bearer abc");
        assert_eq!(expand_str("${MISSING:-x}/${TOKEN}", &e).unwrap(), "x/abc");
        assert_eq!(expand_str("${EMPTY:-fallback}", &e).unwrap(), "fallback");
        assert_eq!(expand_str("${EMPTY}", &e).unwrap(), "");
        assert_eq!(expand_str("${MISSING:-}", &e).unwrap(), "");
    }

    #[test]
    fn dollar_dollar_brace_is_a_literal() {
        let e = env(&[("X", "1")]);
        assert_eq!(expand_str("$${X} costs $5", &e).unwrap(), "${X} costs $5");
        assert_eq!(expand_str("a$", &e).unwrap(), "a$");
    }

    #[test]
    fn reports_every_unset_variable() {
        let e = env(&[]);
        assert_eq!(
            expand_str("${A}-${B:-b}-${C}", &e).unwrap_err(),
            vec!["A", "C"]
        );
    }

    #[test]
    fn rejects_malformed_templates_with_their_range() {
        let err = parse("x ${OPEN").unwrap_err();
        assert_eq!(err.problem, TemplateProblem::Unclosed);
        assert_eq!(err.range, 2..8);
        assert_eq!(
            parse("${}").unwrap_err().problem,
            TemplateProblem::EmptyName
        );
        assert!(matches!(
            parse("${1X}").unwrap_err().problem,
            TemplateProblem::BadName(_)
        ));
        assert!(matches!(
            parse("${A-b}").unwrap_err().problem,
            TemplateProblem::BadName(_)
        ));
    }

    #[test]
    fn knows_where_each_byte_came_from() {
        let e = env(&[("T", "xyz")]);
        let pieces = parse("ab${T}c").unwrap();
        let x = expand_pieces(&pieces, &e).unwrap();
        assert_eq!(x.value, "abxyzc");
        assert_eq!(x.origin(1), Some(Origin::Literal(1)));
        assert_eq!(x.origin(3), Some(Origin::Var(2..6)));
        assert_eq!(x.origin(5), Some(Origin::Literal(6)));
        assert_eq!(x.vars, vec!["T"]);
    }
}
