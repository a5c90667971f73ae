//! The marked YAML tree: scalars, sequences and mappings, each with the span it was written at.
//!
//! Built from the [`events`](super::events) stream of one document. Mapping entries stay in
//! file order and duplicates are kept (the lowering reports them with both places). Aliases are
//! expanded into copies of their anchored node, under a node budget so a "billion laughs" file
//! cannot exhaust memory. A syntax error ends the file with one `YAML_ERROR` diagnostic
//! ([`syntax_error`](super::syntax_error)). This module knows YAML, not mcp2's keys.

use std::collections::HashMap;

use super::events::{Event, EventKind, Mark, Parser, Style};
use super::syntax_error::syntax_diag;
use crate::diag::{Diag, Diagnostics, codes};
use crate::source::{SourceFile, Span};

/// Deeper nesting than any route file needs; also keeps recursion in the lowering bounded.
const MAX_DEPTH: usize = 64;
/// Nodes per file, alias copies included.
const MAX_NODES: usize = 200_000;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    pub value: Value,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    Scalar(Scalar),
    Seq(Vec<Node>),
    Map(Vec<Pair>),
}

/// A scalar's text after unescaping. Only a [`Style::Plain`] scalar may be a number, boolean or
/// null; a quoted, block or `!!str`-tagged one is always a string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scalar {
    pub text: String,
    pub style: Style,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pair {
    pub key: Node,
    pub value: Node,
}

impl Pair {
    /// From the key to the end of the value.
    pub fn span(&self) -> Span {
        self.key.span.to(self.value.span)
    }
}

impl Node {
    /// A plain empty scalar, `~` or `null`: what YAML reads when a value is left out.
    pub fn is_null(&self) -> bool {
        match &self.value {
            Value::Scalar(s) => {
                s.style == Style::Plain
                    && matches!(s.text.as_str(), "" | "~" | "null" | "Null" | "NULL")
            }
            _ => false,
        }
    }

    /// A scalar with a value (not left out).
    pub fn is_scalar(&self) -> bool {
        matches!(self.value, Value::Scalar(_)) && !self.is_null()
    }

    /// Whether this is a mapping with `key` among its keys.
    pub fn has_key(&self, key: &str) -> bool {
        match &self.value {
            Value::Map(pairs) => pairs
                .iter()
                .any(|p| matches!(&p.key.value, Value::Scalar(s) if s.text == key)),
            _ => false,
        }
    }

    fn count(&self) -> usize {
        match &self.value {
            Value::Scalar(_) => 1,
            Value::Seq(items) => 1 + items.iter().map(Node::count).sum::<usize>(),
            Value::Map(pairs) => {
                1 + pairs
                    .iter()
                    .map(|p| p.key.count() + p.value.count())
                    .sum::<usize>()
            }
        }
    }
}

/// Parses the file's single document. `None` when it is empty or not YAML (then a diagnostic
/// says why).
pub fn load(file: &SourceFile, diags: &mut Diagnostics) -> Option<Node> {
    let mut builder = Builder {
        file,
        stack: Vec::new(),
        anchors: HashMap::new(),
        nodes: 0,
        root: None,
        documents: 0,
    };
    let mut parser = Parser::new(&file.text);
    loop {
        match parser.next_event() {
            Ok(Some(event)) => {
                if let Err(diag) = builder.event(event) {
                    diags.push(*diag);
                    return None;
                }
            }
            Ok(None) => return builder.root,
            Err(err) => {
                diags.push(syntax_diag(file, &err));
                return None;
            }
        }
    }
}

enum Frame {
    Seq {
        start: Mark,
        flow: bool,
        anchor: Option<String>,
        items: Vec<Node>,
    },
    Map {
        start: Mark,
        flow: bool,
        anchor: Option<String>,
        pairs: Vec<Pair>,
        key: Option<Node>,
    },
}

struct Builder<'f> {
    file: &'f SourceFile,
    stack: Vec<Frame>,
    /// Anchor name → the anchored node and its node count.
    anchors: HashMap<String, (Node, usize)>,
    nodes: usize,
    root: Option<Node>,
    documents: usize,
}

