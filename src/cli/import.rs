//! `mcp2 import FILE`: print the routes equivalent to a client's `mcpServers` file.
//!
//! The routes go to stdout (what `mcp2 convert` would print for the same servers), everything
//! the user should know to stderr: renamed servers, fields not carried over with their JSON
//! path, and the environment variables that now hold the secrets the file had in plain text.
//! Exit codes as for `check`: 0 imported (notes allowed), 1 some server could not be imported
//! or the file is not a server list (nothing is printed then), 2 the file cannot be read.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, ValueEnum};

use super::output::{err, out};
use super::{EXIT_FINDINGS, EXIT_OK, EXIT_USAGE};
use crate::import::{self, emit};
use crate::syntax::print::print;

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// The client's configuration: `claude_desktop_config.json`, `~/.cursor/mcp.json`,
    /// `.vscode/mcp.json`, or any file with an `mcpServers` (or VS Code `servers`) object.
    pub file: PathBuf,
    /// The language of the printed routes.
    #[arg(long, value_enum, default_value_t = Format::Mcproute)]
    pub format: Format,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// `.mcproute` text.
    Mcproute,
    /// The YAML route format.
    Yaml,
}

pub fn run(args: ImportArgs) -> ExitCode {
    let ImportArgs { file, format } = args;
    let text = match std::fs::read_to_string(&file) {
        Ok(t) => t,
        Err(e) => {
            err(format!("error: cannot read {}: {e}\n", file.display()));
            return ExitCode::from(EXIT_USAGE);
        }
    };
    let imported = match import::import(&text) {
        Ok(i) => i,
        Err(e) => {
            err(format!("error: {}: {e}\n", file.display()));
            return ExitCode::from(EXIT_FINDINGS);
        }
    };
    for note in &imported.notes {
        err(format!("{note}\n"));
    }
    if imported.has_errors() {
        return ExitCode::from(EXIT_FINDINGS);
    }
    if !imported.variables.is_empty() {
        let names: Vec<&str> = imported.variables.iter().map(|(v, _)| v.as_str()).collect();
        err(format!(
            "note: {} had secrets written in it; set these environment variables where mcp2 runs: {}\n",
            file.display(),
            names.join(" ")
        ));
    }
    let referenced = referenced_variables(&imported);
    if !referenced.is_empty() {
        err(format!(
            "note: the routes also read these environment variables, as the client did: {}\n",
            referenced.join(" ")
        ));
    }
    out(match format {
        Format::Mcproute => print(&emit::ast(&imported.servers)),
        Format::Yaml => emit::yaml(&imported.servers),
    });
    ExitCode::from(EXIT_OK)
}

/// Variables the client's own references (`${env:HOME}`) now read, besides the secrets.
fn referenced_variables(imported: &import::Imported) -> Vec<String> {
    let mut found: Vec<String> = Vec::new();
    let values = imported
        .servers
        .iter()
        .flat_map(|s| s.env.iter().chain(&s.headers).map(|(_, v)| v.as_str()));
    for value in values {
        let mut rest = value;
        while let Some(start) = rest.find("${") {
            let after = &rest[start + 2..];
            let Some(end) = after.find('}') else { break };
            let name = after[..end].split(":-").next().unwrap_or_default();
            let secret = imported.variables.iter().any(|(v, _)| v == name);
            if !name.is_empty() && !secret && !found.iter().any(|f| f == name) {
                found.push(name.to_string());
            }
            rest = &after[end + 1..];
        }
    }
    found
}
