//! `mcp2 convert FILE.yaml`: print the equivalent `.mcproute`.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use super::output::{err, out, print_diagnostics};
use super::{EXIT_FINDINGS, EXIT_OK, EXIT_USAGE};
use crate::diag::Diagnostics;
use crate::source::{SourceKind, SourceSet};
use crate::syntax::{parse_file, print::print};

#[derive(Debug, Args)]
pub struct ConvertArgs {
    /// The YAML route file to convert (`.yaml` or `.yml`).
    pub file: PathBuf,
}

pub fn run(args: ConvertArgs) -> ExitCode {
    let ConvertArgs { file } = args;
    if SourceKind::of(&file) != Some(SourceKind::Yaml) {
        err(format!(
            "error: {} is not a YAML route file: convert reads a .yaml or .yml file\n",
            file.display()
        ));
        return ExitCode::from(EXIT_USAGE);
    }
    let sources = match SourceSet::load(&file) {
        Ok(s) => s,
        Err(e) => {
            err(format!("error: {e}\n"));
            return ExitCode::from(EXIT_USAGE);
        }
    };
    let mut diags = Diagnostics::new();
    let asts: Vec<_> = sources
        .files()
        .iter()
        .map(|f| parse_file(f, &mut diags))
        .collect();
    print_diagnostics(&diags, &sources);
    if diags.has_errors() {
        return ExitCode::from(EXIT_FINDINGS);
    }
    for ast in &asts {
        out(print(ast));
    }
    ExitCode::from(EXIT_OK)
}
