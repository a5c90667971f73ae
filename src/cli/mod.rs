//! The command line: the only place that renders diagnostics and picks exit codes (to be written).

use std::process::ExitCode;

pub fn main() -> ExitCode {
    ExitCode::SUCCESS
}

pub mod serve;

/// Colour and Unicode only on a terminal.
pub fn render_options() -> crate::diag::RenderOptions {
    use std::io::IsTerminal;
    let tty = std::io::stderr().is_terminal();
    crate::diag::RenderOptions {
        color: tty,
        unicode: tty,
        width: 100,
    }
}
