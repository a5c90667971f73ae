//! Client server names → valid upstream names.
//!
//! Clients allow any string (`"GitHub Enterprise"`, `"@acme/db"`); mcp2's names are what the
//! `.mcproute` grammar reads bare and what goes into public names (`{upstream}__tool`) and
//! paths (`/servers/{upstream}/mcp`): ASCII letters, digits, `_`, `-` and `.`.

/// A valid name for `raw`, distinct from every name in `taken`.
pub fn sanitize(raw: &str, taken: &[String]) -> String {
    let mut name = String::new();
    for c in raw.trim().chars() {
        let c = if c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.') {
            c
        } else {
            '_'
        };
        // One `_` for a run of replaced characters.
        if !(c == '_' && name.ends_with('_')) {
            name.push(c);
        }
    }
    let name = name.trim_matches('_').to_string();
    let base = if name.is_empty() {
        "server".to_string()
    } else {
        name
    };
    if !taken.contains(&base) {
        return base;
    }
    (2..)
        .map(|n| format!("{base}_{n}"))
        .find(|candidate| !taken.contains(candidate))
        .unwrap_or(base)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_names_are_kept_and_others_made_valid() {
        assert_eq!(sanitize("github", &[]), "github");
        assert_eq!(sanitize("brave-search.v2", &[]), "brave-search.v2");
        assert_eq!(sanitize("GitHub Enterprise", &[]), "GitHub_Enterprise");
        assert_eq!(sanitize("@acme/db (prod)", &[]), "acme_db_prod");
        assert_eq!(sanitize("日本", &[]), "server");
        assert_eq!(sanitize("a->b", &[]), "a-_b");
    }

    #[test]
    fn a_clash_gets_a_number() {
        let taken = vec!["my_db".to_string(), "my_db_2".to_string()];
        assert_eq!(sanitize("my db", &taken), "my_db_3");
    }
}
