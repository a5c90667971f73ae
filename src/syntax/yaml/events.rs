//! A safe, owned stream of YAML parse events with byte positions.
//!
//! `yaml_serde` parses with libyaml (the `libyaml-rs` crate) but keeps its event API private and
//! its `Value` carries no positions, so this module drives the very same parser directly and
//! hands out owned [`Event`]s whose [`Mark`]s point into the input. It owns the only `unsafe`
//! code of the YAML front-end; it knows nothing about mcp2's format.

use std::borrow::Cow;
use std::ffi::CStr;
use std::marker::PhantomData;
use std::mem::MaybeUninit;

use libyaml_rs as sys;

/// A position in the input: byte offset plus 0-based line and column (in characters).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Mark {
    pub index: usize,
    pub line: usize,
    pub column: usize,
}

impl From<sys::yaml_mark_t> for Mark {
    fn from(m: sys::yaml_mark_t) -> Self {
        let conv = |n: u64| usize::try_from(n).unwrap_or(usize::MAX);
        Mark {
            index: conv(m.index),
            line: conv(m.line),
            column: conv(m.column),
        }
    }
}

/// How a scalar was written: only plain scalars can be numbers, booleans or null.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    Plain,
    Quoted,
    Block,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventKind {
    StreamStart,
    StreamEnd,
    DocumentStart,
    DocumentEnd,
    Alias {
        anchor: String,
    },
    Scalar {
        value: String,
        style: Style,
        anchor: Option<String>,
        tag: Option<String>,
    },
    SequenceStart {
        anchor: Option<String>,
        tag: Option<String>,
        flow: bool,
    },
    SequenceEnd,
    MappingStart {
        anchor: Option<String>,
        tag: Option<String>,
        flow: bool,
    },
    MappingEnd,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    pub kind: EventKind,
    pub start: Mark,
    pub end: Mark,
}

/// libyaml's description of why the text is not YAML.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{problem}")]
pub struct SyntaxError {
    /// What went wrong (`found character that cannot start any token`).
    pub problem: String,
    pub mark: Mark,
    /// What the parser was doing, and where that began (`while scanning a quoted scalar`).
    pub context: Option<(String, Mark)>,
}

/// A libyaml parser over borrowed text. Stops for good after the first error or the stream end.
pub struct Parser<'input> {
    /// Boxed because libyaml keeps a pointer to the parser inside itself (string input), so it
    /// must never move.
    sys: Box<MaybeUninit<sys::yaml_parser_t>>,
    initialised: bool,
    done: bool,
    _input: PhantomData<&'input [u8]>,
}

impl<'input> Parser<'input> {
    pub fn new(input: &'input str) -> Self {
        let mut sys = Box::new(MaybeUninit::<sys::yaml_parser_t>::uninit());
        let ptr = sys.as_mut_ptr();
        // SAFETY: `ptr` points to writable memory for a parser; `yaml_parser_initialize` zeroes
        // and sets it up. The input outlives the parser (`'input`) and is never mutated, and the
        // boxed parser never moves, so the pointers libyaml stores stay valid.
        let initialised = unsafe {
            let ok = sys::yaml_parser_initialize(ptr).ok;
            if ok {
                sys::yaml_parser_set_encoding(ptr, sys::YAML_UTF8_ENCODING);
                sys::yaml_parser_set_input_string(ptr, input.as_ptr(), input.len() as u64);
            }
            ok
        };
        Parser {
            sys,
            initialised,
            done: !initialised,
            _input: PhantomData,
        }
    }

    /// The next event, `Ok(None)` after the stream end, or the syntax error that ends the stream.
    pub fn next_event(&mut self) -> Result<Option<Event>, SyntaxError> {
        if !self.initialised {
            return Err(SyntaxError {
                problem: "the YAML parser could not start (out of memory)".into(),
                mark: Mark::default(),
                context: None,
            });
        }
        if self.done {
            return Ok(None);
        }
        let ptr = self.sys.as_mut_ptr();
        let mut raw = MaybeUninit::<sys::yaml_event_t>::uninit();
        // SAFETY: the parser is initialised and has not failed before (`done` is set on the
        // first error). On success `raw` is a fully written event that we read, copy out of and
        // delete exactly once; its pointers are valid until `yaml_event_delete`.
        unsafe {
            if sys::yaml_parser_parse(ptr, raw.as_mut_ptr()).fail {
                self.done = true;
                return Err(error_of(&*ptr));
            }
            let event = raw.as_mut_ptr();
            let converted = convert(&*event);
            sys::yaml_event_delete(event);
            if converted.kind == EventKind::StreamEnd {
                self.done = true;
            }
            Ok(Some(converted))
        }
    }
}

impl Drop for Parser<'_> {
    fn drop(&mut self) {
        if self.initialised {
            // SAFETY: initialised above and deleted only here, once.
            unsafe { sys::yaml_parser_delete(self.sys.as_mut_ptr()) }
        }
    }
}

