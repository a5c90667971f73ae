//! Front-ends: source text → [`ast::File`].
//!
//! Two languages lower into one AST: `.mcproute` (the pest grammar in `grammar/mcproute.pest`,
//! [`mcproute`]) and the YAML format of the original spec ([`yaml`]). [`print`] turns an AST back
//! into canonical `.mcproute` text (`mcp2 convert`). Mistakes are pushed into [`Diagnostics`] and
//! parsing goes on where it can. Nothing outside this module sees pest or YAML types.

pub mod ast;
pub mod mcproute;
pub mod print;
pub mod yaml;

use crate::diag::Diagnostics;
use crate::source::{SourceFile, SourceKind};

/// Parses one file by its extension. Files of unknown kind yield an empty AST (the loader only
/// admits known kinds).
pub fn parse_file(file: &SourceFile, diags: &mut Diagnostics) -> ast::File {
    match file.kind() {
        Some(SourceKind::Mcproute) => mcproute::parse(file, diags),
        Some(SourceKind::Yaml) => yaml::parse(file, diags),
        None => ast::File::default(),
    }
}
