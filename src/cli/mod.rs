//! The command line: parses arguments, runs one subcommand, renders reports, picks the exit code.
//!
//! This is the only module that prints diagnostics or decides exit codes; the stages below it
//! return values ([`crate::check::Compiled`], [`crate::diag::Diagnostics`]). One module per
//! subcommand; `output` holds what they share (how to draw reports, the plan summary).
//!
//! Exit codes, for every subcommand: 0 success (warnings allowed), 1 the routes have errors,
//! 2 usage errors (bad arguments, unreadable paths).

mod admin_token;
mod check;
mod completions;
mod convert;
mod explain;
mod import;
mod login;
mod output;
pub mod progress;
mod schema;
mod serve;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Success; warnings may have been printed.
pub const EXIT_OK: u8 = 0;
/// The routes have errors.
pub const EXIT_FINDINGS: u8 = 1;
/// Bad arguments, or a path that cannot be read.
pub const EXIT_USAGE: u8 = 2;

/// mcp2: a production MCP gateway.
///
/// mcp2 aggregates many MCP servers (stdio, Streamable HTTP, legacy HTTP+SSE) behind one
/// endpoint, filtering, renaming and rate-limiting what each audience sees. Routes are written in
/// `.mcproute` files (or the YAML format) and compiled into one checked plan.
#[derive(Debug, Parser)]
#[command(
    name = "mcp2",
    version,
    after_help = "Exit status: 0 when everything is fine (warnings allowed), 1 when the routes have errors, 2 on usage errors and unreadable paths."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check route files and report every problem at once.
    ///
    /// Reads one route file or every `.mcproute`, `.yaml` and `.yml` file of a directory, compiles
    /// them together, prints every error and warning with its file, line and column, then a short
    /// summary of what would be served. Exits 1 if there is any error.
    Check(check::CheckArgs),
    /// Print the `.mcproute` equivalent of a YAML route file.
    ///
    /// The converted routes go to stdout, problems in the YAML to stderr. Like `caddy adapt`: a
    /// way to move a YAML configuration to the `.mcproute` language.
    Convert(convert::ConvertArgs),
    /// Run the gateway on a set of routes.
    ///
    /// Compiles the routes (refusing to start if they have errors), connects to every upstream in
    /// the background, and serves the endpoints over Streamable HTTP on the routes' `listen`
    /// address (default 127.0.0.1:8210), or one client over stdin/stdout with `--stdio`. Stops on
    /// SIGINT/SIGTERM: in-flight requests finish (bounded), stdio upstreams are stopped.
    Serve(serve::ServeArgs),
    /// Explain how a request is routed, and why.
    ///
    /// Reads the same compiled plan the server runs and prints, step by step: the endpoint and
    /// profile chosen (and which `when` condition matched), every rule consulted with its
    /// file:line, the deciding rule, the upstream and the name sent to it, the headers injected
    /// (values redacted), the timeout and rate limits in force, and whether the answer comes
    /// from cache. Offline by default; `--live` connects to the upstreams, `--server URL` asks a
    /// running mcp2.
    Explain(explain::ExplainArgs),
    /// Print the routes equivalent to a client's `mcpServers` JSON file.
    ///
    /// Reads the server list of Claude Desktop, Cursor or VS Code (`mcpServers`, or VS Code's
    /// `servers`) and prints the same servers as `.mcproute` (or YAML with `--format yaml`) on
    /// stdout. Secrets written into the file become `${VAR}` references; which variables to set,
    /// renamed servers and fields mcp2 has no use for are reported on stderr.
    Import(import::ImportArgs),
    /// Log in to an upstream that acts for a user (`auth oauth authorization-code`).
    ///
    /// Finds the upstream's authorization server (or uses the configured `issuer`), registers a
    /// client when none is configured and the server allows it, prints the authorization URL
    /// (PKCE, state and resource included) and waits for the browser's redirect on
    /// 127.0.0.1. The tokens go to the upstream's token file (mode 0600), where `mcp2 serve`
    /// reads and renews them.
    Login(login::LoginArgs),
    /// Print the JSON Schema of the YAML route format.
    ///
    /// Point your editor's YAML language server at it (`# yaml-language-server: $schema=…`) to
    /// get validation and completion while writing routes.
    Schema(schema::SchemaArgs),
    /// Print a shell completion script (bash, zsh or fish).
    Completions(completions::CompletionsArgs),
}

/// Runs mcp2 with the process's arguments.
pub fn main() -> ExitCode {
    match Cli::try_parse() {
        Ok(cli) => run(cli),
        Err(e) => {
            // clap prints help and version to stdout (exit 0) and usage errors to stderr.
            let _ = e.print();
            ExitCode::from(if e.use_stderr() { EXIT_USAGE } else { EXIT_OK })
        }
    }
}

pub fn run(cli: Cli) -> ExitCode {
    let Cli { command } = cli;
    match command {
        Command::Check(args) => check::run(args),
        Command::Convert(args) => convert::run(args),
        Command::Serve(args) => serve::run(args),
        Command::Explain(args) => explain::run(args),
        Command::Import(args) => import::run(args),
        Command::Login(args) => login::run(args),
        Command::Schema(args) => schema::run(args),
        Command::Completions(args) => completions::run(args),
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    #[test]
    fn the_cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }
}
