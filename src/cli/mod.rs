//! The command line: the only place that renders diagnostics and picks exit codes (to be written).

use std::process::ExitCode;

pub fn main() -> ExitCode {
    ExitCode::SUCCESS
}
