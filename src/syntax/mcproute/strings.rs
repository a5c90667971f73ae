//! Decoding the escapes of string and regex literals.
//!
//! The grammar accepts `\` before any character so that a bad escape is one diagnostic at its
//! own place rather than a failed line. This module decides what each escape means. The
//! printer (`syntax::print`) writes the inverse and relies on these functions to check itself.

use std::ops::Range;

/// An escape sequence that means nothing, as a byte range of the literal's inner text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct BadEscape {
    pub range: Range<usize>,
    pub why: &'static str,
    /// A `\` before a character that starts no escape (`\P`), as opposed to a malformed one.
    pub unknown: bool,
}

/// Decodes the text between a string's quotes. Bad escapes are left out of the value and
/// returned with their ranges (relative to `inner`).
pub(crate) fn unescape_string(inner: &str) -> (String, Vec<BadEscape>) {
    let mut out = String::with_capacity(inner.len());
    let mut bad = Vec::new();
    let mut chars = inner.char_indices().peekable();
    while let Some((start, c)) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        let Some((_, e)) = chars.next() else {
            bad.push(BadEscape {
                range: start..inner.len(),
                why: "a `\\` must be followed by an escape letter",
                unknown: false,
            });
            break;
        };
        match e {
            '"' => out.push('"'),
            '\\' => out.push('\\'),
            'n' => out.push('\n'),
            't' => out.push('\t'),
            'r' => out.push('\r'),
            'u' => match unicode_escape(start, &mut chars) {
                Ok(ch) => out.push(ch),
                Err(b) => bad.push(b),
            },
            other => bad.push(BadEscape {
                range: start..start + 1 + other.len_utf8(),
                why: "unknown escape",
                unknown: true,
            }),
        }
    }
    (out, bad)
}

/// Reads `{XXXX}` after `\u` (at `start`), consuming what it looked at.
fn unicode_escape(
    start: usize,
    chars: &mut std::iter::Peekable<std::str::CharIndices<'_>>,
) -> Result<char, BadEscape> {
    let bad = |end: usize, why| BadEscape {
        range: start..end,
        why,
        unknown: false,
    };
    let after_u = start + 2;
    if chars.peek().map(|&(_, c)| c) != Some('{') {
        return Err(bad(after_u, "`\\u` must be followed by `{HEX}`"));
    }
    chars.next();
    let mut end = after_u + 1;
    let mut hex = String::new();
    while let Some(&(i, c)) = chars.peek() {
        if c == '}' {
            chars.next();
            end = i + 1;
            let code = u32::from_str_radix(&hex, 16).ok();
            return match code.filter(|_| !hex.is_empty() && hex.len() <= 6) {
                Some(code) => {
                    char::from_u32(code).ok_or_else(|| bad(end, "not a Unicode scalar value"))
                }
                None => Err(bad(end, "`\\u{…}` takes 1 to 6 hex digits")),
            };
        }
        if !c.is_ascii_hexdigit() {
            return Err(bad(i, "`\\u{…}` takes 1 to 6 hex digits and a closing `}`"));
        }
        hex.push(c);
        chars.next();
        end = i + 1;
    }
    Err(bad(end, "`\\u{…}` has no closing `}`"))
}

/// Decodes the text between a regex literal's slashes: `\/` is `/`, every other escape is the
/// regex's own and stays as written.
pub(crate) fn unescape_regex(inner: &str) -> String {
    let mut out = String::with_capacity(inner.len());
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('/') => out.push('/'),
            Some(e) => {
                out.push('\\');
                out.push(e);
            }
            None => out.push('\\'),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(s: &str) -> String {
        let (v, bad) = unescape_string(s);
        assert!(bad.is_empty(), "{bad:?}");
        v
    }

    fn bad_part(s: &str) -> &str {
        let (_, bad) = unescape_string(s);
        assert_eq!(bad.len(), 1, "{bad:?}");
        &s[bad[0].range.clone()]
    }

    #[test]
    fn decodes_known_escapes() {
        assert_eq!(ok(r#"a\"b\\c\nd\te\rf"#), "a\"b\\c\nd\te\rf");
        assert_eq!(ok(r"\u{1F600}\u{41}"), "😀A");
        assert_eq!(ok("${VAR} # not a comment"), "${VAR} # not a comment");
    }

    #[test]
    fn bad_escapes_cover_exactly_the_escape() {
        assert_eq!(bad_part(r"ab\qcd"), r"\q");
        assert_eq!(bad_part(r"x\é"), r"\é");
        assert_eq!(bad_part(r"\u{110000} tail"), r"\u{110000}");
        assert_eq!(bad_part(r"\u{12345678}"), r"\u{12345678}");
        assert_eq!(bad_part(r"\u{}"), r"\u{}");
        assert_eq!(bad_part(r"\u41"), r"\u");
        assert_eq!(bad_part(r"\u{4g}"), r"\u{4");
        assert_eq!(bad_part(r"\u{41"), r"\u{41");
        assert_eq!(bad_part(r"end\"), r"\");
    }

    #[test]
    fn keeps_going_after_a_bad_escape() {
        let (v, bad) = unescape_string(r"\q\n\z");
        assert_eq!(v, "\n");
        assert_eq!(bad.len(), 2);
    }

    #[test]
    fn regex_only_unescapes_slash() {
        assert_eq!(unescape_regex(r"^a\/b\d+\\$"), r"^a/b\d+\\$");
    }
}