impl Builder<'_> {
    fn span(&self, start: Mark, end: Mark) -> Span {
        Span::new(self.file.id, start.index, end.index)
    }

    fn error(&self, start: Mark, end: Mark, message: &str, label: &str) -> Diag {
        Diag::error(codes::YAML_ERROR, message).at(self.span(start, end), label)
    }

    fn event(&mut self, event: Event) -> Result<(), Box<Diag>> {
        let Event { kind, start, end } = event;
        match kind {
            EventKind::StreamStart | EventKind::StreamEnd | EventKind::DocumentEnd => Ok(()),
            EventKind::DocumentStart => {
                self.documents += 1;
                if self.documents > 1 {
                    return Err(Box::new(
                        self.error(
                            start,
                            end,
                            "a route file holds one YAML document",
                            "a second document starts here",
                        )
                        .help(
                            "remove the `---`, or split the routes into two files in one directory",
                        ),
                    ));
                }
                Ok(())
            }
            EventKind::Alias { anchor } => {
                let Some((node, count)) = self.anchors.get(&anchor) else {
                    return Err(Box::new(self.error(
                        start,
                        end,
                        &format!("unknown anchor `*{anchor}`"),
                        "no `&{anchor}` before this",
                    )));
                };
                let (mut node, count) = (node.clone(), *count);
                self.budget(count, start, end)?;
                node.span = self.span(start, end);
                self.complete(node, None);
                Ok(())
            }
            EventKind::Scalar {
                value,
                style,
                anchor,
                tag,
            } => {
                self.budget(1, start, end)?;
                let style = match tag.as_deref() {
                    None => style,
                    Some("!" | "tag:yaml.org,2002:str") => Style::Quoted,
                    Some(t) if is_core_tag(t) => style,
                    Some(t) => return Err(Box::new(self.unsupported_tag(t, start, end))),
                };
                let node = Node {
                    value: Value::Scalar(Scalar { text: value, style }),
                    span: self.span(start, end),
                };
                self.complete(node, anchor);
                Ok(())
            }
            EventKind::SequenceStart { .. } | EventKind::MappingStart { .. } => {
                let is_seq = matches!(kind, EventKind::SequenceStart { .. });
                let (EventKind::SequenceStart { anchor, tag, flow }
                | EventKind::MappingStart { anchor, tag, flow }) = kind
                else {
                    return Ok(());
                };
                if let Some(t) = tag.as_deref().filter(|t| !is_core_tag(t)) {
                    return Err(Box::new(self.unsupported_tag(t, start, end)));
                }
                if self.stack.len() >= MAX_DEPTH {
                    return Err(Box::new(self.error(
                        start,
                        end,
                        "the YAML is nested too deeply",
                        "nested more than 64 levels here",
                    )));
                }
                self.budget(1, start, end)?;
                self.stack.push(if is_seq {
                    Frame::Seq {
                        start,
                        flow,
                        anchor,
                        items: Vec::new(),
                    }
                } else {
                    Frame::Map {
                        start,
                        flow,
                        anchor,
                        pairs: Vec::new(),
                        key: None,
                    }
                });
                Ok(())
            }
            EventKind::SequenceEnd | EventKind::MappingEnd => {
                if let Some(frame) = self.stack.pop() {
                    self.close(frame, end);
                }
                Ok(())
            }
        }
    }

    fn budget(&mut self, count: usize, start: Mark, end: Mark) -> Result<(), Box<Diag>> {
        self.nodes = self.nodes.saturating_add(count);
        if self.nodes > MAX_NODES {
            return Err(Box::new(
                self.error(
                    start,
                    end,
                    "the YAML expands to too many values",
                    "the file grows past the limit here",
                )
                .help("aliases (`*name`) copy their anchored value; avoid nesting them"),
            ));
        }
        Ok(())
    }

    fn unsupported_tag(&self, tag: &str, start: Mark, end: Mark) -> Diag {
        self.error(
            start,
            end,
            &format!("the YAML tag `{tag}` means nothing to mcp2"),
            "tagged here",
        )
        .help("remove the tag; quote a value to make it a string")
    }

    fn close(&mut self, frame: Frame, end: Mark) {
        let (value, start, flow, anchor, last) = match frame {
            Frame::Seq {
                start,
                flow,
                anchor,
                items,
            } => {
                let last = items.last().map(|n| n.span);
                (Value::Seq(items), start, flow, anchor, last)
            }
            Frame::Map {
                start,
                flow,
                anchor,
                pairs,
                ..
            } => {
                let last = pairs.last().map(Pair::span);
                (Value::Map(pairs), start, flow, anchor, last)
            }
        };
        // A block collection ends where its last entry does (libyaml's end mark sits at the next
        // token, possibly lines later); a flow one at its closing bracket.
        let span = match (flow, last) {
            (false, Some(last)) => self.span(start, start).to(last),
            (false, None) => self.span(start, start),
            (true, _) => self.span(start, end),
        };
        self.complete(Node { value, span }, anchor);
    }

    fn complete(&mut self, mut node: Node, anchor: Option<String>) {
        if let Some(anchor) = anchor {
            let count = node.count();
            self.anchors.insert(anchor, (node.clone(), count));
        }
        match self.stack.last_mut() {
            None => self.root = Some(node),
            Some(Frame::Seq { items, .. }) => items.push(node),
            Some(Frame::Map { pairs, key, .. }) => match key.take() {
                None => *key = Some(node),
                Some(k) => {
                    // A left-out value (`url:`) has an empty span somewhere after the colon;
                    // point at its key instead, which is what the user sees as "the setting".
                    if node.is_null() && node.span.is_empty() {
                        node.span = k.span;
                    }
                    pairs.push(Pair {
                        key: k,
                        value: node,
                    });
                }
            },
        }
    }
}

