//! `mcp2 schema`: print the JSON Schema of the YAML route format, for editors.
//!
//! The schema is generated from the types in [`crate::syntax::yaml::schema`]; the copy shipped
//! in `schema/mcp2.schema.json` is the same text (a test keeps it so).

use std::process::ExitCode;

use clap::Args;

use super::EXIT_OK;
use super::output::out;

#[derive(Debug, Args)]
pub struct SchemaArgs {}

pub fn run(args: SchemaArgs) -> ExitCode {
    let SchemaArgs {} = args;
    out(crate::syntax::yaml::schema::json_text());
    ExitCode::from(EXIT_OK)
}
