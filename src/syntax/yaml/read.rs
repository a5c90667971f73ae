//! Typed reading of the marked tree, with every mistake reported where it was written.
//!
//! [`Reader`] turns nodes into what the lowering wants (a mapping of known keys, a string, a
//! whole number, a boolean, a list, a name → value table) and pushes a diagnostic whenever the
//! node is something else, returning `None` so the caller just skips that value and goes on.
//! Unknown and duplicate keys are reported here, once, when a mapping is opened. Integers and
//! booleans are resolved by `yaml_serde`, so `0x1F`, `+3` and `True` read as they do everywhere
//! else the maintained YAML library is used.

use super::events::Style;
use super::keys::Place;
use super::tree::{Node, Pair, Value};
use crate::diag::{Diag, Diagnostics, codes, did_you_mean};
use crate::source::{Span, Spanned};
use crate::syntax::ast::{KeyValue, Str};

pub struct Reader<'d> {
    pub diags: &'d mut Diagnostics,
}

/// The known keys of one mapping, duplicates and unknown keys already reported.
pub struct Fields<'n> {
    place: Place,
    pairs: Vec<(&'static str, &'n Pair)>,
}

impl<'n> Fields<'n> {
    /// The pair of `key`. Asking for a key the schema types do not have is a bug in the
    /// lowering (it would never be found): debug builds, and so every test, stop on it.
    pub fn get(&self, key: &str) -> Option<&'n Pair> {
        debug_assert!(
            self.place.keys().contains(&key),
            "the lowering reads `{key}` in {}, but the schema types do not declare it",
            self.place.what()
        );
        self.pairs.iter().find(|(k, _)| *k == key).map(|(_, p)| *p)
    }

    pub fn value(&self, key: &str) -> Option<&'n Node> {
        self.get(key).map(|p| &p.value)
    }

    /// The known keys in the order written.
    pub fn iter(&self) -> impl Iterator<Item = (&'static str, &'n Pair)> + '_ {
        self.pairs.iter().copied()
    }
}

/// What a node is, for "expected …, found …" messages.
pub fn describe(node: &Node) -> &'static str {
    match &node.value {
        Value::Map(_) => "a mapping",
        Value::Seq(_) => "a list",
        Value::Scalar(_) if node.is_null() => "an empty value",
        Value::Scalar(s) if s.style != Style::Plain => "a string",
        Value::Scalar(s) if yaml_serde::from_str::<bool>(&s.text).is_ok() => "a boolean",
        Value::Scalar(s) if yaml_serde::from_str::<f64>(&s.text).is_ok() => "a number",
        Value::Scalar(_) => "a string",
    }
}

