//! `mcp2 completions SHELL`: print a completion script for bash, zsh or fish.
//!
//! Generated from the same clap definition that parses the arguments, so completions never
//! drift from the real subcommands and flags.

use std::process::ExitCode;

use clap::{Args, CommandFactory, ValueEnum};

use super::output::out;
use super::{Cli, EXIT_OK};

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell to complete in.
    #[arg(value_enum)]
    pub shell: Shell,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Shell {
    /// `source <(mcp2 completions bash)`, or save under /etc/bash_completion.d/.
    Bash,
    /// Save as `_mcp2` in a directory of your `$fpath`.
    Zsh,
    /// Save as ~/.config/fish/completions/mcp2.fish.
    Fish,
}

pub fn run(args: CompletionsArgs) -> ExitCode {
    out(script(args.shell));
    ExitCode::from(EXIT_OK)
}

/// The completion script for `shell`.
pub fn script(shell: Shell) -> String {
    let shell = match shell {
        Shell::Bash => clap_complete::Shell::Bash,
        Shell::Zsh => clap_complete::Shell::Zsh,
        Shell::Fish => clap_complete::Shell::Fish,
    };
    let mut buf = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "mcp2", &mut buf);
    String::from_utf8_lossy(&buf).into_owned()
}
