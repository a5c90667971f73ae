//! AST → canonical `.mcproute` text (to be written).

use super::ast;

pub fn print(_file: &ast::File) -> String {
    String::new()
}
