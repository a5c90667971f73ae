//! Secrets written into a client's file → `${VAR}` references.
//!
//! Client files often hold tokens in plain text (`"GITHUB_TOKEN": "ghp_…"`,
//! `"Authorization": "Bearer sk-…"`). Route files are meant to be committed, so an imported
//! value that is a secret is replaced with a reference to an environment variable, and the
//! user is told which variable to set. The value itself is dropped here and never printed.
//! References the client wrote itself are translated: VS Code's `${env:NAME}` is `${NAME}`;
//! `${input:id}` (a prompt in VS Code) becomes a variable to set.

/// What became of one `env` or `headers` value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    /// Not a secret: kept as written (client references translated).
    Plain(String),
    /// A secret: the routes say `replacement`, which references `var`.
    Secret { replacement: String, var: String },
}

/// Decides what `value` of `key` becomes; `var` is the variable name to use if it is a secret.
pub fn classify(key: &str, value: &str, var: &str) -> Value {
    let (translated, inputs) = translate_references(value);
    if let Some(input) = inputs.into_iter().next() {
        return Value::Secret {
            replacement: translated,
            var: input,
        };
    }
    if translated.contains("${") || !(secret_key(key) || looks_like_token(&translated)) {
        return Value::Plain(translated);
    }
    if translated.is_empty() {
        return Value::Plain(translated);
    }
    // Keep an auth scheme readable: `Bearer ${VAR}`.
    let scheme = ["Bearer ", "Basic ", "Token ", "token ", "bearer "]
        .into_iter()
        .find(|s| translated.starts_with(s) && translated.len() > s.len());
    let replacement = match scheme {
        Some(s) => format!("{s}${{{var}}}"),
        None => format!("${{{var}}}"),
    };
    Value::Secret {
        replacement,
        var: var.to_string(),
    }
}

/// A variable name for a secret: the key itself when it is a valid name (`GITHUB_TOKEN`),
/// otherwise `SERVER_KEY` in upper case (`GITHUB_AUTHORIZATION`).
pub fn var_name(server: &str, key: &str, is_env: bool) -> String {
    let valid = |s: &str| {
        s.chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
    };
    if is_env && valid(key) {
        return key.to_string();
    }
    let raw = format!("{server}_{key}").to_ascii_uppercase();
    let mut name: String = raw
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    if !name.starts_with(|c: char| c.is_ascii_alphabetic()) {
        name.insert(0, 'X');
        name.insert(1, '_');
    }
    name
}

/// Keys that name a secret whatever their value looks like.
fn secret_key(key: &str) -> bool {
    let k = key.to_ascii_uppercase();
    [
        "TOKEN",
        "KEY",
        "SECRET",
        "PASSWORD",
        "PASSWD",
        "CREDENTIAL",
        "AUTHORIZATION",
        "COOKIE",
    ]
    .iter()
    .any(|w| k.contains(w))
}

/// Values that look like an API token: a well-known prefix, or a long run of token characters
/// mixing letters and digits (not a path, URL or sentence).
fn looks_like_token(value: &str) -> bool {
    let v = value
        .strip_prefix("Bearer ")
        .or_else(|| value.strip_prefix("bearer "))
        .unwrap_or(value);
    const PREFIXES: [&str; 10] = [
        "ghp_",
        "gho_",
        "ghs_",
        "github_pat_",
        "glpat-",
        "sk-",
        "xoxb-",
        "xoxp-",
        "AKIA",
        "AIza",
    ];
    if PREFIXES
        .iter()
        .any(|p| v.starts_with(p) && v.len() > p.len() + 8)
    {
        return true;
    }
    v.len() >= 24
        && v.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | '=' | '+'))
        && v.chars().any(|c| c.is_ascii_digit())
        && v.chars().any(|c| c.is_ascii_alphabetic())
        && !v.contains("..")
}

/// `${env:NAME}` → `${NAME}`; `${input:id}` → `${ID}`, returning the variables made from inputs.
fn translate_references(value: &str) -> (String, Vec<String>) {
    let mut out = String::new();
    let mut inputs = Vec::new();
    let mut rest = value;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find('}') else {
            out.push_str(&rest[start..]);
            return (out, inputs);
        };
        let inner = &after[..end];
        if let Some(name) = inner.strip_prefix("env:") {
            out.push_str(&format!("${{{name}}}"));
        } else if let Some(id) = inner.strip_prefix("input:") {
            let var: String = id
                .to_ascii_uppercase()
                .chars()
                .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
                .collect();
            out.push_str(&format!("${{{var}}}"));
            inputs.push(var);
        } else {
            out.push_str(&format!("${{{inner}}}"));
        }
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    (out, inputs)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret(key: &str, value: &str) -> Option<String> {
        match classify(key, value, "VAR") {
            Value::Secret { replacement, .. } => Some(replacement),
            Value::Plain(_) => None,
        }
    }

    #[test]
    fn secret_keys_and_token_values_are_replaced() {
        assert_eq!(secret("GITHUB_TOKEN", "abc").as_deref(), Some("${VAR}"));
        assert_eq!(secret("X-Api-Key", "k").as_deref(), Some("${VAR}"));
        assert_eq!(
            secret("Authorization", "Bearer sk-live-1234567890").as_deref(),
            Some("Bearer ${VAR}")
        );
        assert_eq!(
            secret("SOMETHING", "ghp_16C7e42F292c6912E7710c838347Ae178B4a").as_deref(),
            Some("${VAR}")
        );
    }

    #[test]
    fn ordinary_values_and_references_are_kept() {
        assert_eq!(secret("LOG_LEVEL", "warn"), None);
        assert_eq!(secret("ROOT", "/srv/data/projects/2024"), None);
        assert_eq!(secret("GITHUB_TOKEN", "${GH}"), None);
        assert_eq!(
            classify("TOKEN", "${env:GH_TOKEN}", "V"),
            Value::Plain("${GH_TOKEN}".into())
        );
        assert_eq!(
            classify("Authorization", "Bearer ${input:api-key}", "V"),
            Value::Secret {
                replacement: "Bearer ${API_KEY}".into(),
                var: "API_KEY".into()
            }
        );
    }

    #[test]
    fn variable_names() {
        assert_eq!(var_name("github", "GITHUB_TOKEN", true), "GITHUB_TOKEN");
        assert_eq!(var_name("brave", "X-Api-Key", false), "BRAVE_X_API_KEY");
        assert_eq!(
            var_name("9db", "Authorization", false),
            "X_9DB_AUTHORIZATION"
        );
    }
}
