//! Source files and positions.
//!
//! Owns [`SourceSet`] (every file a route set was read from, by [`FileId`]), the small `Copy`
//! [`Span`] that every AST node and plan rule carries, and [`Spanned<T>`], whose equality and
//! hash ignore the span so that the AST of a `.mcproute` file and of the equivalent YAML compare
//! equal. It knows nothing about the route language itself.

use std::fmt;
use std::hash::{Hash, Hasher};
use std::ops::Deref;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use miette::{NamedSource, SourceSpan};

/// Index of a file in a [`SourceSet`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct FileId(pub u32);

/// A byte range in one source file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Span {
    pub file: FileId,
    pub start: u32,
    pub end: u32,
}

impl Span {
    pub fn new(file: FileId, start: usize, end: usize) -> Self {
        let clamp = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
        Self {
            file,
            start: clamp(start),
            end: clamp(end.max(start)),
        }
    }

    /// A span covering both `self` and `other` (same file assumed).
    pub fn to(self, other: Span) -> Span {
        Span {
            file: self.file,
            start: self.start.min(other.start),
            end: self.end.max(other.end),
        }
    }

    pub fn len(&self) -> usize {
        (self.end - self.start) as usize
    }

    pub fn is_empty(&self) -> bool {
        self.end == self.start
    }
}

impl From<Span> for SourceSpan {
    fn from(span: Span) -> Self {
        SourceSpan::new((span.start as usize).into(), span.len())
    }
}

/// A value with the place it was written. Equality, ordering and hashing ignore the span.
#[derive(Clone, Copy)]
pub struct Spanned<T> {
    pub node: T,
    pub span: Span,
}

impl<T> Spanned<T> {
    pub fn new(node: T, span: impl Into<Span>) -> Self {
        Self {
            node,
            span: span.into(),
        }
    }

    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Spanned<U> {
        Spanned {
            node: f(self.node),
            span: self.span,
        }
    }

    pub fn as_ref(&self) -> Spanned<&T> {
        Spanned {
            node: &self.node,
            span: self.span,
        }
    }
}

impl<T> Deref for Spanned<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.node
    }
}

impl<T: PartialEq> PartialEq for Spanned<T> {
    fn eq(&self, other: &Self) -> bool {
        self.node == other.node
    }
}

impl<T: Eq> Eq for Spanned<T> {}

impl<T: Hash> Hash for Spanned<T> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.node.hash(state)
    }
}

impl<T: fmt::Debug> fmt::Debug for Spanned<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.node.fmt(f)
    }
}

impl<T: fmt::Display> fmt::Display for Spanned<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.node.fmt(f)
    }
}

/// The span of an AST node. It compares equal to every other `NodeSpan` and hashes to nothing, so
/// ASTs that differ only in where they were written (a YAML file and its `.mcproute` conversion)
/// compare equal with the derived `PartialEq`. Derefs to the [`Span`].
#[derive(Clone, Copy, Default)]
pub struct NodeSpan(pub Span);

impl PartialEq for NodeSpan {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl Eq for NodeSpan {}

impl Hash for NodeSpan {
    fn hash<H: Hasher>(&self, _: &mut H) {}
}

impl fmt::Debug for NodeSpan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}..{}", self.0.start, self.0.end)
    }
}

impl Deref for NodeSpan {
    type Target = Span;
    fn deref(&self) -> &Span {
        &self.0
    }
}

impl From<Span> for NodeSpan {
    fn from(span: Span) -> Self {
        NodeSpan(span)
    }
}

impl From<NodeSpan> for Span {
    fn from(span: NodeSpan) -> Self {
        span.0
    }
}

/// One loaded source file.
#[derive(Debug, Clone)]
pub struct SourceFile {
    pub id: FileId,
    /// The path as the user named it (relative paths stay relative, for readable diagnostics).
    pub path: PathBuf,
    pub text: Arc<str>,
}

impl SourceFile {
    /// The language of this file, from its extension.
    pub fn kind(&self) -> Option<SourceKind> {
        SourceKind::of(&self.path)
    }