impl Reader<'_> {
    pub fn push(&mut self, diag: Diag) {
        self.diags.push(diag);
    }

    pub fn wrong_type(&mut self, node: &Node, expected: &str) {
        let found = describe(node);
        self.push(
            Diag::error(
                codes::YAML_WRONG_TYPE,
                format!("expected {expected}, found {found}"),
            )
            .at(node.span, format!("{found} here")),
        );
    }

    pub fn wrong_type_help(&mut self, node: &Node, expected: &str, help: &str) {
        let found = describe(node);
        self.push(
            Diag::error(
                codes::YAML_WRONG_TYPE,
                format!("expected {expected}, found {found}"),
            )
            .at(node.span, format!("{found} here"))
            .help(help),
        );
    }

    /// `key` is required in the mapping named at `owner` (the key the mapping hangs from).
    pub fn missing(&mut self, owner: Span, key: &str, what: &str, help: &str) {
        self.push(
            Diag::error(codes::YAML_MISSING_KEY, format!("{what} needs `{key}`"))
                .at(owner, format!("no `{key}` in here"))
                .help(help),
        );
    }

    /// A mapping of the keys `place` knows. Reports a non-mapping (an empty value counts as an
    /// empty mapping), non-string keys, duplicate keys (keeping the first) and unknown keys.
    pub fn fields<'n>(&mut self, node: &'n Node, place: Place) -> Option<Fields<'n>> {
        let pairs = self.mapping(node, &format!("a mapping for {}", place.what()))?;
        let mut fields = Fields {
            place,
            pairs: Vec::new(),
        };
        for (name, pair) in self.unique_keys(pairs) {
            match place.keys().iter().find(|k| **k == name.node) {
                Some(known) => fields.pairs.push((known, pair)),
                None => self.unknown_key(&name, place),
            }
        }
        Some(fields)
    }

    /// A mapping whose keys the user names (servers, profiles, headers). Duplicates and
    /// non-string keys are reported and dropped; order is kept.
    pub fn named<'n>(&mut self, node: &'n Node, expected: &str) -> Vec<(Str, &'n Pair)> {
        match self.mapping(node, expected) {
            Some(pairs) => self.unique_keys(pairs),
            None => Vec::new(),
        }
    }

    fn mapping<'n>(&mut self, node: &'n Node, expected: &str) -> Option<&'n [Pair]> {
        match &node.value {
            Value::Map(pairs) => Some(pairs),
            _ if node.is_null() => Some(&[]),
            _ => {
                self.wrong_type(node, expected);
                None
            }
        }
    }

    fn unique_keys<'n>(&mut self, pairs: &'n [Pair]) -> Vec<(Str, &'n Pair)> {
        let mut out: Vec<(Str, &'n Pair)> = Vec::new();
        for pair in pairs {
            let Some(name) = self.key(&pair.key) else {
                continue;
            };
            if let Some((first, _)) = out.iter().find(|(k, _)| k.node == name.node) {
                self.push(
                    Diag::error(
                        codes::YAML_DUPLICATE_KEY,
                        format!("`{}` is given twice in one mapping", name.node),
                    )
                    .at(name.span, "given again here")
                    .also(first.span, "first given here")
                    .help("keep one of them; YAML does not merge repeated keys"),
                );
                continue;
            }
            out.push((name, pair));
        }
        out
    }

    fn key(&mut self, node: &Node) -> Option<Str> {
        match &node.value {
            Value::Scalar(s) if !s.text.is_empty() => Some(Spanned::new(s.text.clone(), node.span)),
            _ => {
                self.wrong_type(node, "a name as the key");
                None
            }
        }
    }

    fn unknown_key(&mut self, name: &Str, place: Place) {
        let key = name.node.as_str();
        let hint = place.hint(key);
        let message = hint
            .as_ref()
            .and_then(|h| h.message.clone())
            .unwrap_or_else(|| format!("unknown key `{key}` in {}", place.what()));
        let help = match (hint, did_you_mean(key, place.keys().iter().copied())) {
            (Some(h), _) => h.help,
            (None, Some(s)) => format!("did you mean `{s}`?"),
            (None, None) => format!("{} takes: {}", place.what(), list(place.keys())),
        };
        self.push(
            Diag::error(codes::YAML_UNKNOWN_KEY, message)
                .at(name.span, "unknown key")
                .help(help),
        );
    }

    /// A scalar as the text written (numbers and booleans keep their spelling: `1.10` stays
    /// `1.10`). Lists, mappings and empty values are reported.
    pub fn string(&mut self, node: &Node, expected: &str) -> Option<Str> {
        match &node.value {
            Value::Scalar(s) if !node.is_null() => Some(Spanned::new(s.text.clone(), node.span)),
            _ => {
                self.wrong_type(node, expected);
                None
            }
        }
    }

    /// A whole number ≥ 0 written without quotes.
    pub fn integer(&mut self, node: &Node, expected: &str) -> Option<Spanned<u64>> {
        if let Value::Scalar(s) = &node.value {
            if s.style == Style::Plain
                && let Ok(n) = yaml_serde::from_str::<u64>(&s.text)
            {
                return Some(Spanned::new(n, node.span));
            }
            if s.style != Style::Plain && yaml_serde::from_str::<u64>(&s.text).is_ok() {
                self.wrong_type_help(node, expected, "write the number without quotes");
                return None;
            }
            if s.style == Style::Plain && yaml_serde::from_str::<f64>(&s.text).is_ok() {
                self.wrong_type_help(node, expected, "write a whole number, 0 or more");
                return None;
            }
        }
        self.wrong_type(node, expected);
        None
    }

    /// `true` or `false`, written without quotes.
    pub fn boolean(&mut self, node: &Node) -> Option<Spanned<bool>> {
        if let Value::Scalar(s) = &node.value
            && s.style == Style::Plain
            && let Ok(b) = yaml_serde::from_str::<bool>(&s.text)
        {
            return Some(Spanned::new(b, node.span));
        }
        self.wrong_type_help(
            node,
            "`true` or `false`",
            "write `true` or `false`, without quotes",
        );
        None
    }

    /// A list of items, each read by `item`; a single scalar counts as a one-item list.
    pub fn list<'n, T>(
        &mut self,
        node: &'n Node,
        expected: &str,
        mut item: impl FnMut(&mut Self, &'n Node) -> Option<T>,
    ) -> Vec<T> {
        match &node.value {
            Value::Seq(items) => items.iter().filter_map(|n| item(self, n)).collect(),
            _ if node.is_null() => Vec::new(),
            Value::Scalar(_) => item(self, node).into_iter().collect(),
            Value::Map(_) => {
                self.wrong_type(node, expected);
                Vec::new()
            }
        }
    }

    /// A `NAME: value` table (`headers`, `env`) in the order written.
    pub fn key_values(&mut self, node: &Node, expected: &str) -> Vec<KeyValue> {
        let mut out = Vec::new();
        for (key, pair) in self.named(node, expected) {
            if let Some(value) = self.string(&pair.value, "a string value") {
                out.push(KeyValue {
                    key,
                    value,
                    span: pair.span().into(),
                });
            }
        }
        out
    }
}

fn list(keys: &[&str]) -> String {
    keys.iter()
        .map(|k| format!("`{k}`"))
        .collect::<Vec<_>>()
        .join(", ")
}
