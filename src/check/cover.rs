//! Whether one glob matches everything another glob matches, for the shadowed-rule warning.
//!
//! Decided on the glob texts, soundly: `covers(a, b)` is true only when every name `b` matches,
//! `a` matches too. For globs made of literals, `*` and `?` the check treats `b` as a sequence of
//! tokens: `a`'s `*` may absorb any run of them, `a`'s `?` one literal or `?` (never a `*`, which
//! may stand for several characters), and a literal only the same literal. Globs with classes,
//! alternatives or escapes are compared only for equality. It may miss a cover (no warning), but
//! never claims one that is not (a false warning would push users to reorder correct rules).

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tok {
    Star,
    One,
    Lit(char),
}

fn tokens(glob: &str) -> Option<Vec<Tok>> {
    if glob.contains(['[', ']', '{', '}', '\\']) {
        return None;
    }
    let mut out: Vec<Tok> = Vec::new();
    for c in glob.chars() {
        let t = match c {
            '*' => Tok::Star,
            '?' => Tok::One,
            c => Tok::Lit(c),
        };
        // `**` means the same as `*` here (no path separators in names).
        if !(t == Tok::Star && out.last() == Some(&Tok::Star)) {
            out.push(t);
        }
    }
    Some(out)
}

/// Whether glob `a` matches every string glob `b` matches.
pub(super) fn covers(a: &str, b: &str) -> bool {
    if a == b {
        return true;
    }
    let (Some(a), Some(b)) = (tokens(a), tokens(b)) else {
        return false;
    };
    // reach[j]: a[..i] can stand for b[..j]; rows over `a`, classic glob-matching table.
    let mut reach = vec![false; b.len() + 1];
    reach[0] = true;
    for ta in &a {
        let mut next = vec![false; b.len() + 1];
        for j in 0..=b.len() {
            next[j] = match ta {
                Tok::Star => reach[j] || (j > 0 && next[j - 1]),
                Tok::One => j > 0 && reach[j - 1] && b[j - 1] != Tok::Star,
                Tok::Lit(c) => j > 0 && reach[j - 1] && b[j - 1] == Tok::Lit(*c),
            };
        }
        reach = next;
    }
    reach[b.len()]
}

/// Whether a glob matches every name (`*`, `**`).
pub(super) fn matches_everything(glob: &str) -> bool {
    !glob.is_empty() && glob.chars().all(|c| c == '*')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wider_globs_cover_narrower_ones() {
        assert!(covers("*write*", "*write_file*"));
        assert!(covers("*", "search_*"));
        assert!(covers("search_*", "search_code"));
        assert!(covers("a?c", "abc"));
        assert!(covers("a?c", "a?c"));
        assert!(covers("**", "x"));
    }

    #[test]
    fn never_claims_a_cover_that_is_not() {
        assert!(
            !covers("a?c", "a*c"),
            "`a*c` matches `abbc`, `a?c` does not"
        );
        assert!(!covers("search_*", "*"));
        assert!(!covers("*write", "*write*"));
        assert!(
            !covers("[ab]*", "a*"),
            "classes are only compared for equality"
        );
        assert!(covers("[ab]*", "[ab]*"));
    }
}