fn is_core_tag(tag: &str) -> bool {
    matches!(
        tag.strip_prefix("tag:yaml.org,2002:"),
        Some("str" | "int" | "bool" | "float" | "null" | "map" | "seq")
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::SourceSet;

    fn load_text(text: &str) -> (Option<Node>, Diagnostics) {
        let mut set = SourceSet::new();
        let id = set.add("t.yaml", text);
        let mut diags = Diagnostics::new();
        let node = load(set.get(id).unwrap(), &mut diags);
        (node, diags)
    }

    fn text_of(text: &str, span: Span) -> &str {
        &text[span.start as usize..span.end as usize]
    }

    #[test]
    fn spans_cover_keys_values_and_block_mappings() {
        let text = "servers:\n  a:\n    url: 'x'\n\n# trailing\n";
        let (root, diags) = load_text(text);
        assert!(diags.is_empty());
        let Value::Map(top) = root.unwrap().value else {
            panic!()
        };
        assert_eq!(text_of(text, top[0].key.span), "servers");
        let Value::Map(servers) = &top[0].value.value else {
            panic!()
        };
        assert_eq!(text_of(text, servers[0].value.span), "url: 'x'");
    }

    #[test]
    fn left_out_value_points_at_its_key() {
        let text = "a:\nb: 1\n";
        let (root, _) = load_text(text);
        let Value::Map(pairs) = root.unwrap().value else {
            panic!()
        };
        assert!(pairs[0].value.is_null());
        assert_eq!(text_of(text, pairs[0].value.span), "a");
    }

    #[test]
    fn aliases_copy_the_anchored_value() {
        let (root, diags) = load_text("a: &h {x: 1}\nb: *h\n");
        assert!(diags.is_empty());
        let Value::Map(pairs) = root.unwrap().value else {
            panic!()
        };
        assert_eq!(pairs[0].value.value, pairs[1].value.value);
    }

    #[test]
    fn alias_bombs_stop_at_the_budget() {
        let mut text = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..8 {
            let p = i - 1;
            text.push_str(&format!("a{i}: &a{i} [*a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}]\n"));
        }
        let (root, diags) = load_text(&text);
        assert!(root.is_none());
        assert!(diags.iter().any(|d| d.message.contains("too many values")));
    }

    #[test]
    fn a_tab_gets_a_line_column_span_and_help() {
        let text = "servers:\n\tgithub: {}\n";
        let (root, diags) = load_text(text);
        assert!(root.is_none());
        let d = diags.iter().next().unwrap();
        assert_eq!(d.code, codes::YAML_ERROR);
        assert_eq!(d.primary.as_ref().unwrap().span.start, 9);
        assert!(d.help.as_deref().unwrap().contains("tab"), "{d:?}");
    }

    #[test]
    fn a_second_document_is_an_error() {
        let (_, diags) = load_text("a: 1\n---\nb: 2\n");
        assert!(
            diags
                .iter()
                .any(|d| d.message.contains("one YAML document"))
        );
    }
}