    /// 1-based line and column of a byte offset.
    pub fn line_col(&self, offset: u32) -> (u32, u32) {
        let offset = (offset as usize).min(self.text.len());
        let before = &self.text[..floor_char_boundary(&self.text, offset)];
        let line = before.matches('\n').count() as u32 + 1;
        let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) as u32 + 1;
        (line, col)
    }

    /// Byte offset of a 1-based line and column (clamped to the file).
    pub fn offset_of(&self, line: usize, col: usize) -> usize {
        let mut offset = 0;
        for (i, l) in self.text.split_inclusive('\n').enumerate() {
            if i + 1 == line {
                let within: usize = l
                    .chars()
                    .take(col.saturating_sub(1))
                    .map(char::len_utf8)
                    .sum();
                return offset + within;
            }
            offset += l.len();
        }
        self.text.len()
    }

    pub fn named_source(&self) -> NamedSource<Arc<str>> {
        NamedSource::new(self.path.display().to_string(), self.text.clone())
    }
}

fn floor_char_boundary(s: &str, mut i: usize) -> usize {
    while i > 0 && !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// The two route languages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourceKind {
    Mcproute,
    Yaml,
}

impl SourceKind {
    pub fn of(path: &Path) -> Option<SourceKind> {
        match path.extension()?.to_str()? {
            "mcproute" => Some(SourceKind::Mcproute),
            "yaml" | "yml" => Some(SourceKind::Yaml),
            _ => None,
        }
    }
}

/// Every file of one route set. Cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct SourceSet {
    files: Vec<SourceFile>,
}

/// Why a route path could not be read.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("cannot read {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path} is not a .mcproute, .yaml or .yml file")]
    UnknownKind { path: PathBuf },
    #[error("{path} holds no .mcproute, .yaml or .yml files")]
    EmptyDir { path: PathBuf },
}

impl SourceSet {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a file from memory (tests, benchmarks, `convert`).
    pub fn add(&mut self, path: impl Into<PathBuf>, text: impl Into<Arc<str>>) -> FileId {
        let id = FileId(self.files.len() as u32);
        self.files.push(SourceFile {
            id,
            path: path.into(),
            text: text.into(),
        });
        id
    }

    /// Loads one file, or every route file directly inside a directory (sorted by name, so the
    /// order of declarations, and hence of diagnostics, is stable).
    pub fn load(path: &Path) -> Result<SourceSet, LoadError> {
        let mut set = SourceSet::new();
        let io = |source| LoadError::Io {
            path: path.to_path_buf(),
            source,
        };
        if path.is_dir() {
            let mut entries: Vec<PathBuf> = std::fs::read_dir(path)
                .map_err(io)?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.is_file() && SourceKind::of(p).is_some())
                .collect();
            entries.sort();
            if entries.is_empty() {
                return Err(LoadError::EmptyDir {
                    path: path.to_path_buf(),
                });
            }
            for file in entries {
                let text = std::fs::read_to_string(&file).map_err(|source| LoadError::Io {
                    path: file.clone(),
                    source,
                })?;
                set.add(file, text);
            }
        } else {
            if SourceKind::of(path).is_none() {
                return Err(LoadError::UnknownKind {
                    path: path.to_path_buf(),
                });
            }
            let text = std::fs::read_to_string(path).map_err(io)?;
            set.add(path, text);
        }
        Ok(set)
    }

    pub fn get(&self, id: FileId) -> Option<&SourceFile> {
        self.files.get(id.0 as usize)
    }

    pub fn files(&self) -> &[SourceFile] {
        &self.files
    }

    /// `path:line:col` of a span, for traces and logs.
    pub fn location(&self, span: Span) -> Location {
        match self.get(span.file) {
            Some(file) => {
                let (line, col) = file.line_col(span.start);
                Location {
                    file: file.path.display().to_string().into(),
                    line,
                    col,
                }
            }
            None => Location {
                file: "<unknown>".into(),
                line: 0,
                col: 0,
            },
        }
    }
}

/// A human-readable position (`routes/main.mcproute:12:3`), kept in the plan for `explain`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize)]
pub struct Location {
    pub file: Arc<str>,
    pub line: u32,
    pub col: u32,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.file, self.line, self.col)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_col_counts_from_one() {
        let mut set = SourceSet::new();
        let id = set.add("a.mcproute", "ab\ncd\n");
        let file = set.get(id).unwrap();
        assert_eq!(file.line_col(0), (1, 1));
        assert_eq!(file.line_col(4), (2, 2));
        assert_eq!(file.offset_of(2, 2), 4);
    }

    #[test]
    fn spanned_equality_ignores_span() {
        let a = Spanned::new("x", Span::new(FileId(0), 0, 1));
        let b = Spanned::new("x", Span::new(FileId(1), 5, 9));
        assert_eq!(a, b);
    }
}