/// Reads a NUL-terminated libyaml string; `None` for a null pointer.
///
/// # Safety
/// `ptr` is null or points to a NUL-terminated string that lives while this runs.
unsafe fn c_string(ptr: *const u8) -> Option<String> {
    if ptr.is_null() {
        return None;
    }
    // SAFETY: non-null and NUL-terminated per this function's contract.
    let s = unsafe { CStr::from_ptr(ptr.cast()) };
    Some(s.to_string_lossy().into_owned())
}

/// # Safety
/// `parser` is an initialised parser whose last call failed.
unsafe fn error_of(parser: &sys::yaml_parser_t) -> SyntaxError {
    // SAFETY: libyaml sets `problem` and `context` to static strings or null.
    let problem = unsafe { c_string(parser.problem.cast()) }
        .unwrap_or_else(|| "the YAML parser failed without saying why".into());
    let context = unsafe { c_string(parser.context.cast()) };
    SyntaxError {
        problem,
        mark: parser.problem_mark.into(),
        context: context.map(|c| (c, parser.context_mark.into())),
    }
}

/// # Safety
/// `event` was just filled by a successful `yaml_parser_parse`.
unsafe fn convert(event: &sys::yaml_event_t) -> Event {
    // SAFETY (all union reads below): libyaml writes the union member named by `type_`, and the
    // anchor/tag/value pointers it holds are null or valid until the event is deleted.
    let kind = unsafe {
        match event.type_ {
            sys::YAML_STREAM_START_EVENT | sys::YAML_NO_EVENT => EventKind::StreamStart,
            sys::YAML_STREAM_END_EVENT => EventKind::StreamEnd,
            sys::YAML_DOCUMENT_START_EVENT => EventKind::DocumentStart,
            sys::YAML_DOCUMENT_END_EVENT => EventKind::DocumentEnd,
            sys::YAML_ALIAS_EVENT => EventKind::Alias {
                anchor: c_string(event.data.alias.anchor).unwrap_or_default(),
            },
            sys::YAML_SCALAR_EVENT => {
                let s = event.data.scalar;
                let bytes: Cow<'_, [u8]> = if s.value.is_null() {
                    Cow::Borrowed(&[])
                } else {
                    Cow::Borrowed(std::slice::from_raw_parts(s.value, s.length as usize))
                };
                EventKind::Scalar {
                    value: String::from_utf8_lossy(&bytes).into_owned(),
                    style: match s.style {
                        sys::YAML_PLAIN_SCALAR_STYLE | sys::YAML_ANY_SCALAR_STYLE => Style::Plain,
                        sys::YAML_LITERAL_SCALAR_STYLE | sys::YAML_FOLDED_SCALAR_STYLE => {
                            Style::Block
                        }
                        _ => Style::Quoted,
                    },
                    anchor: c_string(s.anchor),
                    tag: c_string(s.tag),
                }
            }
            sys::YAML_SEQUENCE_START_EVENT => {
                let s = event.data.sequence_start;
                EventKind::SequenceStart {
                    anchor: c_string(s.anchor),
                    tag: c_string(s.tag),
                    flow: s.style == sys::YAML_FLOW_SEQUENCE_STYLE,
                }
            }
            sys::YAML_SEQUENCE_END_EVENT => EventKind::SequenceEnd,
            sys::YAML_MAPPING_START_EVENT => {
                let s = event.data.mapping_start;
                EventKind::MappingStart {
                    anchor: c_string(s.anchor),
                    tag: c_string(s.tag),
                    flow: s.style == sys::YAML_FLOW_MAPPING_STYLE,
                }
            }
            _ => EventKind::MappingEnd,
        }
    };
    Event {
        kind,
        start: event.start_mark.into(),
        end: event.end_mark.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn events(text: &str) -> Result<Vec<Event>, SyntaxError> {
        let mut parser = Parser::new(text);
        let mut out = Vec::new();
        while let Some(e) = parser.next_event()? {
            out.push(e);
        }
        Ok(out)
    }

    #[test]
    fn scalar_marks_are_byte_offsets_including_quotes() {
        let text = "é: \"x y\"\n";
        let evs = events(text).unwrap();
        let scalars: Vec<_> = evs
            .iter()
            .filter(|e| matches!(e.kind, EventKind::Scalar { .. }))
            .map(|e| &text[e.start.index..e.end.index])
            .collect();
        assert_eq!(scalars, ["é", "\"x y\""]);
    }

    #[test]
    fn unclosed_quote_reports_where_it_began() {
        let err = events("a: \"open\nb: c\n").unwrap_err();
        assert!(err.problem.contains("end of stream"), "{err:?}");
        let (context, start) = err.context.unwrap();
        assert!(context.contains("quoted scalar"), "{context}");
        assert_eq!((start.line, start.column), (0, 3));
    }
}
