//! [`Secret`]: a configured value that must never be shown.
//!
//! Header values and child environment values may carry credentials. Their `Debug`, `Display`
//! and `Serialize` print `<redacted>` (naming the `${VARS}` they came from, which is safe and
//! useful), so a secret cannot reach a log line, a diagnostic, `explain` or `/_mcp2/config` by
//! accident. The only way to the value is [`Secret::expose`], used where it is sent upstream.

use std::fmt;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use serde::Serialize;

#[derive(Clone, PartialEq, Eq)]
pub struct Secret {
    value: Arc<str>,
    /// The variables the value was expanded from, in order of appearance.
    vars: Arc<[String]>,
}

impl Secret {
    pub fn new(value: impl Into<Arc<str>>, vars: Vec<String>) -> Self {
        Self {
            value: value.into(),
            vars: vars.into(),
        }
    }

    /// The real value, for the one place that sends it upstream.
    pub fn expose(&self) -> &str {
        &self.value
    }

    pub fn vars(&self) -> &[String] {
        &self.vars
    }

    /// What may be shown instead of the value.
    pub fn redacted(&self) -> String {
        if self.vars.is_empty() {
            "<redacted>".to_string()
        } else {
            let vars: Vec<String> = self.vars.iter().map(|v| format!("${{{v}}}")).collect();
            format!("<redacted: from {}>", vars.join(", "))
        }
    }
}

impl Hash for Secret {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.value.hash(state)
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted())
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted())
    }
}

impl Serialize for Secret {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.redacted())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_prints_the_value() {
        let s = Secret::new("Bearer hunter2", vec!["TOKEN".into()]);
        assert!(!format!("{s:?} {s}").contains("hunter2"));
        assert!(!serde_json::to_string(&s).unwrap().contains("hunter2"));
        assert_eq!(s.expose(), "Bearer hunter2");
        assert_eq!(s.redacted(), "<redacted: from ${TOKEN}>");
    }
}
